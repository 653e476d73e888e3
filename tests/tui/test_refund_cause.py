"""The refund panel: the cause picked from a list, a part of the amount, the window counted to the worked ticket,
and a lead's override (explained to agents)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select
from textual import events
from textual.widgets import Input

from supportdesk.db.engine import read_session
from supportdesk.db.identity import Identity
from supportdesk.db.models import AuditRecord, Refund
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.refund import RefundScreen
from supportdesk.tui.screens.refund_dialogs import CausePicker, RefundDialog
from tests.service.test_refunds import FakeWeb
from tests.tui.test_refund import SIZE, open_panel, settle, text_of

LATE = datetime(2026, 12, 1, tzinfo=UTC)  # two months after @user0's web purchase, outside the 14-day window


async def pick_cause(pilot, panel: RefundScreen, downs: int) -> None:
    await pilot.press("c")
    assert isinstance(pilot.app.screen, CausePicker)
    await pilot.press(*["down"] * downs, "enter")
    await settle(pilot)
    assert pilot.app.screen is panel


async def fill_refund(pilot, amount: str | None, reason: str) -> None:
    await pilot.press("a")
    assert isinstance(pilot.app.screen, RefundDialog)
    if amount is not None:
        box = pilot.app.focused
        assert isinstance(box, Input)
        box.value = amount
    await pilot.press("tab")
    pilot.app.focused.post_message(events.Paste(reason))
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot)


async def test_a_duplicate_refunded_in_part(make_app, tui_engine) -> None:
    web = FakeWeb()
    app = make_app(clients={"web": web})
    async with app.run_test(size=SIZE) as pilot:
        panel = await open_panel(pilot, "acc_0000", "pur_0001")
        await pick_cause(pilot, panel, 1)
        assert panel.cause == "duplicate" and "Cause: duplicate" in text_of(panel, "#rf-decision")
        await fill_refund(pilot, "0.5", "charged twice the same day")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.text.startswith("Refund 0.50 USD (part of 0.99 USD) to the card of @user0 for pur_0001 "
                                          "and claw back 35 coins")
        await pilot.press("y")
        await settle(pilot)
        assert "Refunded: 0.50 USD" in text_of(panel, "#rf-status")
    assert web.calls[0]["amount"] == 50 and web.calls[0]["reason"] == "duplicate"
    with read_session(tui_engine) as s:
        row = s.exec(select(Refund)).one()
        assert (row.amount_minor, row.coins_clawed, row.reason) == (50, 35, "duplicate")


async def test_an_amount_over_the_refund_is_refused_in_the_dialog(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_panel(pilot, "acc_0000", "pur_0001")
        await fill_refund(pilot, "1.00", "too much")
        assert isinstance(app.screen, RefundDialog)
        assert "at most 0.99 USD" in text_of(app.screen, "#reason-error")
    with read_session(tui_engine) as s:
        assert s.exec(select(Refund)).first() is None


async def test_the_window_counts_to_the_worked_ticket_and_only_a_lead_overrides(make_app, tui_engine) -> None:
    app = make_app(clients={"web": FakeWeb()})
    async with app.run_test(size=SIZE) as pilot:
        panel = await open_panel(pilot, "acc_0000", "pur_0001")
        app.backend.refund_now = lambda: LATE  # type: ignore[method-assign]
        await pilot.press("r")
        await settle(pilot)
        assert "web.window" in text_of(panel, "#rf-decision") and "A lead may override" in text_of(panel, "#rf-decision")
        await pilot.press("o")  # an agent: told why not, nothing changes
        assert not panel.override and any("needs a lead" in n.message for n in app._notifications)

        app.work_ticket("T-1001", "@user0 · Where are my coins?")  # opened when the charge was made
        await pilot.press("r")
        await settle(pilot)
        assert "web.full" in text_of(panel, "#rf-decision") and "T-1001 opened" in text_of(panel, "#rf-decision")
        app.working = None

        app.state.__dict__["identity"] = Identity("tester", "lead", "test", False)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert panel.override and "override of web.window" in text_of(panel, "#rf-decision")
        await fill_refund(pilot, None, "refund the late duplicate")
        assert isinstance(app.screen, ConfirmScreen) and app.screen.text.startswith("Override web.window")
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is panel and "override of web.window" in text_of(panel, "#rf-status")
        assert "any.already_refunded" in text_of(panel, "#rf-decision")
    with read_session(tui_engine) as s:
        record = s.exec(select(AuditRecord).where(AuditRecord.action == "refund.override")).one()
        assert (record.actor, record.reason, record.before["rule"]) == ("tester", "refund the late duplicate",
                                                                         "web.window")
