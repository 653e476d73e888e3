"""Goodwill credit (+) and status change (S) on the account screen at 80x24: dialog, confirmation, worker, reload."""

from __future__ import annotations

from sqlmodel import func, select
from textual import events
from textual.pilot import Pilot
from textual.widgets import Select

from supportdesk.db.engine import read_session
from supportdesk.db.models import Account, AuditRecord, LedgerEntry
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.goodwill import CreditScreen, StatusScreen
from tests.tui.test_refund import SIZE, settle, text_of


async def paste(pilot: Pilot[None], text: str) -> None:
    await pilot.app._post_message(events.Paste(text))  # noqa: SLF001
    await pilot.pause()


async def focused_on(pilot: Pilot[None], widget_id: str, tries: int = 200) -> None:
    """Wait until the dialog just asked for is up with `widget_id` focused (a paste goes to the focused widget;
    under load the dialog's mount can trail the key that asked for it)."""
    for _ in range(tries):
        focused = pilot.app.focused
        if focused is not None and focused.id == widget_id:
            return
        await pilot.pause(0.01)
    raise AssertionError(f"#{widget_id} never got the focus")


async def open_credit(pilot: Pilot[None], coins: str, reason: str, ticket: str = "") -> None:
    pilot.app.open_account("acc_0000")  # type: ignore[attr-defined]
    await settle(pilot)
    await pilot.press("plus")
    await focused_on(pilot, "coins")
    assert isinstance(pilot.app.screen, CreditScreen)
    await paste(pilot, coins)
    await pilot.press("tab")
    await paste(pilot, reason)
    if ticket:
        await pilot.press("tab")
        await paste(pilot, ticket)


async def until(pilot: Pilot[None], ready, tries: int = 200) -> None:
    """Settle until `ready()`: a chain of dialog, worker, callback and reload takes several turns under load."""
    for _ in range(tries):
        if ready():
            return
        await settle(pilot)
    raise AssertionError("the app never got there")


def counts(engine) -> tuple[int, int]:
    with read_session(engine) as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one() for t in (LedgerEntry, AuditRecord))


async def test_credit_confirms_then_posts_and_reloads(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_credit(pilot, "700", "late coins", "T-1001")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # checked in a worker first
        assert app.screen.text == "Credit 700 coins to @user0 (acc_0000), reason 'late coins', ticket T-1001?"
        await pilot.press("n")  # back to the dialog as typed
        await until(pilot, lambda: isinstance(app.screen, CreditScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: bool(app._notifications) and isinstance(app.screen, AccountScreen)
                    and "770" in text_of(app.screen, "#balances"))
        assert app._notifications and "Credited 700 coins to @user0: balance 770" in list(app._notifications)[-1].message
        assert "770" in text_of(app.screen, "#balances")
    with read_session(tui_engine) as s:
        assert s.get(Account, "acc_0000").coin_balance == 770
        (grant,) = s.exec(select(LedgerEntry).where(LedgerEntry.kind == "grant")).all()
        assert (grant.amount, grant.actor, grant.reason, grant.ticket_id) == (700, "tester", "late coins", "T-1001")


async def test_bad_coins_stay_in_the_dialog(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_credit(pilot, "-5", "x")
        await pilot.press("enter")
        assert isinstance(app.screen, CreditScreen)
        assert "whole number" in text_of(app.screen, "#reason-error")


async def test_agent_over_the_limit_is_refused_before_the_confirmation_and_nothing_moves(make_app, tui_engine) -> None:
    app = make_app()
    before = counts(tui_engine)
    async with app.run_test(size=SIZE) as pilot:
        await open_credit(pilot, "6000", "goodwill")
        await pilot.press("enter")
        await settle(pilot)
        # no confirmation to say yes to: the dialog is back as typed, with the refusal
        assert isinstance(app.screen, CreditScreen)
        error = text_of(app.screen, "#reason-error")
        assert "lead role" in error and "5,000" in error
        assert app.screen.query_one("#coins").value == "6000"
        assert app.screen.query_one("#reason").value == "goodwill"
        app.screen.query_one("#coins").value = "500"  # within the limit: on to the confirmation
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.text.startswith("Credit 500 coins to @user0")
        await pilot.press("n")
        assert isinstance(app.screen, CreditScreen)
        await pilot.press("escape")
    assert counts(tui_engine) == before


async def test_status_limit_then_lead_only_suspend_refused(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0000")
        await settle(pilot)
        await pilot.press("S")
        assert isinstance(app.screen, StatusScreen)
        assert app.screen.query_one("#move", Select).value == "limit"  # the likely move for an active account
        await pilot.press("tab")
        await paste(pilot, "chargeback pending")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.text == "Limit @user0 (acc_0000), reason 'chargeback pending', no ticket?"
        await pilot.press("y")
        await settle(pilot)
        assert "active -> limited" in list(app._notifications)[-1].message
        assert "limited" in str(app.screen.query_one("#who").render())
        before = counts(tui_engine)
        await pilot.press("S")
        app.screen.query_one("#move", Select).value = "suspend"
        await pilot.press("tab")
        await paste(pilot, "fraud")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, StatusScreen) and "lead role" in text_of(app.screen, "#reason-error")
    assert counts(tui_engine) == before
    with read_session(tui_engine) as s:
        assert s.get(Account, "acc_0000").status == "limited"


async def test_the_worked_ticket_starts_the_dialog_only_on_its_own_account(make_app, tui_engine) -> None:
    from textual.widgets import Input, Label

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.work_ticket("T-1002", "@cleo · My coins went negative", "acc_0003")
        for account, ticket, label in (
                ("acc_0000", "", "Ticket (optional; you work T-1002, another account's):"),
                ("acc_0003", "T-1002", "Ticket (the one you are working; optional):")):
            app.open_account(account)
            await settle(pilot)
            await pilot.press("plus")
            assert isinstance(app.screen, CreditScreen)
            assert app.screen.query_one("#ticket", Input).value == ticket
            assert label in [str(w.render()) for w in app.screen.query(Label)]
            await pilot.press("escape")
            await pilot.press("escape")
            await settle(pilot)
