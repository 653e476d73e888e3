"""A ticket's conversation on both engines: notes, replies through the outbox (once, across a crash), the assignee
and "take it", statuses, and macros filled from the account, the purchase and the last decision."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlmodel import func, select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import AuditRecord, IdempotencyKey, Ticket, TicketMessage
from supportdesk.domain.conversation import macros_from_config
from supportdesk.errors import Conflict, Forbidden, InvalidInput, NotFound
from supportdesk.services import conversation, refund_protocol, tickets
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from supportdesk.services.outbox import FileOutbox
from tests.service.factories import minimal, write_dataset
from tests.service.test_refunds import FakeWeb

ANA = ActionContext("ana", "", "T-1001")
BEN = ActionContext("ben", "", "T-1001")
LEAD = ActionContext("lea", "", "T-1001", role="lead")
NOW = datetime(2026, 10, 5, tzinfo=UTC)


@pytest.fixture
def desk(engine, tmp_path):
    data = minimal()
    data["tickets"][0]["body"] = "I paid 0.99 and got nothing"
    run_import(engine, write_dataset(tmp_path / "ds", data))
    return engine


@pytest.fixture
def outbox(tmp_path) -> FileOutbox:
    return FileOutbox(tmp_path / "out" / "outbox.jsonl")


def counts(engine) -> tuple[int, int, int]:
    with read_session(engine) as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one()  # type: ignore[return-value]
                     for t in (TicketMessage, AuditRecord, IdempotencyKey))


def lines(outbox: FileOutbox) -> list[dict]:
    return [json.loads(x) for x in outbox.path.read_text().splitlines()] if outbox.path.exists() else []


def show(engine) -> dict:
    with read_session(engine) as s:
        return tickets.show(s, "T-1001")["ticket"]


def test_note_reply_and_the_conversation_in_order(desk, outbox):
    with write_session(desk) as s:
        note = conversation.record(s, "t-1001", "note", "  checked the store: paid  ", ANA)
    sent = conversation.reply(desk, "T-1001", "Hi, the coins are there now.", ANA, outbox, status="solved")
    again = conversation.reply(desk, "T-1001", "Hi, the coins are there now.", ANA, outbox, status="solved")
    t = show(desk)
    assert [(m["kind"], m["author"]) for m in t["messages"]] == [("customer", "@user0"), ("note", "ana"),
                                                                 ("reply", "ana")]
    assert t["messages"][1]["body"] == "checked the store: paid" and note["replayed"] is False
    assert t["status"] == "solved" and t["resolved_by"] == "ana"
    assert again["replayed"] is True and again["message"]["message_id"] == sent["message"]["message_id"]
    out = lines(outbox)
    assert len(out) == 1 and out[0]["message_id"] == sent["message"]["message_id"]
    assert (out[0]["to"], out[0]["ticket"], out[0]["account"], out[0]["author"]) == (
        "user0@example.com", "T-1001", "acc_0000", "ana")
    assert t["messages"][2]["sent_at"] is not None
    assert [a["action"] for a in t["actions"]] == ["ticket.note", "ticket.reply", "ticket.status"]


def test_a_crash_after_the_outbox_took_it_does_not_send_twice(desk, outbox):
    """Recorded and handed over, then the process died before marking it sent: the retry finds its line."""
    class Crash(Exception):
        pass

    class DiesAfterSending(FileOutbox):
        def send(self, reply, *, resume=False):
            super().send(reply, resume=resume)
            raise Crash

    with pytest.raises(Crash):
        conversation.reply(desk, "T-1001", "Sorted.", ANA, DiesAfterSending(outbox.path))
    assert show(desk)["messages"][-1]["sent_at"] is None
    done = conversation.reply(desk, "T-1001", "Sorted.", ANA, outbox)
    assert done["replayed"] is True and done["message"]["sent_at"] is not None
    assert len(lines(outbox)) == 1


def test_refusals_write_nothing(desk, outbox):
    before = counts(desk)
    cases = [("", InvalidInput), ("   \n ", InvalidInput), ("x" * 10_001, InvalidInput),
             ("hi \x1b]52;c;aGk=\x07", InvalidInput), ("bidi \u202e", InvalidInput)]
    for body, error in cases:
        with pytest.raises(error) as info, write_session(desk) as s:
            conversation.record(s, "T-1001", "note", body, ANA)
        assert "note" in info.value.message
    with pytest.raises(NotFound), write_session(desk) as s:
        conversation.record(s, "T-9999", "note", "hello", ANA)
    with pytest.raises(InvalidInput, match="closed"), write_session(desk) as s:
        conversation.record(s, "T-1001", "reply", "hello", ANA, status="closed")
    assert counts(desk) == before and not outbox.path.exists()


def test_take_assign_and_my_tickets(desk):
    with write_session(desk) as s:
        took = tickets.assign(s, "T-1001", "ana", ANA)
    with write_session(desk) as s:
        same = tickets.assign(s, "T-1001", "ana", ANA)
    assert took["changed"] and took["ticket"]["assignee"] == "ana" and same["changed"] is False
    with pytest.raises(Forbidden, match="taking T-1001 from ana"), write_session(desk) as s:
        tickets.assign(s, "T-1001", "ben", BEN)
    with write_session(desk) as s:
        tickets.assign(s, "T-1001", "ben", ANA)  # hers to hand on
    with write_session(desk) as s:
        tickets.assign(s, "T-1001", "lea", LEAD)  # a lead takes it from anyone
    with read_session(desk) as s:
        assert [t["ticket_id"] for t in tickets.list_tickets(s, assignee="lea")["tickets"]] == ["T-1001"]
        assert tickets.list_tickets(s, assignee="ana")["tickets"] == []
    assert [a["after"]["assignee"] for a in show(desk)["actions"]] == ["ana", "ben", "lea"]


def test_status_moves_and_who_may_close(desk):
    ctx = replace(ANA, reason="waiting for the receipt")
    with write_session(desk) as s:
        moved = tickets.set_status(s, "T-1001", "waiting", ctx)  # a help desk's word for pending
    with write_session(desk) as s:
        again = tickets.set_status(s, "T-1001", "pending", ctx)
    assert moved["ticket"]["status"] == "pending" and again["changed"] is False
    with pytest.raises(Forbidden), write_session(desk) as s:
        tickets.set_status(s, "T-1001", "closed", ctx)
    with write_session(desk) as s:
        tickets.set_status(s, "T-1001", "on-hold", ctx)
    with write_session(desk) as s:
        tickets.set_status(s, "T-1001", "closed", replace(LEAD, reason="done"))
    with pytest.raises(Conflict, match="closed"), write_session(desk) as s:
        conversation.record(s, "T-1001", "reply", "hello?", ANA)
    assert [a["after"]["status"] for a in show(desk)["actions"]] == ["pending", "on-hold", "closed"]


def test_macros_fill_from_the_account_the_purchase_and_the_refund_decision(desk):
    ctx = ActionContext("ana", "charged by mistake", "T-1001")
    refund_protocol.apply(desk, "pur_0001", ctx, None, {"web": FakeWeb()}, now=NOW)
    with read_session(desk) as s:
        decided = conversation.render_macro(s, "T-1001", "refund-decision", {}, agent="ana")
        credited = conversation.render_macro(s, "T-1001", "goodwill", {}, agent="ana")
    assert "None of the coins were spent, so we refund the full 0.99 USD" in decided["body"]
    assert "purchase of 70 coins on 2026-10-01 (0.99 USD)" in decided["body"] and decided["body"].endswith("ana")
    assert "your balance is now 0 coins" in credited["body"]


def test_macro_refusals_name_the_macro_and_the_placeholder(desk):
    raw = {"typo": {"title": "t", "body": "Hi {handel}"}}
    with read_session(desk) as s:
        with pytest.raises(InvalidInput, match=r"unknown placeholder \{handel\}"):
            conversation.render_macro(s, "T-1001", "typo", raw, agent="ana")
        with pytest.raises(NotFound, match="no macro 'nope'"):
            conversation.render_macro(s, "T-1001", "nope", raw, agent="ana")
        with pytest.raises(InvalidInput, match=r"cannot be filled: .*\{decision\}: no refund decision"):
            conversation.render_macro(s, "T-1001", "refund-decision", raw, agent="ana")
        now = conversation.render_macro(s, "T-1001", "refund-decision", raw, agent="ana", purchase="pur_0001",
                                        now=NOW)
    assert "we refund the full 0.99 USD" in now["body"]
    assert set(macros_from_config(raw)) == {"coins-credited", "refund-decision", "cashout-held", "goodwill", "typo"}


def test_customer_message_reopens_a_pending_ticket(desk):
    with write_session(desk) as s:
        tickets.set_status(s, "T-1001", "pending", replace(ANA, reason="asked for the receipt"))
    with write_session(desk) as s:
        got = conversation.record(s, "T-1001", "customer", "Here is the receipt", ANA)
    assert got["message"]["author"] == "@user0" and got["ticket"]["status"] == "open"
    with read_session(desk) as s:
        assert s.get(Ticket, "T-1001").status == "open"


def test_coins_credited_macro_says_what_the_fix_under_the_ticket_did(engine, tmp_path):
    """A purchase we hold but never credited, fixed under the ticket: {fix} and {balance} come from that fix."""
    from supportdesk.services.reconcile import Scope, apply_one, reconcile

    data = minimal()
    data["ledger"] = []  # pur_0001 was never credited
    data["accounts"][0]["coin_balance"] = 0
    run_import(engine, write_dataset(tmp_path / "ds", data))
    finding = next(f for f in reconcile(engine, Scope(account_id="acc_0000")).findings
                   if f.kind == "uncredited_purchase")
    apply_one(engine, finding, ActionContext("ana", "coins never arrived", "T-1001"))
    with read_session(engine) as s:
        body = conversation.render_macro(s, "T-1001", "coins-credited", {}, agent="ana")["body"]
    assert "We found your purchase pur_0001 and added its 70 coins to your account." in body
    assert "Your balance is now 70 coins." in body


def test_the_file_outbox_ends_a_torn_line_and_skips_what_it_holds(tmp_path):
    from supportdesk.services.outbox import OutboundReply

    box = FileOutbox(tmp_path / "outbox.jsonl")
    box.path.write_text('{"message_id": "msg_torn", "bo')  # a writer died mid-line
    reply = OutboundReply("msg_1", "T-1", "acc_1", "a@example.com", "Hi\nthere", "ana", "2026-11-29T07:00:00Z")
    assert box.send(reply) is True
    assert box.send(reply, resume=True) is False  # a retry after a crash: already there
    text = box.path.read_text().splitlines()
    assert len(text) == 2 and json.loads(text[1])["body"] == "Hi\nthere"
    fresh = FileOutbox(tmp_path / "new" / "outbox.jsonl")
    fresh.send(reply)
    assert fresh.path.stat().st_mode & 0o777 == 0o600  # replies are customers' data: the agent's only
