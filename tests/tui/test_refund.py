"""The refund panel as an agent uses it: open it on a purchase, read the decision, apply with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import select
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static

from supportdesk.db.engine import read_session
from supportdesk.db.models import Account, LedgerEntry, Purchase, Refund
from supportdesk.stores.errors import StoreUnavailable
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.error import ErrorScreen
from supportdesk.tui.screens.reason import ReasonScreen
from supportdesk.tui.screens.refund import RefundScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.service.test_refunds import FakeWeb

SIZE = (80, 24)
NOW = datetime(2026, 10, 3, tzinfo=UTC)  # two days after @user0's web purchase


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_panel(pilot: Pilot[None], account_id: str, purchase_id: str) -> RefundScreen:
    app = pilot.app
    app.backend.refund_now = lambda: NOW  # type: ignore[attr-defined, method-assign]
    app.open_account(account_id)  # type: ignore[attr-defined]
    await settle(pilot)
    account = app.screen
    assert isinstance(account, AccountScreen)
    table = account.query_one("#purchases-table", KeyedTable)
    table.move_cursor(row=table.get_row_index(purchase_id))
    await pilot.press("f")
    await settle(pilot)
    assert isinstance(app.screen, RefundScreen)
    return app.screen


async def test_apply_a_web_refund_with_a_reason_and_a_confirmation(make_app, tui_engine) -> None:
    web = FakeWeb()
    app = make_app(clients={"web": web})
    async with app.run_test(size=SIZE) as pilot:
        panel = await open_panel(pilot, "acc_0000", "pur_0001")
        decision = text_of(panel, "#rf-decision")
        assert "refund" in decision and "web.full" in decision and "0.99 USD" in decision
        assert "claw back 70" in text_of(panel, "#rf-clawback")

        await pilot.press("a")
        assert isinstance(app.screen, ReasonScreen)
        assert app.focused.value == "0.99"  # type: ignore[union-attr]  # the amount: all of it unless changed
        await pilot.press("tab")
        box = app.focused
        assert isinstance(box, Input)
        box.post_message(events.Paste("double charge"))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)  # decided again with what was typed
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.text == ("Refund 0.99 USD to the card of @user0 for pur_0001 and claw back 70 coins "
                                   "from @user0; reason 'double charge'?")
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is panel and panel.changed
        assert "Refunded: 0.99 USD" in text_of(panel, "#rf-status")
        assert "any.already_refunded" in text_of(panel, "#rf-decision")  # reloaded after the refund
        assert web.calls[0]["amount"] == 99 and len(web.calls) == 1

        await pilot.press("a")  # nothing more to apply: the binding is off
        assert app.screen is panel
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
    with read_session(tui_engine) as s:
        assert s.get(Purchase, "pur_0001").status == "refunded"
        assert s.get(Account, "acc_0000").coin_balance == 0
        (entry,) = s.exec(select(LedgerEntry).where(LedgerEntry.kind == "refund_clawback",
                                                    LedgerEntry.ref == "pur_0001")).all()
        assert (entry.amount, entry.actor, entry.reason) == (-70, "tester", "double charge")


async def test_store_down_shows_the_error_and_keeps_the_request(make_app, tui_engine) -> None:
    app = make_app(clients={"web": FakeWeb(fail=StoreUnavailable("web", "The processor is unavailable"))})
    async with app.run_test(size=SIZE) as pilot:
        panel = await open_panel(pilot, "acc_0000", "pur_0001")
        await pilot.press("a", "tab")
        app.focused.post_message(events.Paste("customer asked"))  # type: ignore[union-attr]
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert "stays requested" in app.screen.text
        await pilot.press("escape")
        assert "Not applied" in text_of(panel, "#rf-status")
    with read_session(tui_engine) as s:
        assert s.exec(select(Refund)).one().status == "requested"
        assert s.get(Purchase, "pur_0001").status == "completed"


async def test_a_refunded_apple_purchase_is_denied_and_cannot_be_applied(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        panel = await open_panel(pilot, "acc_0003", "pur_0002")
        assert "deny" in text_of(panel, "#rf-decision") and "any.already_refunded" in text_of(panel, "#rf-decision")
        await pilot.press("a")
        assert app.screen is panel


async def test_refund_needs_a_purchase_tab(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0000")  # type: ignore[attr-defined]
        await settle(pilot)
        await pilot.press("2", "f")  # the ledger tab
        assert isinstance(app.screen, AccountScreen)
        assert any("Purchases tab" in n.message for n in app._notifications)
