"""Apple's 12-hour consumption-request deadline where the agent looks at 80x24: first in the ticket list with the
time left (overdue in red), on the ticket, and on the account's Tickets tab."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from supportdesk.db.engine import write_session
from supportdesk.db.models import ConsumptionRequest
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.tickets import TicketScreen, TicketsScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.tui.test_app import SIZE, settle
from tests.tui.test_reconcile import text_of
from tests.tui.test_tickets import rows


def ask(engine: Engine, ticket_id: str, account_id: str, txn: str, left: timedelta) -> None:
    """Apple's consumption request under the ticket, due in `left` (negative: past)."""
    due = datetime.now(UTC) + left
    with write_session(engine) as s:
        s.add(ConsumptionRequest(store_transaction_id=txn, ticket_id=ticket_id, account_id=account_id,
                                 requested_at=due - timedelta(hours=12), answer_due_at=due))


def cell_text(screen: object, selector: str, row: int, column: int) -> tuple[str, str]:
    value = screen.query_one(selector, KeyedTable).get_cell_at((row, column))  # type: ignore[attr-defined]
    return value.plain, str(value.style)


async def test_the_list_puts_the_soonest_deadline_first(tui_engine, make_app) -> None:
    ask(tui_engine, "T-1002", "acc_0003", "2000000123456789", -timedelta(minutes=20))
    ask(tui_engine, "T-1001", "acc_0000", "2000000000000001", timedelta(hours=5, minutes=30))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TicketsScreen)
        assert rows(screen, "#tl-table") == ["T-1002", "T-1001"]  # newest first would be T-1001 first
        overdue, style = cell_text(screen, "#tl-table", 0, 1)
        assert overdue.startswith("overdue 2") and overdue.endswith("m") and "red" in style
        assert cell_text(screen, "#tl-table", 1, 1)[0].startswith("due 5h2")
        assert "2 store deadlines first ·" in text_of(screen, "#tl-status")[:78]  # seen at 80 columns

        past = datetime.now(UTC) - timedelta(minutes=1)  # as if 5h31m passed
        screen.tickets[1] = replace(screen.tickets[1], answer_due_at=past)
        screen.tick()  # the redraw a timer makes every half minute
        assert cell_text(screen, "#tl-table", 1, 1)[0] == "overdue 1m"


async def test_the_ticket_and_its_account_show_the_deadline(tui_engine, make_app) -> None:
    ask(tui_engine, "T-1002", "acc_0003", "2000000123456789", timedelta(hours=2, minutes=10))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TicketScreen(app.backend, "T-1002"))  # type: ignore[attr-defined]
        await settle(pilot)
        line = text_of(app.screen, "#tk-due")
        assert line.startswith("App Store consumption request: answer by 20") and " UTC · due 2h" in line
        assert len(line) <= 78  # one line at 80 columns
        soon = datetime.now(UTC) + timedelta(minutes=9, seconds=30)
        app.screen.ticket = replace(app.screen.ticket, answer_due_at=soon)
        app.screen.tick()
        assert text_of(app.screen, "#tk-due").endswith("· due 9m")

        await pilot.press("o", "5")
        await settle(pilot)
        account = app.screen
        assert isinstance(account, AccountScreen)
        due, style = cell_text(account, "#tickets-table", 0, 1)
        assert due.startswith("due 2h") and "bold" in style  # under three hours: bold


async def test_a_ticket_without_a_store_question_shows_no_deadline(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TicketScreen(app.backend, "T-1002"))  # type: ignore[attr-defined]
        await settle(pilot)
        assert not app.screen.query_one("#tk-due").display
