"""The ticket conversation at 80x24: a reply from a macro that solves the ticket (through the outbox), an internal
note, taking a ticket and the "my tickets" queue; refusals in the editor write nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import func, select
from textual.widgets import Select

from supportdesk.db.engine import read_session
from supportdesk.db.models import Ticket, TicketMessage
from supportdesk.tui.app import SupportDeskApp
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reply import Picker, ReplyScreen
from supportdesk.tui.screens.tickets import TicketsScreen
from tests.tui.test_app import SIZE, settle
from tests.tui.test_reconcile import notes, text_of, type_into
from tests.tui.test_tickets import open_from_list, rows


def with_outbox(app: SupportDeskApp, tmp_path: Path) -> Path:
    path = tmp_path / "outbox.jsonl"
    app.state.settings.outbox_path = path
    return path


def messages(engine) -> int:
    with read_session(engine) as s:
        return s.exec(select(func.count()).select_from(TicketMessage)).one()


async def test_reply_from_a_macro_solves_the_ticket(make_app, tui_engine, tmp_path) -> None:
    app = make_app()
    outbox = with_outbox(app, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        ticket = await open_from_list(pilot, "T-1001")
        await pilot.press("m")
        assert isinstance(app.screen, Picker)
        await pilot.press("down", "down", "enter")  # cashout-held, coins-credited, goodwill
        await settle(pilot)
        editor = app.screen
        assert isinstance(editor, ReplyScreen) and editor.macro == "goodwill"
        assert "your balance is now 70 coins" in editor.body and editor.body.endswith("tester")
        editor.query_one("#rp-status", Select).value = "solved"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Send this reply to @user0 on T-1001 and solve it?" in text_of(app.screen, "#text")
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is ticket and ticket.ticket.status == "solved"
        assert any("Reply sent to the outbox" in n for n in notes(app))
        assert "── reply tester" in text_of(ticket, "#tk-subject") and "· sent" in text_of(ticket, "#tk-subject")
        await pilot.press("y")  # copy the reply (OSC 52)
        assert app.clipboard.startswith("Hi @user0")
    line = json.loads(outbox.read_text())
    assert line["ticket"] == "T-1001" and line["to"] == "user0@example.com" and line["author"] == "tester"


async def test_note_an_empty_one_refused_and_a_macro_from_the_palette(make_app, tui_engine, tmp_path) -> None:
    app = make_app()
    with_outbox(app, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        ticket = await open_from_list(pilot, "T-1002")
        await pilot.press("n")
        await pilot.press("ctrl+s")  # nothing typed: refused in the editor
        assert isinstance(app.screen, ReplyScreen)
        assert "empty" in text_of(app.screen, "#rp-error") and messages(tui_engine) == 0
        await type_into(pilot, "Debt from the refund.\nDo not credit again.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is ticket
        conversation = text_of(ticket, "#tk-subject")
        assert "── internal note tester" in conversation and "Do not credit again." in conversation

        await pilot.press("ctrl+p", *"Macro: cashout")  # the palette lists every macro while a ticket is open
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReplyScreen) and app.screen.macro == "cashout-held"
        assert "Hi @cleo," in app.screen.body
        await pilot.press("escape")
        assert app.screen is ticket
    assert messages(tui_engine) == 1


async def test_take_then_my_tickets(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        ticket = await open_from_list(pilot, "T-1002")
        await pilot.press("t")
        await settle(pilot)
        assert ticket.ticket.assignee == "tester" and "@tester" in text_of(ticket, "#tk-head")
        await pilot.press("escape")
        await settle(pilot)
        tickets = app.screen
        assert isinstance(tickets, TicketsScreen)
        await pilot.press("m")
        await settle(pilot)
        assert rows(tickets, "#tl-table") == ["T-1002"]
        assert "assigned to you" in text_of(tickets, "#tl-status")
        assert tickets.query_one("#tl-status").size.height == 2  # wrapped at 80 columns, "Enter opens" not cut
        await pilot.press("m")
        await settle(pilot)
        assert rows(tickets, "#tl-table") == ["T-1001", "T-1002"]
    with read_session(tui_engine) as s:
        assert s.get(Ticket, "T-1002").assignee == "tester"


async def test_status_pending_from_the_ticket(make_app, tui_engine) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        ticket = await open_from_list(pilot, "T-1002")
        await pilot.press("s")
        assert isinstance(app.screen, Picker)
        await pilot.press("enter")  # the first choice other than open: pending
        await pilot.pause()
        await type_into(pilot, "asked for the receipt")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is ticket and ticket.ticket.status == "pending"
