"""The three clients against the running store emulator: real HTTP, real auth, real signatures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from time import monotonic
from typing import Any

import pytest

from supportdesk.emulator.server import EmulatorHandle
from supportdesk.stores.apple import AppleClient
from supportdesk.stores.errors import (
    StoreBadResponse,
    StoreBadSignature,
    StoreNotFound,
    StoreRejected,
    StoreTimeout,
    StoreUnavailable,
)
from supportdesk.stores.google import GoogleClient
from supportdesk.stores.records import google_record, web_record
from supportdesk.stores.sync import parse_when
from supportdesk.stores.web import WebClient
from tests.emulator.emulator_support import NOW, set_faults
from tests.stores.fakes import FakeTime

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")]
EMULATOR_NOW = parse_when(NOW)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def apple(stores_config: dict[str, Any], time: FakeTime) -> Iterator[AppleClient]:
    client = AppleClient(stores_config["apple"], policy=time.policy(timeout=5))
    yield client
    client.close()


@pytest.fixture
def google(stores_config: dict[str, Any], time: FakeTime) -> Iterator[GoogleClient]:
    client = GoogleClient(stores_config["google"], policy=time.policy(timeout=5))
    yield client
    client.close()


@pytest.fixture
def web(stores_config: dict[str, Any], time: FakeTime) -> Iterator[WebClient]:
    client = WebClient(stores_config["web"], policy=time.policy(timeout=5))
    yield client
    client.close()


def test_apple_calls(apple: AppleClient) -> None:
    txn = apple.get_transaction_info("2000000000003")
    assert txn["revocationType"] == "REFUND_FULL" and txn["environment"] == "Production"
    assert len(apple.get_transaction_history("2000000000003")) == 45  # three pages of 20
    assert [t["transactionId"] for t in apple.look_up_order_id("MKORDER0001")] == ["2000000001000", "2000000001001"]
    assert len(apple.get_refund_history("2000000000000")) == 5
    notes = apple.get_notification_history(EMULATOR_NOW - timedelta(days=179), EMULATOR_NOW, "REFUND")
    assert {n["notificationType"] for n in notes} == {"REFUND"}
    assert all(n["transaction"]["revocationDate"] for n in notes)
    apple.send_consumption_information("2000000000003", customer_consented=True, delivery_status="DELIVERED",
                                       refund_preference="DECLINE", consumption_percentage=60000)


def test_apple_unknown_and_invalid_ids(apple: AppleClient) -> None:
    with pytest.raises(StoreNotFound, match="errorCode 4040010"):
        apple.get_transaction_info("1999")
    with pytest.raises(StoreRejected, match="errorCode 4000006"):
        apple.get_transaction_info("not-a-number")


def test_apple_faults(apple: AppleClient, emulator: EmulatorHandle, time: FakeTime) -> None:
    set_faults(emulator, "apple:bad_signature*1")
    with pytest.raises(StoreBadSignature):
        apple.get_transaction_info("2000000000003")
    set_faults(emulator, "apple:429=3*2", "apple:expired_token*1")
    assert apple.get_transaction_info("2000000000003")["transactionId"] == "2000000000003"
    # Retry-After is the epoch ms 3 s ahead (read as seconds it would be 1.8e9 s); the 401 gets a fresh token.
    assert len(time.sleeps) == 2 and all(2.5 < s <= 3 for s in time.sleeps)
    set_faults(emulator, "apple:503")
    with pytest.raises(StoreUnavailable, match="retried 3 times"):
        apple.get_transaction_info("2000000000003")


def test_apple_timeout(stores_config: dict[str, Any], emulator: EmulatorHandle) -> None:
    set_faults(emulator, "apple:timeout=1000*2")
    client = AppleClient(stores_config["apple"], policy=FakeTime().policy(timeout=0.2))
    assert client.get_transaction_info("2000000000003")["transactionId"] == "2000000000003"
    set_faults(emulator, "apple:timeout=1000")
    with pytest.raises(StoreTimeout):
        AppleClient(stores_config["apple"], policy=FakeTime().policy(timeout=0.2, retries=1)) \
            .get_transaction_info("2000000000003")


def test_google_calls(google: GoogleClient) -> None:
    purchase = google.get_product_purchase("coins_350", "token-001")
    assert purchase["orderId"] == "GPA.3300-0000-0000-00001"
    order = google.get_order("GPA.3300-0000-0000-00000")
    assert order["state"] == "REFUNDED" and order["purchaseToken"] == "token-000"
    # The emulator fails a batch whole on an unknown or repeated id, as Google does: the client still answers.
    ids = [f"GPA.3300-0000-0000-{i:05d}" for i in range(30)]
    assert [o["orderId"] for o in google.batch_get_orders(ids + ["GPA.nope", ids[0]])] == ids
    partial = google_record(None, google.get_order("GPA.3300-0000-0000-00098"))
    assert (partial.state, partial.price_minor, partial.refunded_minor) == ("refunded", 499, 150)
    voided = google.list_voided_purchases(EMULATOR_NOW - timedelta(days=29), EMULATOR_NOW)
    assert voided and all(int(v["voidedTimeMillis"]) >= (EMULATOR_NOW - timedelta(days=29)).timestamp() * 1000
                          for v in voided)
    with pytest.raises(StoreNotFound, match="purchase token was not found"):
        google.get_product_purchase("coins_350", "token-nope")


def test_google_rtdn_pull_and_acknowledge(google: GoogleClient) -> None:
    messages = google.pull_notifications(100)
    assert messages and all(m.notification for m in messages)
    google.acknowledge([m.ack_id for m in messages])
    started = monotonic()
    assert google.pull_notifications(100) == []  # held (0.2 s here), then empty: drained, not a timeout
    assert monotonic() - started >= 0.15


def test_google_refund_then_refused_twice(google: GoogleClient) -> None:
    google.refund_order("GPA.3300-0000-0000-00001")
    assert google.get_order("GPA.3300-0000-0000-00001")["state"] == "REFUNDED"
    with pytest.raises(StoreRejected, match="already been refunded"):
        google.refund_order("GPA.3300-0000-0000-00001")


def test_google_faults(google: GoogleClient, emulator: EmulatorHandle, time: FakeTime) -> None:
    google.get_product_purchase("coins_350", "token-001")  # holds a token now
    set_faults(emulator, "google:expired_token*1", "google:429=1*2")
    assert google.get_product_purchase("coins_350", "token-001")["orderId"] == "GPA.3300-0000-0000-00001"
    assert time.sleeps == [1, 1]
    set_faults(emulator, "google:malformed*1")
    with pytest.raises(StoreBadResponse):
        google.get_product_purchase("coins_350", "token-001")


def test_web_calls(web: WebClient) -> None:
    pages = list(web.charge_pages(created_gte=0, limit=10))
    assert [len(p) for p in pages] == [10, 10, 5]
    refunded = web.get_charge("ch_0002")  # no embedded refunds: read from GET /v1/refunds?charge=
    assert refunded["amount_refunded"] == 999 and [r["id"] for r in refunded["refunds"]["data"]] == ["re_old"]
    assert web_record(refunded).refund_reason == "duplicate"
    assert {d["id"] for d in web.list_disputes()} == {"dp_0001", "dp_0002"}
    first = web.create_refund("ch_0003", amount=300, reason="requested_by_customer", idempotency_key="t-1")
    again = web.create_refund("ch_0003", amount=300, reason="requested_by_customer", idempotency_key="t-1")
    assert first["id"] == again["id"] and web.get_charge("ch_0003")["amount_refunded"] == 300


def test_web_faults(web: WebClient, emulator: EmulatorHandle, time: FakeTime) -> None:
    set_faults(emulator, "web:429=2*1", "web:500*1")
    assert web.get_charge("ch_0001")["id"] == "ch_0001"
    assert time.sleeps[0] == 2 and len(time.sleeps) == 2
    set_faults(emulator, "web:malformed*1")
    with pytest.raises(StoreBadResponse):
        web.get_charge("ch_0001")
