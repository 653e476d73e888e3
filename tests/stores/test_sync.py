"""stores sync against the running emulator, on SQLite (and PostgreSQL when SUPPORTDESK_TEST_PG_URL is set)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from supportdesk.config import Settings
from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, Purchase, StoreRecord
from supportdesk.emulator.server import EmulatorHandle
from supportdesk.stores.google import GoogleClient
from supportdesk.stores.sync import SyncResult, sync
from tests.emulator.emulator_support import set_faults
from tests.stores.fakes import FakeTime
from tests.stores.store_data import NOW_DT, TOKEN_A, TOKEN_B, our_purchases, store_keys

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")]
SINCE = NOW_DT - timedelta(days=500)


def seed(engine: Engine) -> None:
    with write_session(engine) as session:
        for i in range(4):
            session.add(Account(
                account_id=f"acc_{i}", handle=f"@fan{i}", email=f"fan{i}@example.com", country="US",
                kind="viewer", status="active", created_at=NOW_DT - timedelta(days=900), coin_balance=0,
                diamond_balance=0, apple_app_account_token={0: TOKEN_A, 1: TOKEN_B}.get(i),
                web_customer_id=f"cus_{i}"))
        session.flush()
        for n, (store, tid, account, at) in enumerate(our_purchases()):
            session.add(Purchase(purchase_id=f"pur_{n:04d}", account_id=account, store=store,
                                 store_transaction_id=tid, product_id="coins_70", coins=70, price_minor=99,
                                 currency="USD", country="US", purchased_at=at, status="completed"))


@pytest.fixture
def db(engine: Engine) -> Engine:
    seed(engine)
    return engine


@pytest.fixture
def settings(sync_emulator: EmulatorHandle) -> Settings:
    return Settings(stores=tomllib.loads(sync_emulator.config_path.read_text(encoding="utf-8"))["stores"])


def run(engine: Engine, settings: Settings, time: FakeTime | None = None, **kw: Any) -> SyncResult:
    policy = (time or FakeTime()).policy(timeout=5)
    return sync(engine, settings, since=SINCE, until=NOW_DT, now=NOW_DT, policy=policy, **kw)


def table(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    with read_session(engine) as session:
        rows = session.exec(select(StoreRecord)).all()
        return {(r.store, r.store_transaction_id): r.model_dump(exclude={"id"}) for r in rows}


def test_sync_stores_exactly_what_the_stores_know(db: Engine, settings: Settings) -> None:
    result = run(db, settings)
    assert result.failed == {} and not result.cancelled
    rows = table(db)
    assert set(rows) == store_keys()
    counts = result.to_json()["synced"]
    assert {s: (c["inserted"], c["not_found"]) for s, c in counts.items()} == {
        "apple": (6, 1), "google": (7, 1), "web": (6, 1)}

    def row(store: str, tid: str, *fields: str) -> tuple[Any, ...]:
        return tuple(rows[(store, tid)][f] for f in fields)

    fields = ("state", "account_id", "price_minor", "currency", "refunded_minor", "refund_reason", "country")
    assert row("apple", "3000000000001", *fields) == ("purchased", "acc_0", 99, "USD", None, None, "US")
    assert row("apple", "3000000000002", *fields) == ("refunded", "acc_0", 99, "USD", 99, "other", "US")
    assert row("apple", "3000000000004", *fields) == ("refunded", "acc_0", 99, "USD", 49, "app_issue", "US")
    assert row("apple", "3000000000005", "account_id", "state") == (None, "purchased")
    assert row("apple", "3000000000006", *fields) == ("purchased", "acc_1", 160, "JPY", None, None, "JP")
    assert row("google", "GPA.0", *fields) == ("purchased", "acc_0", 499, "USD", None, None, "US")
    assert row("google", "GPA.1", *fields) == ("refunded", "acc_1", 499, "USD", 499, "other", "US")
    assert row("google", "GPA.2", *fields) == ("charged_back", "acc_1", 499, "USD", 499, "chargeback", "US")
    assert row("google", "GPA.4", "account_id", "purchase_token") == ("acc_2", "tok-4")
    assert row("google", "GPA.5", *fields) == ("refunded", "acc_0", 998, "USD", 499, "remorse", "US")
    assert row("google", "GPA.6", *fields) == ("pending", "acc_3", 6500, "KRW", None, None, "KR")
    assert row("web", "ch_1", *fields) == ("refunded", "acc_1", 999, "USD", 400, "duplicate", "US")
    assert row("web", "ch_2", *fields) == ("charged_back", "acc_2", 999, "USD", 999, "fraudulent", "US")
    assert row("web", "ch_3", "state") == ("purchased",)  # a won dispute changes nothing
    assert row("web", "ch_4", "account_id", "account_ref") == ("acc_1", "cus_1")
    assert row("web", "ch_5", "price_minor", "currency", "country") == (1200, "JPY", "JP")


def test_second_run_changes_nothing(db: Engine, settings: Settings) -> None:
    run(db, settings)
    before = table(db)
    again = run(db, settings).to_json()["synced"]
    assert {s: (c["inserted"], c["updated"]) for s, c in again.items()} == {
        "apple": (0, 0), "google": (0, 0), "web": (0, 0)}
    assert table(db) == before  # fetched_at included: not one row was rewritten


def test_a_refund_after_the_first_run_is_one_update(db: Engine, settings: Settings) -> None:
    run(db, settings)
    GoogleClient(settings.stores["google"]).refund_order("GPA.3")
    counts = run(db, settings).to_json()["synced"]["google"]
    assert (counts["updated"], counts["inserted"]) == (1, 0)  # seen by RTDN and the voided list: counted once
    assert table(db)[("google", "GPA.3")]["state"] == "refunded"


@pytest.mark.parametrize("store", ["apple", "google", "web"])
def test_run_broken_by_faults_keeps_whole_batches_and_a_rerun_completes(
        db: Engine, settings: Settings, sync_emulator: EmulatorHandle, store: str) -> None:
    first_batch: list[int] = []

    def break_after_first_batch(name: str, done: int, _total: int | None) -> None:
        if name == store and not first_batch:
            first_batch.append(done)
            set_faults(sync_emulator, f"{store}:503")

    first = run(db, settings, progress=break_after_first_batch)
    assert first.failed[store]["code"] == "store_unavailable"
    assert "retried 3 times" in first.failed[store]["message"]
    assert len([k for k in table(db) if k[0] == store]) == first_batch[0] > 0  # one whole batch, no more
    set_faults(sync_emulator)
    assert run(db, settings).failed == {}
    assert set(table(db)) == store_keys()


def test_cancel_between_batches(db: Engine, settings: Settings) -> None:
    batches: list[str] = []
    result = run(db, settings, progress=lambda store, done, total: batches.append(store),
                 cancelled=lambda: len(batches) >= 1)
    # The stores are fetched at once: after the first batch no store starts another; the ones under way are kept.
    assert result.cancelled and len(batches) == len(set(batches)) >= 1
    assert len(table(db)) == sum(counts.inserted for counts in result.synced.values()) < len(store_keys())
    run(db, settings)
    assert set(table(db)) == store_keys()


@pytest.mark.parametrize(("spec", "store", "code"), [
    ("apple:bad_signature", "apple", "store_bad_signature"),
    ("google:malformed", "google", "store_bad_response"),
    ("web:500", "web", "store_unavailable"),
    ("web:expired_token", "web", "store_auth_failed"),
])
def test_a_failing_store_writes_nothing_and_the_others_complete(
        db: Engine, settings: Settings, sync_emulator: EmulatorHandle, spec: str, store: str, code: str) -> None:
    set_faults(sync_emulator, spec)
    result = run(db, settings)
    assert list(result.failed) == [store] and result.failed[store]["code"] == code
    assert result.to_json()["error"]["code"] == code
    assert {k for k in table(db) if k[0] == store} == set()
    assert {k for k in table(db) if k[0] != store} == {k for k in store_keys() if k[0] != store}


def test_transient_faults_are_absorbed(db: Engine, settings: Settings, sync_emulator: EmulatorHandle) -> None:
    time = FakeTime()
    set_faults(sync_emulator, "google:expired_token*1", "google:429=2*2", "apple:503*1", "web:429=1*1")
    assert run(db, settings, time).failed == {}
    assert set(table(db)) == store_keys()
    assert sorted(time.sleeps)[-3:] == [1, 2, 2]


def test_google_notifications_are_acknowledged_after_the_commit(db: Engine, settings: Settings) -> None:
    result = run(db, settings)
    assert result.synced["google"].acknowledged == 4
    assert GoogleClient(settings.stores["google"]).pull_notifications(100) == []


def test_sandbox_notification_history_is_asked_for_its_30_days_only(db: Engine) -> None:
    """Apple keeps 180 days of notification history in Production but 30 in Sandbox (older start: 4000012)."""
    from supportdesk.stores.errors import StoreNotFound
    from supportdesk.stores.sources import Window, apple_batches

    asked: list[Any] = []

    class SandboxApple:
        config = {"environment": "Sandbox"}

        def notification_history_pages(self, start: Any, end: Any, kind: str) -> Any:
            asked.append(start)
            return iter([])

        def get_transaction_info(self, tid: str) -> Any:
            raise StoreNotFound("apple", "not asked about here")

    list(apple_batches(SandboxApple(), Window(db, NOW_DT - timedelta(days=90), NOW_DT, NOW_DT)))
    assert asked and min(asked) >= NOW_DT - timedelta(days=30)
