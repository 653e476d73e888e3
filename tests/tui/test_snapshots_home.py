"""What the agent sees at 80x24: the home screen, the refund cause picker and the refund dialog with a part."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.tui.test_home import home_app, loaded  # noqa: F401  (a fixture)


def test_home_screen(home_app, snap_compare) -> None:  # noqa: F811
    """T-1002's Apple deadline first, flags by rule, Apple never synced and Google failed: both stale."""

    async def home(pilot: Pilot[None]) -> None:
        await loaded(pilot)

    assert snap_compare(home_app, terminal_size=(80, 24), run_before=home)


def test_refund_cause_picker(make_app, snap_compare) -> None:
    from tests.tui.test_refund import open_panel

    async def pick(pilot: Pilot[None]) -> None:
        await open_panel(pilot, "acc_0000", "pur_0001")
        await pilot.press("c", "down")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=pick)


def test_refund_dialog_with_a_part(make_app, snap_compare) -> None:
    from tests.tui.test_goodwill import paste
    from tests.tui.test_refund import open_panel

    async def fill(pilot: Pilot[None]) -> None:
        await open_panel(pilot, "acc_0000", "pur_0001")
        await pilot.press("a")
        pilot.app.focused.value = "0.50"  # type: ignore[union-attr]
        await pilot.press("tab")
        await paste(pilot, "charged twice the same day")

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=fill)
