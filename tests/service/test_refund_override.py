"""Refund cause, the window counted to the worked ticket, a lead's override and partial amounts (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import func, select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import AuditRecord, IdempotencyKey, LedgerEntry, Refund, Ticket
from supportdesk.errors import Forbidden, InvalidInput
from supportdesk.services import refund_protocol, refunds
from supportdesk.services.audit import ActionContext
from tests.service import test_refunds
from tests.service.test_refunds import BUYER, CTX, LEAD, NOW, FakeGoogle, FakeWeb, apply, state

world = test_refunds.world  # the same purchases: two web bundles, Google, Apple, a gift to a creator

LATE = datetime(2027, 7, 22, tzinfo=UTC)  # 293 days and 11 hours after the web purchase of 2026-10-01 13:00


def rows(engine) -> tuple[int, ...]:
    with read_session(engine) as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one()
                     for t in (Refund, AuditRecord, IdempotencyKey, LedgerEntry))


def with_ticket(engine, created: str = "2026-10-01T18:00:00Z") -> str:
    with write_session(engine) as s:
        s.add(Ticket(ticket_id="T-5001", account_id=BUYER, subject="charged twice", category="refund_request",
                     status="open", created_at=datetime.fromisoformat(created.replace("Z", "+00:00"))))
    return "T-5001"


def test_the_window_is_counted_to_the_worked_tickets_creation(world):
    ticket = with_ticket(world)
    with read_session(world) as s:
        today = refunds.decide(s, "pur_web", LATE)["decision"]
        worked = refunds.decide(s, "pur_web", LATE, ticket_id=ticket)["decision"]
    assert today["rule"] == "web.window" and "293 days old" in today["explanation"] and today["overridable"]
    assert worked["rule"] == "web.partial_unspent"
    assert worked["counted"]["basis"] == "ticket" and worked["counted"]["end"] == datetime(2026, 10, 1, 18, tzinfo=UTC)
    web = FakeWeb()
    ctx = ActionContext(CTX.actor, "charged twice the same day", ticket)
    out = refund_protocol.apply(world, "pur_web", ctx, None, {"web": web}, now=LATE, cause="duplicate")
    assert out["applied"]["cause"] == "duplicate" and web.calls[0]["reason"] == "duplicate"
    with read_session(world) as s:
        record = s.exec(select(AuditRecord).where(AuditRecord.action == "refund.request")).one()
    assert "T-5001 opened 2026-10-01 18:00" in record.after["window"] and record.after["override"] is False


def test_an_agent_cannot_override_and_nothing_is_written(world):
    before = rows(world)
    web = FakeWeb()
    with pytest.raises(Forbidden, match="overriding the refund policy needs the lead role"):
        refund_protocol.apply(world, "pur_web", CTX, None, {"web": web}, now=LATE, override=True)
    assert rows(world) == before and web.calls == []


def test_a_lead_overrides_the_window_audited_as_an_override(world):
    web = FakeWeb()
    out = refund_protocol.apply(world, "pur_web", LEAD, None, {"web": web}, now=LATE, override=True)
    assert out["decision"]["overridden"] == "web.window" and out["applied"]["overridden"] == "web.window"
    assert web.calls[0]["amount"] == 456 and state(world, "pur_web")["clawbacks"] == [-320]
    with read_session(world) as s:
        record = s.exec(select(AuditRecord).where(AuditRecord.action == "refund.override")).one()
    assert (record.actor, record.reason) == ("lead-1", "card fraud confirmed")
    assert record.before["rule"] == "web.window" and record.after["overridden"] == "web.window"
    again = refund_protocol.apply(world, "pur_web", LEAD, None, {"web": web}, now=LATE, override=True)
    assert again["replayed"] and len(web.calls) == 1


def test_override_of_what_the_policy_allows_or_of_a_fact_is_refused_with_nothing_written(world):
    before = rows(world)
    with pytest.raises(InvalidInput, match="nothing to override"):
        refund_protocol.apply(world, "pur_web", LEAD, None, {"web": FakeWeb()}, now=NOW, override=True)
    with pytest.raises(refunds.RefundDenied, match="not a policy a lead can override"):
        refund_protocol.apply(world, "pur_app", LEAD, None, {"apple": object()}, now=NOW, override=True)
    assert rows(world) == before


def test_a_partial_web_refund_claws_back_coins_in_proportion(world):
    web = FakeWeb()
    out = apply(world, "pur_web", {"web": web}, amount_minor=200)
    assert web.calls[0]["amount"] == 200
    assert out["decision"]["partial_of"] == 456 and out["applied"]["coins_clawed"] == 320 * 200 // 456
    with read_session(world) as s:
        row = s.exec(select(Refund).where(Refund.purchase_id == "pur_web")).one()
    assert (row.amount_minor, row.coins_clawed) == (200, 140)
    assert state(world, "pur_web")["clawbacks"] == [-140]


@pytest.mark.parametrize(("target", "amount", "words"), [
    ("pur_web", 457, "more than the 4.56 USD"), ("pur_web", 0, "more than 0"), ("pur_web", -5, "more than 0"),
    ("pur_goo", 500, "whole orders only"), ("pur_app", 100, "only Apple refunds"),
])
def test_amounts_refused_with_nothing_written(world, target, amount, words):
    before = rows(world)
    with pytest.raises(InvalidInput, match=words):
        apply(world, target, {"web": FakeWeb(), "google": FakeGoogle(), "apple": object()}, amount_minor=amount)
    assert rows(world) == before


def test_the_confirmation_names_the_override_and_the_part(world):
    with read_session(world) as s:
        view = refunds.decide(s, "pur_web", LATE, override=True, amount_minor=200)
    assert refunds.question(view, "late but fair", None, False) == (
        "Override web.window (audited as a lead's override): refund 2.00 USD (part of 4.56 USD) to the card of "
        "@user0 for pur_web and claw back 140 coins from @user0; reason 'late but fair'?")
