"""The audit trail: hash-chained, verified end to end; tickets list what was done under them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from supportdesk.db.engine import read_session, write_session
from supportdesk.domain.ledger import Posting
from supportdesk.errors import Conflict, InvalidInput, NotFound
from supportdesk.services import ledger, tickets, trail
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset

CTX = ActionContext("agent-3", "goodwill for the outage", ticket_id="T-1001")


@pytest.fixture
def loaded(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "ds", minimal()))
    for i in range(4):
        with write_session(engine) as s:
            ledger.post(s, [Posting("acc_0000", "coin", 10 + i, "grant")], CTX, key=f"g{i}")
    return engine


def tamper(engine, *sql: str) -> None:
    """What a DBA with table access could do: the append-only trigger is dropped first."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        for statement in sql:
            conn.execute(text(statement))


def check(engine) -> dict:
    with read_session(engine) as s:
        return trail.verified(s)


def test_untouched_log_verifies(loaded):
    assert check(loaded) == {"verified": True, "records": 5}  # the import's record, then four grants


def test_edited_record_is_named(loaded):
    tamper(loaded, "UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 2")
    assert check(loaded)["first_bad"] == {"seq": 2, "problem": "its contents do not match its hash (edited)"}


def test_removed_record_is_named(loaded):
    tamper(loaded, "DELETE FROM audit_log WHERE seq = 2")
    bad = check(loaded)["first_bad"]
    assert bad["seq"] == 3 and "removed or reordered" in bad["problem"]


def test_removed_last_record_is_caught_by_the_ledger_cross_check(loaded):
    tamper(loaded, "DELETE FROM audit_log WHERE seq = 5")
    body = check(loaded)
    assert not body["verified"] and "is missing" in body["first_bad"]["problem"]


def test_swapped_records_are_named(loaded):
    tamper(loaded, "UPDATE audit_log SET seq = 100 WHERE seq = 2", "UPDATE audit_log SET seq = 2 WHERE seq = 3",
           "UPDATE audit_log SET seq = 3 WHERE seq = 100")
    assert check(loaded)["first_bad"]["seq"] == 2


def test_ticket_lists_actions_and_resolves_once(loaded):
    with read_session(loaded) as s:
        shown = tickets.show(s, "T-1001")["ticket"]
    assert [a["action"] for a in shown["actions"]] == ["ledger.grant"] * 4 and len(shown["entries"]) == 4
    with write_session(loaded) as s:
        first = tickets.resolve(s, "T-1001", "credited 46 coins", CTX)
    with write_session(loaded) as s:
        again = tickets.resolve(s, "T-1001", "credited 46 coins", CTX)
    assert first["ticket"]["status"] == "solved" and again["replayed"] is True
    with pytest.raises(Conflict, match="already solved"), write_session(loaded) as s:
        tickets.resolve(s, "T-1001", "a different note", CTX)
    assert check(loaded)["verified"]


@pytest.mark.parametrize(("ticket", "error"), [("T-9999", NotFound), ("T 1001", InvalidInput)])
def test_bad_ticket_ids(loaded, ticket, error):
    with pytest.raises(error), read_session(loaded) as s:
        tickets.show(s, ticket)


def test_create_ticket_is_audited(loaded):
    with write_session(loaded) as s:
        new = tickets.create(s, "acc_0001", "Refund please", "", "refund_request", CTX)["ticket"]
    with read_session(loaded) as s:
        assert tickets.show(s, new["ticket_id"])["ticket"]["actions"][0]["action"] == "ticket.create"
