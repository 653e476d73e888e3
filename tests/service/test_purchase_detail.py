"""`purchase_detail.detail` on SQLite (and PostgreSQL): one purchase with the store's view, its refund and a flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import ReviewFlag, StoreNotification, StoreRecord
from supportdesk.errors import NotFound
from supportdesk.services import purchase_detail
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from supportdesk.services.reconcile import Scope, reconcile
from tests.service.factories import minimal, write_dataset

BOUGHT = datetime(2026, 10, 1, 12, tzinfo=UTC)
REFUNDED = BOUGHT + timedelta(hours=2)
NOW = datetime(2026, 10, 5, tzinfo=UTC)
CTX = ActionContext("agent-1", "store refunded the charge", None)


@pytest.fixture
def refunded(engine, tmp_path):
    """@user0's web purchase pur_0001 (ch_abc123, 70 coins, $0.99): the store refunded it, reconcile applied the
    refund (a refund row, a clawback, audit records), the webhook arrived and the review rules flagged it."""
    run_import(engine, write_dataset(tmp_path / "ds", minimal(2)))
    with write_session(engine) as s:
        s.add(StoreRecord(store="web", store_transaction_id="ch_abc123", account_id="acc_0000", product_id="coins_70",
                          price_minor=99, currency="USD", country="US", purchased_at=BOUGHT, state="refunded",
                          refunded_at=REFUNDED, refund_reason="requested_by_customer", refunded_minor=99,
                          raw={"charge": {"id": "ch_abc123"}}, fetched_at=NOW))
        s.add(StoreNotification(source="web", notification_id="evt_1", kind="charge.refunded",
                                store_transaction_id="ch_abc123", received_at=REFUNDED + timedelta(minutes=1)))
        s.add(ReviewFlag(flag_id="flg_refund_acc_0000", rule="refund_abuse", account_id="acc_0000",
                         purchase_id="pur_0001", score=70, evidence={}, status="open",
                         created_at=REFUNDED + timedelta(hours=1)))
    reconcile(engine, Scope(account_id="acc_0000"), fix=True, ctx=CTX)
    return engine


def test_one_timeline_of_ours_and_the_stores(refunded):
    with read_session(refunded) as s:
        by_txn = purchase_detail.detail(s, "ch_abc123", NOW)
        body = purchase_detail.detail(s, "pur_0001", NOW)
    assert by_txn["purchase"]["purchase_id"] == "pur_0001"
    assert body["purchase"]["price_minor"] == 99 and body["purchase"]["currency"] == "USD"
    assert body["store_record"]["state"] == "refunded" and body["store_record"]["refunded_minor"] == 99
    assert body["refund"]["status"] == "succeeded" and body["refund"]["coins_clawed"] == 70
    assert [f["flag_id"] for f in body["flags"]] == ["flg_refund_acc_0000"]
    assert [n["kind"] for n in body["notifications"]] == ["charge.refunded"]
    kinds = [e["kind"] for e in body["ledger"]]
    assert kinds[0] == "purchase" and "refund_clawback" in kinds
    assert {r["target"] for r in body["audit"]} & {"pur_0001", body["refund"]["refund_id"]}
    times = [e["at"] for e in body["timeline"]]
    assert times == sorted(times)
    sources = [e["source"] for e in body["timeline"]]
    assert sources[:2] == ["ours", "store"]  # the purchase, then the store's charge (same time, ours first)
    assert {"ledger", "review", "audit"} <= set(sources)
    assert any(e["event"] == "web refunded (requested_by_customer)" and e["amount_minor"] == 99
               for e in body["timeline"])
    assert body["region"]["allowed"] is True
    assert body["decision"]["outcome"] == "deny"  # already refunded


def test_unknown_purchase_is_not_found(refunded):
    with read_session(refunded) as s, pytest.raises(NotFound):
        purchase_detail.detail(s, "pur_nope", NOW)


def test_a_lost_dispute_is_on_the_timeline(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "ds", minimal(2)))
    opened = BOUGHT + timedelta(days=1)
    with write_session(engine) as s:
        s.add(StoreRecord(store="web", store_transaction_id="ch_abc123", account_id="acc_0000", product_id="coins_70",
                          price_minor=99, currency="USD", country="US", purchased_at=BOUGHT, state="charged_back",
                          refunded_at=opened, refund_reason="fraudulent", refunded_minor=99, fetched_at=NOW,
                          raw={"charge": {"id": "ch_abc123"},
                               "dispute": {"status": "lost", "reason": "fraudulent", "amount": 99,
                                           "created": int(opened.timestamp())}}))
    with read_session(engine) as s:
        body = purchase_detail.detail(s, "pur_0001", NOW)
    assert body["store_record"]["dispute"] == {"status": "lost", "reason": "fraudulent", "amount_minor": 99,
                                               "created": int(opened.timestamp())}
    dispute = next(e for e in body["timeline"] if e["event"] == "dispute lost")
    assert (dispute["at"], dispute["amount_minor"], dispute["currency"]) == (opened, 99, "USD")
    assert body["refund"] is None and body["flags"] == []
