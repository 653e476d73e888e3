"""`desk.tickets`: a ticket's life through the desk on both engines (a tiny database, the outbox in tmp_path)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from supportdesk.cli.output import to_json
from supportdesk.db.engine import write_session
from supportdesk.db.models import AuditRecord, LedgerEntry
from supportdesk.db.models import Ticket as TicketRow
from supportdesk.db.models import TicketMessage as MessageRow
from supportdesk.desk import Desk
from supportdesk.desk.accounts import EntryRow
from supportdesk.desk.context import AppContext
from supportdesk.desk.ticket_results import Ticket, TicketAction, TicketMessage
from supportdesk.desk.tickets import Preview
from supportdesk.errors import InvalidInput, NotFound
from tests.service.test_desk import account


@pytest.fixture
def desk(db_url: str, tmp_path: Path) -> Desk:
    desk = Desk.open(AppContext(db_url=db_url))
    desk.settings.outbox_path = tmp_path / "outbox.jsonl"
    with write_session(desk.engine) as session:
        session.add(account("acc_1", 0))
    return desk


def test_a_ticket_from_open_to_solved_through_the_desk(desk: Desk) -> None:
    tickets = desk.tickets
    tid = tickets.create("@acc_1", "paid, no coins", "where are my coins", "missing_coins").ticket.ticket_id
    me = desk.ctx.identity.actor
    assert tickets.take(tid).ticket.assignee == me
    assert [t.ticket_id for t in tickets.list(mine=True).tickets] == [tid]
    assert tickets.list(account="@acc_1").to_json()["total"] == 1
    assert tickets.record(tid, "note", "checked the ledger").replayed is False
    preview = tickets.reply(tid, macro="goodwill", dry_run=True)
    assert isinstance(preview, Preview) and preview.to == "acc_1@example.com" and preview.to_json()["dry_run"]
    sent = tickets.reply(tid, "sorry, on it", status="pending")
    assert not isinstance(sent, Preview) and sent.ticket.status == "pending"
    assert json.loads(Path(sent.outbox).read_text().splitlines()[0])["ticket"] == tid
    assert tickets.set_status(tid, "on-hold", "waiting for the processor").changed is True
    assert tickets.resolve(tid, "credited").ticket.status == "solved"
    assert tickets.resolve(tid, "credited").replayed is True
    shown = tickets.show(tid)
    assert [m.kind for m in shown.messages] == ["customer", "note", "reply"]
    assert shown.last_reply is not None and shown.last_reply.body == "sorry, on it"
    assert any(m.name == "goodwill" for m in tickets.macro_list().macros)


def test_a_refused_reply_or_assignment_writes_nothing(desk: Desk) -> None:
    tid = desk.tickets.create("@acc_1", "hello").ticket.ticket_id
    with pytest.raises(InvalidInput, match="one of them"):
        desk.tickets.reply(tid, "text", macro="goodwill")
    with pytest.raises(InvalidInput, match="say who"):
        desk.tickets.assign(tid, None)
    with pytest.raises(NotFound):
        desk.tickets.send("T-9999", "hi")
    assert desk.tickets.show(tid).messages == ()
    assert not desk.settings.outbox.exists()


@pytest.mark.parametrize(("typed", "table", "left_out"), [
    (Ticket, TicketRow, set()), (TicketMessage, MessageRow, {"idempotency_key"}),
    (TicketAction, AuditRecord, {"prev_hash", "hash"}), (EntryRow, LedgerEntry, {"seq"}),
])
def test_the_typed_answers_carry_every_column_of_their_table(typed: type, table: type, left_out: set[str]) -> None:
    """A column added to a table must be added to its desk type too (or left out here, on purpose): the JSON
    the CLI prints is built from the type."""
    assert [f.name for f in fields(typed)] == [c for c in table.model_fields if c not in left_out]


def test_what_the_desk_answers_prints_as_the_services_json(desk: Desk) -> None:
    """The typed answers give back, key for key, what the services answered (the CLI's JSON before the types)."""
    from supportdesk.services import tickets as service

    tid = desk.tickets.create("@acc_1", "paid, no coins", "where are my coins", "missing_coins").ticket.ticket_id
    desk.tickets.record(tid, "note", "checked")
    desk.tickets.send(tid, "on it")
    with write_session(desk.engine) as session:
        assert json.loads(to_json(desk.tickets.show(tid).to_json())) == json.loads(to_json(service.show(session, tid)))
        listed = service.list_tickets(session, status="all")
    assert json.loads(to_json(desk.tickets.list("all").to_json())) == json.loads(to_json(listed))
    solved = desk.tickets.resolve(tid, "credited").to_json()
    assert solved == {**desk.tickets.resolve(tid, "credited").to_json(), "replayed": False}
    assert solved["ticket"]["created_at"].endswith("Z") and solved["ticket"]["status"] == "solved"
