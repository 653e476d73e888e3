"""The purchase screen as an agent uses it: Enter on a purchase row, read its timeline, Esc back to the account."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.pilot import Pilot
from textual.widgets import Static

from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.purchase import PurchaseScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable, PlainTable

SIZE = (80, 24)
NOW = datetime(2026, 10, 3, tzinfo=UTC)


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_purchase(pilot: Pilot[None], account_id: str, purchase_id: str) -> PurchaseScreen:
    app = pilot.app
    app.backend.refund_now = lambda: NOW  # type: ignore[attr-defined, method-assign]
    app.backend.desk.clock = NOW  # type: ignore[attr-defined]
    app.open_account(account_id)  # type: ignore[attr-defined]
    await settle(pilot)
    assert isinstance(app.screen, AccountScreen)
    table = app.screen.query_one("#purchases-table", KeyedTable)
    table.move_cursor(row=table.get_row_index(purchase_id))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, PurchaseScreen)
    return app.screen


async def test_enter_opens_the_purchase_and_esc_returns(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purchase(pilot, "acc_0003", "pur_0002")
        head = str(screen.query_one("#pu-head", Static).render())
        assert "pur_0002" in head and "4.99 USD" in head and "350 coins" in head
        timeline = screen.query_one("#pu-timeline", PlainTable)
        events = [str(timeline.get_row_at(i)[2]) for i in range(timeline.row_count)]
        assert events[0] == "purchase 350 coins, refunded"
        assert "refund_clawback -350 coin" in events
        assert screen.focused is timeline  # keys go to a widget that takes them
        assert "deny" in str(screen.query_one("#pu-summary", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)


async def test_unknown_purchase_shows_the_error_and_stays_usable(make_app) -> None:
    from supportdesk.tui.screens.error import ErrorScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(PurchaseScreen(app.backend, "pur_nope"))  # type: ignore[attr-defined]
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)


async def test_stored_text_in_the_timeline_is_plain(make_app, tui_engine) -> None:
    """A store's notification kind with markup and a control character is shown as typed, never styled."""
    from supportdesk.db.engine import write_session
    from supportdesk.db.models import StoreNotification

    with write_session(tui_engine) as s:
        s.add(StoreNotification(source="apple", notification_id="n-1", kind="[b red]REFUND[/]\x1b[2J",
                                store_transaction_id="2000000123456789", received_at=NOW))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purchase(pilot, "acc_0003", "pur_0002")
        timeline = screen.query_one("#pu-timeline", PlainTable)
        events = [timeline.get_row_at(i)[2] for i in range(timeline.row_count)]
        shown = next(e for e in events if "notification" in str(e))
        assert "[b red]REFUND[/]" in str(shown) and "\x1b" not in str(shown)
        assert not shown.spans  # type: ignore[union-attr]


async def test_keys_lead_into_refund_region_and_audit(make_app) -> None:
    from supportdesk.tui.screens.audit import AuditScreen
    from supportdesk.tui.screens.refund import RefundScreen
    from supportdesk.tui.screens.region import RegionScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purchase(pilot, "acc_0003", "pur_0003")
        for key, kind in (("f", RefundScreen), ("g", RegionScreen), ("a", AuditScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, kind), key
            if kind is RefundScreen:
                assert app.screen.purchase_id == "pur_0003"
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
            assert screen.focused is screen.query_one("#pu-timeline")
