"""Goodwill credit and status change services, on both engines: checked before writing, audited, idempotent."""

from __future__ import annotations

import pytest
from sqlmodel import select

from supportdesk.db.engine import read_session
from supportdesk.db.models import Account, AuditRecord, LedgerEntry
from supportdesk.errors import Forbidden, InvalidInput, NotFound
from supportdesk.services import goodwill
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset
from tests.service.test_roles import written

AGENT = ActionContext("ana", "goodwill", role="agent", credit_limit=5000)
LEAD = ActionContext("lee", "goodwill", ticket_id="T-1001", role="lead", credit_limit=5000)


@pytest.fixture
def loaded(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "ds", minimal()))
    return engine


def status_of(engine) -> str:
    with read_session(engine) as s:
        return s.get(Account, "acc_0000").status


def test_credit_once_per_derived_key(loaded):
    plan = goodwill.plan_credit(loaded, "@user0", 700, LEAD)
    assert goodwill.credit_question(plan) == "Credit 700 coins to @user0 (acc_0000), reason 'goodwill', ticket T-1001?"
    first = goodwill.credit(loaded, plan, LEAD)
    again = goodwill.credit(loaded, plan, LEAD)
    assert (first["replayed"], again["replayed"]) == (False, True) and first["balance_after"] == 770
    with read_session(loaded) as s:
        entry = s.exec(select(LedgerEntry).where(LedgerEntry.entry_id == first["entry_id"])).one()
        assert (entry.kind, entry.amount, entry.reason, entry.ticket_id) == ("grant", 700, "goodwill", "T-1001")


@pytest.mark.parametrize(("coins", "ctx", "error"), [
    (5001, AGENT, Forbidden),
    (0, AGENT, InvalidInput),
    (-3, AGENT, InvalidInput),
    (10**12, LEAD, InvalidInput),
    (10, ActionContext("ana", " ", role="agent"), InvalidInput),
    (10, ActionContext("ana", "x", ticket_id="T-9999"), NotFound),
])
def test_credit_refusals_write_nothing(loaded, coins, ctx, error):
    before = written(loaded)
    with pytest.raises(error):
        goodwill.plan_credit(loaded, "acc_0000", coins, ctx)
    with pytest.raises(error):  # the write path checks again (a plan made under another role or limit)
        plan = {"account_id": "acc_0000", "handle": "@user0", "coins": coins, "reason": "x", "ticket_id": ctx.ticket_id}
        goodwill.credit(loaded, plan, ctx)
    assert written(loaded) == before


def test_status_moves_and_lead_rules(loaded):
    plan = goodwill.plan_status(loaded, "acc_0000", "limit", AGENT)
    assert goodwill.change_status(loaded, plan, AGENT)["changed"] is True
    assert goodwill.change_status(loaded, plan, AGENT)["changed"] is False
    with pytest.raises(Forbidden):
        goodwill.plan_status(loaded, "acc_0000", "suspend", AGENT)
    goodwill.change_status(loaded, goodwill.plan_status(loaded, "acc_0000", "suspend", LEAD), LEAD)
    assert status_of(loaded) == "suspended"
    before = written(loaded)
    with pytest.raises(Forbidden):
        goodwill.plan_status(loaded, "acc_0000", "reactivate", AGENT)
    with pytest.raises(Forbidden):  # the write path refuses too: an agent may not lift a suspension
        goodwill.change_status(loaded, {**plan, "after": "active"}, AGENT)
    with pytest.raises(InvalidInput, match="the account is suspended"):
        goodwill.plan_status(loaded, "acc_0000", "unlimit", AGENT)
    assert written(loaded) == before and status_of(loaded) == "suspended"
    goodwill.change_status(loaded, goodwill.plan_status(loaded, "acc_0000", "reactivate", LEAD), LEAD)
    assert status_of(loaded) == "active"
    with read_session(loaded) as s:
        records = s.exec(select(AuditRecord).where(AuditRecord.action == "account.status")).all()
        assert [r.after["status"] for r in records] == ["limited", "suspended", "active"]
