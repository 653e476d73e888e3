"""Cashout hold / release / reject and the account at a glance, on both engines: checked before writing, audited,
idempotent, lead-only where a review flag caused the hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from supportdesk.db.engine import make_engine, read_session, write_session
from supportdesk.db.models import Cashout, LedgerEntry, ReviewFlag
from supportdesk.errors import Forbidden, InvalidInput, NotFound
from supportdesk.services import cashouts, goodwill, lookup
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from supportdesk.services.review import hold_cashouts
from tests.conftest import PG_URL
from tests.service.factories import T0, minimal, write_dataset
from tests.service.test_db_roles import team  # noqa: F401  (the fixture: one agent and one lead login)
from tests.service.test_roles import written

AGENT = ActionContext("ana", "payout check", role="agent")
LEAD = ActionContext("lee", "reviewed the gifts", ticket_id="T-1001", role="lead")
FLAG = "gift_laundering:pur_0001"


def creator_dataset() -> dict[str, list[dict[str, Any]]]:
    """minimal() plus @user1 a creator whose cashouts are requested (co_1, co_2), paid (co_3) and held at import
    (co_4); each took its diamonds from the ledger when requested."""
    data = minimal()
    data["accounts"][1].update(kind="creator", diamond_balance=100)
    cash = [("co_1", 3000, 1500, "requested"), ("co_2", 1000, 500, "requested"), ("co_3", 2000, 1000, "paid"),
            ("co_4", 500, 250, "held")]
    data["cashouts"] = [{"cashout_id": c, "creator_id": "acc_0001", "diamonds": d, "amount_minor": m,
                         "currency": "USD", "status": s, "at": T0} for c, d, m, s in cash]
    data["ledger"] += [{"entry_id": "le_gift", "account_id": "acc_0001", "asset": "diamond", "amount": 6600,
                        "kind": "gift_received", "ref": "ev_1", "at": T0, "actor": "system"}]
    data["ledger"] += [{"entry_id": f"le_{c}", "account_id": "acc_0001", "asset": "diamond", "amount": -d,
                        "kind": "cashout", "ref": c, "at": T0, "actor": "system"} for c, d, _, _ in cash]
    return data


@pytest.fixture
def creator(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "ds", creator_dataset()))
    return engine


def status(engine, cashout_id: str) -> Cashout:
    with read_session(engine) as s:
        return s.get(Cashout, cashout_id)


def rows(engine) -> tuple[Any, ...]:
    """Ledger, audit and key rows counted, and every cashout's status: a refusal changes none of them."""
    with read_session(engine) as s:
        return written(engine), sorted((c.cashout_id, c.status, c.status_by) for c in s.exec(select(Cashout)))


def flag_hold(engine, cashout_id: str = "co_1") -> None:
    """What deciding a gift_laundering flag does: the creator's requested cashouts held, naming the flag."""
    with write_session(engine) as s:
        s.add(ReviewFlag(flag_id=FLAG, rule="gift_laundering", account_id="acc_0000", purchase_id="pur_0001",
                         score=80, evidence={"creator_id": "acc_0001"}, created_at=datetime.now(UTC)))
        s.flush()
        hold_cashouts(s, "acc_0001", ActionContext("ana", "laundering confirmed", role="agent"),
                      f"review:{FLAG}:confirm", flag_id=FLAG)


def test_hold_release_hold_again_each_once(creator):
    plan = cashouts.plan_action(creator, "co_1", "hold", AGENT)
    assert cashouts.question(plan) == (
        "Hold cashout co_1 of @user1 (acc_0001): 15.00 USD for 3,000 diamonds is not paid until released. "
        "By ana (agent), reason 'payout check', no ticket?")
    done = cashouts.act(creator, plan, AGENT)
    assert (done["changed"], done["replayed"], status(creator, "co_1").status) == (True, False, "held")
    assert cashouts.act(creator, plan, AGENT)["replayed"] is True  # the same request again: nothing written
    again = cashouts.plan_action(creator, "co_1", "hold", AGENT)
    assert cashouts.act(creator, again, AGENT)["changed"] is False
    released = cashouts.act(creator, cashouts.plan_action(creator, "co_1", "release", AGENT), AGENT)
    assert (released["after"], status(creator, "co_1").status_by) == ("requested", "ana")
    cashouts.act(creator, cashouts.plan_action(creator, "co_1", "hold", AGENT), AGENT)
    held = status(creator, "co_1")
    assert (held.status, held.status_reason, held.hold_flag_id) == ("held", "payout check", None)


def test_reject_gives_the_diamonds_back_once(creator):
    plan = cashouts.plan_action(creator, "co_2", "reject", LEAD)
    assert plan["diamonds_returned"] == 1000
    assert "5.00 USD is never paid; 1,000 diamonds go back to @user1's balance. By lee (lead)" in \
        cashouts.question(plan)
    done = cashouts.act(creator, plan, LEAD)
    assert cashouts.act(creator, plan, LEAD)["replayed"] is True
    with read_session(creator) as s:
        (rev,) = s.exec(select(LedgerEntry).where(LedgerEntry.kind == "reversal")).all()
        assert (rev.amount, rev.reverses, rev.entry_id, rev.ticket_id) == (1000, "le_co_2", done["entry_id"], "T-1001")
        story = lookup.story(s, "acc_0001")
    assert story["balances"]["diamond"] == {"ledger": 1100, "cached": 1100, "drift": 0}
    with pytest.raises(InvalidInput, match="co_2 is rejected"):
        cashouts.plan_action(creator, "co_2", "release", LEAD)


def test_review_hold_needs_a_lead_to_lift(creator):
    flag_hold(creator)
    assert (status(creator, "co_1").hold_flag_id, status(creator, "co_2").hold_flag_id) == (FLAG, FLAG)
    before = rows(creator)
    for action in ("release", "reject"):
        with pytest.raises(Forbidden, match=f"lifting the hold review flag {FLAG}"):
            cashouts.plan_action(creator, "co_1", action, AGENT)
        with pytest.raises(Forbidden):  # the write path checks again: a plan made as a lead is no pass
            cashouts.act(creator, cashouts.plan_action(creator, "co_1", action, LEAD), AGENT)
    assert rows(creator) == before and status(creator, "co_1").status == "held"
    plan = cashouts.plan_action(creator, "co_1", "release", LEAD)
    assert "lifts the hold of review flag gift_laundering:pur_0001. By lee (lead)" in cashouts.question(plan)
    cashouts.act(creator, plan, LEAD)
    assert (status(creator, "co_1").status, status(creator, "co_1").hold_flag_id) == ("requested", None)
    # a hold from the import names no flag: an agent may release it
    cashouts.act(creator, cashouts.plan_action(creator, "co_4", "release", AGENT), AGENT)


@pytest.mark.parametrize(("cashout_id", "action", "ctx", "error"), [
    ("co_3", "release", LEAD, InvalidInput),  # paid
    ("co_3", "hold", LEAD, InvalidInput),
    ("co_404", "hold", LEAD, NotFound),
    ("co_1", "pause", LEAD, InvalidInput),
    ("co_1", "hold", ActionContext("ana", "  "), InvalidInput),
    ("co_1", "hold", ActionContext("ana", "x", ticket_id="T-9999"), NotFound),
])
def test_refusals_write_nothing(creator, cashout_id, action, ctx, error):
    before = rows(creator)
    with pytest.raises(error):
        cashouts.plan_action(creator, cashout_id, action, ctx)
    assert rows(creator) == before


def test_releasing_a_cashout_not_held_writes_nothing(creator):
    before = rows(creator)
    assert cashouts.act(creator, cashouts.plan_action(creator, "co_2", "release", LEAD), LEAD)["changed"] is False
    assert rows(creator) == before


def test_summary_flags_refunds_status_spend_and_cashout_reasons(creator):
    flag_hold(creator)
    goodwill.change_status(creator, goodwill.plan_status(creator, "acc_0001", "limit", LEAD), LEAD)
    with read_session(creator) as s:
        creator_story = lookup.story(s, "acc_0001")
        buyer = lookup.story(s, "acc_0000")
    g = creator_story["summary"]
    assert {k: g["status"][k] for k in ("status", "reason", "by", "source", "ticket_id")} == {
        "status": "limited", "reason": "reviewed the gifts", "by": "lee", "source": "audit", "ticket_id": "T-1001"}
    assert g["cashouts"] == {"held": 3, "paid": 1}
    co_1 = next(c for c in creator_story["cashouts"] if c["cashout_id"] == "co_1")
    assert (co_1["hold_flag_rule"], co_1["status_reason"], co_1["status_by"]) == (
        "gift_laundering", "laundering confirmed", "ana")
    assert buyer["summary"]["status"]["source"] == "import"
    assert [f["rule"] for f in buyer["summary"]["flags"]["open"]] == ["gift_laundering"]
    assert buyer["summary"]["refunds"] == {"refunds": 0, "chargebacks": 0, "disputes": 0}
    assert buyer["summary"]["spend"] == [{"currency": "USD", "purchases": 1, "spent_minor": 99, "refunded_minor": 0,
                                          "spent": "0.99 USD", "refunded": "0.00 USD"}]


def test_ledger_pages_newest_first(creator):
    with read_session(creator) as s:
        first = lookup.ledger_page(s, "acc_0001", limit=3)
        rest = lookup.ledger_page(s, "acc_0001", first["next"], limit=3)
        story = lookup.story(s, "acc_0001")
    ids = [e["entry_id"] for e in first["entries"] + rest["entries"]]
    assert ids == ["le_co_4", "le_co_3", "le_co_2", "le_co_1", "le_gift"] and rest["next"] is None
    assert (story["ledger_total"], story["ledger_next"]) == (5, None)


# --- on PostgreSQL under real roles: the database refuses what the service would ---------------------------------

@pytest.mark.skipif(not PG_URL, reason="database roles need PostgreSQL (SUPPORTDESK_TEST_PG_URL)")
def test_database_refuses_an_agent_lifting_a_review_hold(team):  # noqa: F811
    owner = make_engine(team["owner"])
    run_import_extra(owner)
    flag_hold(owner)
    agent = make_engine(team["agent"])
    forged = ActionContext(team["agent_login"], "creator asked", role="lead")  # a client claiming to be a lead
    plan = cashouts.plan_action(agent, "co_1", "release", forged)
    with pytest.raises(Forbidden, match="the database refused it: .*needs the lead role"):
        cashouts.act(agent, plan, forged)
    with pytest.raises(DBAPIError) as caught, agent.begin() as conn:
        conn.execute(text("UPDATE cashouts SET hold_flag_id = NULL WHERE cashout_id = 'co_1'"))
    assert caught.value.orig.sqlstate == "42501"
    assert status(owner, "co_1").status == "held"
    lead = make_engine(team["lead"])
    me = ActionContext(team["lead_login"], "gifts were genuine", role="lead")
    assert cashouts.act(lead, cashouts.plan_action(lead, "co_1", "release", me), me)["after"] == "requested"
    for engine in (owner, agent, lead):
        engine.dispose()


def run_import_extra(engine) -> None:
    """The team fixture imported minimal(): add the creator's cashouts as the owner would import them."""
    data = creator_dataset()
    with write_session(engine) as s:
        for row in data["cashouts"]:
            s.add(Cashout(**{**row, "at": datetime.now(UTC)}))
