"""One ticket check for every action: a ticket that does not exist is refused and never reaches the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import func, select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import AuditRecord, ReviewFlag
from supportdesk.domain.ledger import Posting
from supportdesk.errors import InvalidInput, NotFound
from supportdesk.services import ledger, review, tickets
from supportdesk.services.accounts import set_status
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset

GHOST = ActionContext("ana", "checked it", ticket_id="T-9999", role="lead")


@pytest.fixture
def loaded(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "ds", minimal()))
    with write_session(engine) as s:
        s.add(ReviewFlag(flag_id="flg_velocity_acc_0001", rule="velocity", account_id="acc_0001", score=60,
                         evidence={}, status="open", created_at=datetime.now(UTC)))
    return engine


def audit_count(engine) -> int:
    with read_session(engine) as s:
        return int(s.exec(select(func.count()).select_from(AuditRecord)).one())


ACTIONS = {
    "review": lambda s, ctx: review.act(s, "flg_velocity_acc_0001", "dismiss", ctx),
    "credit": lambda s, ctx: ledger.post(s, [Posting("acc_0001", "coin", 5, "grant")], ctx, key="k1"),
    "status": lambda s, ctx: set_status(s, "acc_0001", "limited", ctx, key=None),
    "resync": lambda s, ctx: ledger.resync_cached(s, "acc_0001", "coin", ctx, key="k2"),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize(("ticket", "error"), [("T-9999", NotFound), ("1001", NotFound), ("T 1001", InvalidInput)])
def test_every_action_refuses_a_ticket_that_does_not_exist(loaded, action, ticket, error):
    before = audit_count(loaded)
    ctx = ActionContext("ana", "checked it", ticket_id=ticket, role="lead")
    with pytest.raises(error), write_session(loaded) as s:
        ACTIONS[action](s, ctx)
    assert audit_count(loaded) == before
    with read_session(loaded) as s:
        assert s.get(ReviewFlag, "flg_velocity_acc_0001").status == "open"


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_records_an_existing_ticket(loaded, action):
    with write_session(loaded) as s:
        ACTIONS[action](s, ActionContext("ana", "checked it", ticket_id="T-1001", role="lead"))
    with read_session(loaded) as s:
        records = s.exec(select(AuditRecord).where(AuditRecord.ticket_id == "T-1001")).all()
    assert records


def test_resolving_a_missing_ticket_is_not_found(loaded):
    with pytest.raises(NotFound, match="no ticket T-9999"), write_session(loaded) as s:
        tickets.resolve(s, "T-9999", "done", GHOST)
