"""What the agent sees at 80x24: one account with a refund clawed back into a debt, and a drift."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.tui.test_app import settle


def test_account_screen(make_app, snap_compare) -> None:
    async def open_cleo(pilot: Pilot[None]) -> None:
        pilot.app.open_account("acc_0003")  # type: ignore[attr-defined]
        await settle(pilot)
        assert pilot.app.screen.story is not None  # type: ignore[attr-defined]

    app = make_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_cleo)
