"""The home screen's read on both engines: open tickets deadlines first, flags by rule, stale stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import ConsumptionRequest, ReviewFlag, SyncCursor, Ticket
from supportdesk.domain.overview import due_words, freshness
from supportdesk.services import audit, overview
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from tests.service.factories import minimal, write_dataset

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_overview(engine, tmp_path) -> None:
    run_import(engine, write_dataset(tmp_path / "ds", minimal(3)))  # T-1001 open on @user0
    with write_session(engine) as s:
        s.add_all([
            Ticket(ticket_id="T-1002", account_id="acc_0001", subject="refund please", category="refund_request",
                   status="new", created_at=NOW - timedelta(hours=3)),
            Ticket(ticket_id="T-1004", account_id="acc_0002", subject="theirs", category="other", status="open",
                   created_at=NOW, assignee="bo"),
            Ticket(ticket_id="T-1003", account_id="acc_0002", subject="done", category="other", status="solved",
                   created_at=NOW),
            ConsumptionRequest(store_transaction_id="2000000001", ticket_id="T-1002", account_id="acc_0001",
                               requested_at=NOW - timedelta(hours=3), answer_due_at=NOW + timedelta(hours=9)),
            *(ReviewFlag(flag_id=f"f{i}", rule=rule, account_id="acc_0000", score=score, evidence={},
                         status=status, created_at=NOW)
              for i, (rule, score, status) in enumerate([("velocity", 40, "open"), ("velocity", 70, "open"),
                                                         ("underage", 90, "open"), ("underage", 99, "dismissed")])),
            SyncCursor(store="web", scope="all", synced_until=NOW, last_run_at=NOW - timedelta(hours=1), status="ok"),
            SyncCursor(store="google", scope="all", last_run_at=NOW - timedelta(hours=2), status="failed",
                       error="quota exceeded"),
            SyncCursor(store="web", scope="acc_0000", last_run_at=NOW, status="ok"),
        ])
        audit.append(s, ActionContext("ana", "monthly reconcile"), action="reconcile.balance_drift",
                     target="acc_0000", account_id="acc_0000", key="k1")
    with read_session(engine) as s:
        home = overview.overview(s, "ana", NOW, ["apple", "google", "web"])
    tickets = home["tickets"]
    assert tickets["total"] == 2  # T-1004, someone else's, is not on my home
    assert [t["ticket_id"] for t in tickets["tickets"]] == ["T-1002", "T-1001"]  # the store deadline first
    assert tickets["tickets"][0]["answer_due_at"] == NOW + timedelta(hours=9)
    assert home["flags"] == [{"rule": "underage", "open": 1, "top_score": 90},  # in the rules' order
                             {"rule": "velocity", "open": 2, "top_score": 70}]
    assert [(s["store"], s["state"], s["stale"]) for s in home["stores"]] == [
        ("apple", "never", True), ("google", "failed", True), ("web", "ok", False)]
    assert home["stores"][1]["why"] == "failed: quota exceeded"
    assert home["reconcile"]["synced_at"] == NOW - timedelta(hours=1)
    assert home["reconcile"]["fix"]["actor"] == "ana"


def test_words_for_deadlines_and_old_syncs() -> None:
    assert due_words(NOW + timedelta(hours=3, minutes=12), NOW) == "due in 3h 12m"
    assert due_words(NOW - timedelta(minutes=5), NOW) == "overdue by 5m"
    assert due_words(NOW + timedelta(days=2, hours=1), NOW) == "due in 2d 1h"
    old = freshness("web", NOW, status="ok", last_run_at=NOW - timedelta(hours=30))
    assert (old.state, old.why, old.stale) == ("old", "last synced 1d 6h ago", True)
    assert not freshness("web", NOW, status="ok", last_run_at=NOW - timedelta(hours=23)).stale
