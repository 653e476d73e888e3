"""Roles: an agent is refused a lead-only action, with a message naming the role, and nothing is written."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, AuditRecord, IdempotencyKey, LedgerEntry
from supportdesk.domain.ledger import Posting
from supportdesk.errors import Forbidden
from supportdesk.services import ledger
from supportdesk.services.accounts import set_status
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset

AGENT = ActionContext("ana", "goodwill", role="agent", credit_limit=5000)
LEAD = ActionContext("lee", "goodwill", role="lead", credit_limit=5000)


@pytest.fixture
def loaded(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "ds", minimal()))
    return engine


def written(engine) -> tuple[int, int, int]:
    with read_session(engine) as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one() for t in (LedgerEntry, AuditRecord, IdempotencyKey))


@pytest.mark.parametrize(
    "action",
    [
        lambda s, ctx: ledger.post(s, [Posting("acc_0000", "coin", 5001, "grant")], ctx, key="big"),
        lambda s, ctx: ledger.post(s, [Posting("acc_0000", "diamond", -10, "refund_clawback")], ctx, key="dia"),
        lambda s, ctx: set_status(s, "acc_0000", "suspended", ctx, key="sus"),
    ],
)
def test_agent_refused_lead_allowed(loaded, action):
    before = written(loaded)
    with pytest.raises(Forbidden, match="needs the lead role"), write_session(loaded) as s:
        action(s, AGENT)
    assert written(loaded) == before
    with write_session(loaded) as s:
        action(s, LEAD)
    assert written(loaded) != before


def test_agent_may_credit_up_to_the_limit(loaded):
    with write_session(loaded) as s:
        ledger.post(s, [Posting("acc_0000", "coin", 5000, "grant")], AGENT, key="ok")
    with read_session(loaded) as s:
        assert s.get(Account, "acc_0000").coin_balance == 5070
