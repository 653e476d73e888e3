"""The sync before a reconcile: each store's window, resumed from its cursor; old purchases only when asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supportdesk.db.engine import write_session
from supportdesk.db.models import Account, Purchase
from supportdesk.services.reconcile import Scope
from supportdesk.services.sync_first import RESUME_OVERLAP, store_since
from supportdesk.stores.cursors import ALL, cursor_of, record_run
from supportdesk.stores.sources import APPLE_LOOKBACK

NOW = datetime(2026, 11, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=700)


def seed_old_purchase(engine) -> None:
    with write_session(engine) as session:
        session.add(Account(account_id="acc_1", handle="@old", email="old@example.com", country="US", kind="viewer",
                            status="active", created_at=OLD - timedelta(days=1), coin_balance=0, diamond_balance=0))
        session.flush()
        session.add(Purchase(purchase_id="pur_1", account_id="acc_1", store="web", store_transaction_id="ch_1",
                             product_id="coins_70", coins=70, price_minor=99, currency="USD", country="US",
                             purchased_at=OLD, status="completed"))


def test_old_purchases_are_looked_up_only_when_asked(engine):
    seed_old_purchase(engine)
    assert store_since(engine, Scope(), "web", NOW, lookup_old=False) == NOW - APPLE_LOOKBACK
    assert store_since(engine, Scope(), "web", NOW, lookup_old=True) == OLD
    # One account is asked per customer (cheap): from the account's creation, as before.
    assert store_since(engine, Scope(account_id="acc_1"), "web", NOW, lookup_old=False) == OLD - timedelta(days=1)


def test_a_completed_store_run_moves_its_cursor_and_the_next_run_resumes_there(engine):
    first = NOW - timedelta(days=3)
    record_run(engine, "apple", ALL, until=first, at=first)
    record_run(engine, "web", ALL, until=first, at=first, error="the processor answered 503")
    assert store_since(engine, Scope(), "apple", NOW, lookup_old=False) == first - RESUME_OVERLAP
    # A failed run keeps no cursor position: web starts over; the failure is remembered.
    assert store_since(engine, Scope(), "web", NOW, lookup_old=False) == NOW - APPLE_LOOKBACK
    web = cursor_of(engine, "web")
    assert web is not None and web.status == "failed" and web.synced_until is None
    record_run(engine, "web", ALL, until=NOW, at=NOW)
    assert store_since(engine, Scope(), "web", NOW, lookup_old=False) == NOW - RESUME_OVERLAP
    # --lookup-old and an explicit --since ignore the cursor.
    assert store_since(engine, Scope(since=OLD), "apple", NOW, lookup_old=False) == OLD


def test_a_failed_run_after_a_completed_one_keeps_the_cursor(engine):
    first = NOW - timedelta(days=3)
    record_run(engine, "google", ALL, until=first, at=first)
    record_run(engine, "google", ALL, until=NOW, at=NOW, error="Google Play did not answer in time")
    cursor = cursor_of(engine, "google")
    assert cursor is not None and cursor.status == "failed" and cursor.synced_until == first
    assert cursor.error == "Google Play did not answer in time"
    assert store_since(engine, Scope(), "google", NOW, lookup_old=False) == first - RESUME_OVERLAP
