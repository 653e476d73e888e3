"""Tickets and the audit trail as an agent uses them at 80x24: the list, a ticket, its account; working a ticket
so a reconcile fix carries it; resolving it; an account's trail and the chain's verification; a new ticket."""

from __future__ import annotations

from sqlmodel import select
from textual.pilot import Pilot
from textual.widgets import Input

from supportdesk.db.engine import read_session
from supportdesk.db.models import AuditRecord, LedgerEntry, Ticket
from supportdesk.tui.app import SupportDeskApp
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.audit import AuditScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.new_ticket import NewTicketScreen
from supportdesk.tui.screens.reason import ReasonScreen
from supportdesk.tui.screens.tickets import TicketScreen, TicketsScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from supportdesk.tui.widgets.ticket_bar import TicketBar
from tests.service.test_audit_tickets import tamper
from tests.tui.test_app import SIZE, settle
from tests.tui.test_reconcile import finished, notes, text_of, type_into


def rows(screen: object, selector: str) -> list[str]:
    table = screen.query_one(selector, KeyedTable)  # type: ignore[attr-defined]
    return [str(key.value) for key in table.rows]


async def open_from_list(pilot: Pilot[None], ticket_id: str) -> TicketScreen:
    """Ctrl+T, the cursor to the ticket's row, Enter."""
    await pilot.press("ctrl+t")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TicketsScreen)
    table = screen.query_one("#tl-table", KeyedTable)
    table.move_cursor(row=rows(screen, "#tl-table").index(ticket_id))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen.ticket_id == ticket_id
    return pilot.app.screen


def bar(app: SupportDeskApp) -> str:
    line = app.screen.query_one(TicketBar)
    return str(line.render()) if line.display else ""


async def test_list_open_a_ticket_and_jump_to_its_account(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await settle(pilot)
        tickets = app.screen
        assert isinstance(tickets, TicketsScreen)
        assert rows(tickets, "#tl-table") == ["T-1001", "T-1002"]  # open ones, newest first
        assert "2 unsolved tickets (new, open, pending, on-hold), newest first" in text_of(tickets, "#tl-status")

        await pilot.press("down", "enter")
        await settle(pilot)
        ticket = app.screen
        assert isinstance(ticket, TicketScreen) and ticket.ticket_id == "T-1002"
        head = text_of(ticket, "#tk-head")
        assert "T-1002" in head and "open" in head and "@cleo acc_0003" in head
        assert "My coins went negative" in text_of(ticket, "#tk-subject")
        assert "Nothing done under T-1002 yet" in text_of(ticket, "#tk-actions-head")

        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen) and app.screen.story.account.account_id == "acc_0003"
        await pilot.press("5", "enter")  # the same ticket from the account's Tickets tab: back to its view
        await settle(pilot)
        assert app.screen is ticket and len(app.screen_stack) == 3

        await pilot.press("escape")
        assert app.screen is tickets
        await pilot.press("f", "f", "f")  # new, open, then pending: none
        await settle(pilot)
        assert rows(tickets, "#tl-table") == [] and "0 pending tickets" in text_of(tickets, "#tl-status")


async def test_work_a_ticket_fix_under_it_then_resolve_it(make_reconcile_app, reconcile_engine) -> None:
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        ticket = await open_from_list(pilot, "T-2001")
        await pilot.press("w")
        assert app.working_ticket == "T-2001"
        assert "Working T-2001" in bar(app) and "@user1" in bar(app)

        await pilot.press("o")  # its account, then reconcile it: the fix's reason comes with the ticket
        await settle(pilot)
        assert "Working T-2001" in bar(app)  # on every screen
        await pilot.press("R")
        reconcile = await finished(pilot)
        await pilot.press("f")
        assert isinstance(app.screen, ReasonScreen)
        assert app.screen.query_one("#ticket", Input).value == "T-2001"
        await type_into(pilot, "paid, no coins")
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen) and app.screen.text.endswith("ticket T-2001?")
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is reconcile and reconcile.outcomes[0].replayed is False
        with read_session(reconcile_engine) as s:
            (entry,) = s.exec(select(LedgerEntry).where(LedgerEntry.ref == "pur_0002")).all()
            assert (entry.amount, entry.ticket_id, entry.actor) == (70, "T-2001", "tester")

        await pilot.press("escape", "escape")  # reconcile, account: back on the ticket, the fix listed
        await settle(pilot)
        assert app.screen is ticket
        assert rows(ticket, "#tk-actions") and "1 action under T-2001" in text_of(ticket, "#tk-actions-head")
        assert entry.entry_id in str(ticket.query_one("#tk-actions", KeyedTable).get_row_at(0))

        await pilot.press("x")  # resolve: a note (the ticket is fixed), then the confirmation
        assert isinstance(app.screen, ReasonScreen)
        box = app.screen.query_one("#ticket", Input)
        assert box.value == "T-2001" and box.disabled
        await type_into(pilot, "credited the 70 coins the store charged for")
        await pilot.press("ctrl+s")  # a multi-line note: Enter is a new line
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.text == ("Resolve T-2001 (@user1 · I paid, no coins) with the note "
                                   "'credited the 70 coins the store charged for'?")
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is ticket and "T-2001 solved." in notes(app)
        assert app.working_ticket is None and bar(app) == ""  # a resolved ticket is no longer worked
        assert "solved" in text_of(ticket, "#tk-head")
        assert "2 actions under T-2001" in text_of(ticket, "#tk-actions-head")
        with read_session(reconcile_engine) as s:
            t = s.get(Ticket, "T-2001")
            assert (t.status, t.resolution, t.resolved_by) == \
                ("solved", "credited the 70 coins the store charged for", "tester")
            actions = s.exec(select(AuditRecord.action).where(AuditRecord.ticket_id == "T-2001")
                             .order_by(AuditRecord.seq)).all()
            assert actions == ["ledger.purchase", "ticket.resolve"]
        await pilot.press("x")  # resolved: nothing more to resolve
        assert app.screen is ticket


async def test_account_trail_lists_the_fix_and_verify_finds_an_edited_record(make_reconcile_app,
                                                                              reconcile_engine) -> None:
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0001")
        await settle(pilot)
        await pilot.press("R")
        await finished(pilot)
        await pilot.press("f")
        await type_into(pilot, "paid, no coins")
        await pilot.press("enter", "y")
        await settle(pilot)
        await pilot.press("escape", "a")
        await settle(pilot)
        trail = app.screen
        assert isinstance(trail, AuditScreen)
        assert "Audit trail @user1 acc_0001" in text_of(trail, "#au-head")
        (seq,) = rows(trail, "#au-table")
        cells = [str(c) for c in trail.query_one("#au-table", KeyedTable).get_row(seq)]
        assert cells[2:4] == ["tester", "ledger.purchase"] and cells[5].startswith("+70 coin")
        record = text_of(trail, "#au-record")
        assert "reason paid, no coins" in record and "key reconcile:uncredited_purchase" in record

        await pilot.press("v")
        await settle(pilot)
        assert "Verified: 2 records, the chain is intact." in text_of(trail, "#au-status")  # the import, the fix

        tamper(reconcile_engine, f"UPDATE audit_log SET reason = 'nothing to see' WHERE seq = {int(seq)}")
        await pilot.press("v")
        await settle(pilot)
        assert f"NOT verified: record #{seq}" in text_of(trail, "#au-status")
        assert str(trail.query_one("#au-table", KeyedTable).get_row(seq)[0]) == f"✗{seq}"


async def test_new_ticket_on_an_account(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0002")
        await settle(pilot)
        account = app.screen
        await pilot.press("n")
        assert isinstance(app.screen, NewTicketScreen)
        await pilot.press("enter")  # no subject: asked again
        assert isinstance(app.screen, NewTicketScreen)
        await type_into(pilot, "Gift never arrived")
        await pilot.press("tab", "tab")  # past the category (other)
        await type_into(pilot, "sent a lion yesterday")
        await pilot.press("ctrl+s")  # in the message, Enter is a new line
        await settle(pilot)
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert "Gift never arrived" in text_of(ticket, "#tk-subject")
        with read_session(tui_engine) as s:
            t = s.get(Ticket, ticket.ticket_id)
            assert (t.account_id, t.subject, t.body, t.category, t.status) == \
                ("acc_0002", "Gift never arrived", "sent a lion yesterday", "other", "open")
            audit = s.exec(select(AuditRecord).where(AuditRecord.target == ticket.ticket_id)).one()
            assert (audit.action, audit.actor) == ("ticket.create", "tester")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("5")  # the Tickets tab fills when shown
        assert app.screen is account and ticket.ticket_id in rows(account, "#tickets-table")


async def test_stop_working_with_w_again_or_the_cross(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_from_list(pilot, "T-1002")
        await pilot.press("w")
        assert app.working_ticket == "T-1002"
        await pilot.press("w")
        assert app.working_ticket is None and bar(app) == ""
        await pilot.press("w")
        line = bar(app)
        assert line.endswith("×")
        await pilot.click(TicketBar, offset=(1 + line.index("×"), 0))  # padding 1
        assert app.working_ticket is None and "No longer working T-1002." in notes(app)


async def test_a_dialog_closing_leaves_the_ticket_as_loaded_coming_back_from_its_account_reloads_it(make_app) -> None:
    """A picker or the palette changes nothing by itself (a write it asks for reloads when done): closing one does
    not reload the ticket; its account may have changed it, so coming back from there does."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        ticket = await open_from_list(pilot, "T-1001")
        loads: list[str] = []
        load = ticket.load
        ticket.load = lambda ticket_id: (loads.append(ticket_id), load(ticket_id))  # type: ignore[method-assign]
        await pilot.press("m")  # the macro picker
        await settle(pilot)
        assert app.screen is not ticket
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is ticket and loads == []
        await pilot.press("o")  # its account, then back
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is ticket and loads == ["T-1001"]
        assert "Nothing done under T-1001 yet" in text_of(ticket, "#tk-actions-head")
