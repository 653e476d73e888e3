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


def test_reconcile_screen(make_reconcile_app, snap_compare) -> None:
    """Every account: findings grouped by kind, the first one highlighted with both sides' records."""
    from tests.tui.test_reconcile import finished

    async def reconcile_all(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+r")
        await finished(pilot)
        await pilot.press("down", "down", "down", "down")  # the duplicate credit: its extra entries

    app = make_reconcile_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=reconcile_all)
