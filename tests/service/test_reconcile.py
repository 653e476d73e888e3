"""Reconcile findings per kind (zero-decimal currencies, a promotion window) and fixes that post exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, LedgerEntry, Purchase, StoreRecord
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from supportdesk.services.reconcile import Scope, reconcile
from tests.service.factories import account, minimal, write_dataset

CTX = ActionContext("agent-1", "reconcile test")
T = "2026-10-01T12:00:00Z"
AT = datetime(2026, 10, 1, 12, tzinfo=UTC)


def purchase(pid, acc, txn, *, store="web", coins=70, price=99, cur="USD", country="US", status="completed",
             product="coins_70", at=T):
    return {"purchase_id": pid, "account_id": acc, "store": store, "store_transaction_id": txn,
            "product_id": product, "coins": coins, "price_minor": price, "currency": cur, "country": country,
            "purchased_at": at, "status": status}


def credit(eid, acc, pid, coins=70):
    return {"entry_id": eid, "account_id": acc, "asset": "coin", "amount": coins, "kind": "purchase", "ref": pid,
            "at": T, "actor": "system"}


def record(txn, acc, *, store="web", price=99, cur="USD", country="US", state="purchased", product="coins_70",
           at=AT, refunded_minor=None):
    return StoreRecord(store=store, store_transaction_id=txn, account_id=acc, account_ref=acc, product_id=product,
                       price_minor=price, currency=cur, country=country, purchased_at=at, state=state,
                       refunded_minor=refunded_minor, refunded_at=at if state != "purchased" else None,
                       raw={}, fetched_at=AT)


@pytest.fixture
def world(engine, tmp_path):
    data = minimal()
    data["regions"].append({"country": "JP", "currency": "JPY", "coin_purchase": True, "gifting": True,
                            "cashout": True, "min_age": 18, "stores": ["apple"], "valid_from": "2024-01-01T00:00:00Z"})
    data["price_points"] += [
        {"country": "JP", "store": "apple", "product_id": "coins_70", "coins": 70, "price_minor": 160,
         "currency": "JPY", "valid_from": "2024-01-01T00:00:00Z", "valid_to": None},
        {"country": "US", "store": "web", "product_id": "coins_70", "coins": 70, "price_minor": 79, "bonus_coins": 10,
         "currency": "USD", "valid_from": "2026-09-25T00:00:00Z", "valid_to": "2026-10-05T00:00:00Z"},
    ]
    data["accounts"] = [account(i) for i in range(8)]
    data["accounts"][0]["coin_balance"] = 70
    data["accounts"][2]["coin_balance"] = 140      # duplicate credit below: cache agrees with the ledger
    data["accounts"][4]["coin_balance"] = 70
    data["accounts"][5]["coin_balance"] = 500      # drift: ledger says 0
    data["accounts"][6]["coin_balance"] = 70
    data["accounts"][7]["coin_balance"] = 80
    data["purchases"] = [
        purchase("pur_0001", "acc_0000", "ch_abc123"),                       # clean
        purchase("pur_0002", "acc_0001", "ch_uncredited"),                   # uncredited
        purchase("pur_0003", "acc_0002", "ch_twice"),                        # duplicate credit
        purchase("pur_0004", "acc_0004", "2000000001", store="apple", price=160, cur="JPY", country="JP"),
        purchase("pur_0006", "acc_0006", "ch_mismatch", price=149),          # amount mismatch
        purchase("pur_0007", "acc_0007", "ch_promo", price=79, coins=80),    # promotion: clean
    ]
    data["ledger"] = [credit("le_0001", "acc_0000", "pur_0001"), credit("le_0002", "acc_0002", "pur_0003"),
                      credit("le_0003", "acc_0002", "pur_0003"), credit("le_0004", "acc_0004", "pur_0004"),
                      credit("le_0006", "acc_0006", "pur_0006"), credit("le_0007", "acc_0007", "pur_0007", 80)]
    run_import(engine, write_dataset(tmp_path / "ds", data))
    with write_session(engine) as s:
        s.add_all([
            record("ch_abc123", "acc_0000"), record("ch_uncredited", "acc_0001"), record("ch_twice", "acc_0002"),
            record("ch_missing", "acc_0003"),
            record("2000000001", "acc_0004", store="apple", price=160, cur="JPY", country="JP", state="refunded"),
            record("ch_mismatch", "acc_0006", price=149), record("ch_promo", "acc_0007", price=79),
        ])
    return engine


def kinds(result):
    return sorted((f.kind, f.account_id) for f in result.findings)


def test_each_kind_found_and_clean_accounts_have_none(world):
    result = reconcile(world, Scope())
    assert kinds(result) == [
        ("amount_mismatch", "acc_0006"), ("balance_drift", "acc_0005"), ("duplicate_credit", "acc_0002"),
        ("missing_purchase", "acc_0003"), ("unapplied_refund", "acc_0004"), ("uncredited_purchase", "acc_0001"),
    ]
    assert reconcile(world, Scope(account_id="acc_0000")).findings == []
    assert reconcile(world, Scope(account_id="acc_0007")).findings == []  # promotion price, bonus coins


def test_zero_decimal_refund_and_evidence(world):
    (f,) = reconcile(world, Scope(account_id="acc_0004")).findings
    assert f.kind == "unapplied_refund" and f.coins == -70 and f.detail["new_status"] == "revoked"
    assert f.detail["store_record"]["price_minor"] == 160 and f.detail["purchase"]["currency"] == "JPY"


def test_fix_then_only_amount_mismatch_remains_and_refix_posts_nothing(world):
    first = reconcile(world, Scope(), fix=True, ctx=CTX)
    assert not first.failed and len(first.applied) == 5
    assert all(a["replayed"] is False for a in first.applied)
    assert kinds(reconcile(world, Scope())) == [("amount_mismatch", "acc_0006")]
    with read_session(world) as s:
        entries = len(s.exec(select(LedgerEntry)).all())
        assert s.get(Account, "acc_0004").coin_balance == 0
        assert s.get(Purchase, "pur_0004").status == "revoked"
        assert s.get(Account, "acc_0005").coin_balance == 0
        assert s.get(Account, "acc_0003").coin_balance == 70
    again = reconcile(world, Scope(), fix=True, ctx=CTX)
    assert again.applied == []
    with read_session(world) as s:
        assert len(s.exec(select(LedgerEntry)).all()) == entries


def test_a_replayed_fix_reports_replayed(world):
    from supportdesk.services.fixes import apply_fix

    (f,) = reconcile(world, Scope(account_id="acc_0001")).findings
    with write_session(world) as s:
        assert apply_fix(s, f, CTX)["replayed"] is False
    with write_session(world) as s:
        assert apply_fix(s, f, CTX)["replayed"] is True


def test_clawback_of_spent_coins_leaves_a_debt_and_limits(world):
    from supportdesk.domain.ledger import Posting
    from supportdesk.services.ledger import post

    with write_session(world) as s:  # the buyer already spent 50 of the 70 coins
        post(s, [Posting("acc_0004", "coin", -50, "gift_sent")], CTX, key="spend")
    reconcile(world, Scope(account_id="acc_0004"), fix=True, ctx=CTX)
    with read_session(world) as s:
        acc = s.get(Account, "acc_0004")
        assert (acc.coin_balance, acc.status) == (-50, "limited")
