from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import httpx
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from supportdesk.stores.errors import (
    StoreAuthFailed,
    StoreBadResponse,
    StoreNotFound,
    StoreRateLimited,
    StoreRejected,
    StoreTimeout,
    StoreUnavailable,
)
from supportdesk.stores.google import GoogleClient
from tests.stores.fakes import FakeTime

BASE = "http://google.test/google"
API = f"{BASE}/androidpublisher/v3/applications/com.supportdesk.coins"
TOKEN_URI = "http://google.test/google/token"
PURCHASE_URL = f"{API}/purchases/products/coins_70/tokens/tok-1"
SUBSCRIPTION = "projects/p/subscriptions/play-rtdn"
PUBSUB = f"{BASE}/pubsub/v1/{SUBSCRIPTION}"


@cache
def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "p", "private_key_id": "kid1", "private_key": _rsa_pem(),
        "client_email": "sync@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": TOKEN_URI,
    }))
    return path


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(key_file: Path, time: FakeTime) -> Iterator[GoogleClient]:
    config = {"base_url": BASE, "package_name": "com.supportdesk.coins", "service_account_file": str(key_file),
              "pubsub_base_url": f"{BASE}/pubsub", "subscription": SUBSCRIPTION}
    c = GoogleClient(config, policy=time.policy())
    yield c
    c.close()


def tokens(*names: str) -> respx.Route:
    answers = [httpx.Response(200, json={"access_token": n, "expires_in": 3600, "token_type": "Bearer"})
               for n in names]
    return respx.post(TOKEN_URI).mock(side_effect=answers)


def google_error(status: int, message: str, state: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"error": {"code": status, "message": message,
                                                                   "status": state}})


@respx.mock
def test_token_comes_from_the_key_files_token_uri_as_a_jwt_bearer_grant(client: GoogleClient) -> None:
    token_route = tokens("ya29.one")
    api = respx.get(PURCHASE_URL).mock(return_value=httpx.Response(200, json={"orderId": "GPA.1"}))
    assert client.get_product_purchase("coins_70", "tok-1") == {"orderId": "GPA.1"}
    client.get_product_purchase("coins_70", "tok-1")
    assert token_route.call_count == 1  # reused until near expiry
    form = dict(x.split("=", 1) for x in token_route.calls[0].request.content.decode().split("&"))
    assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    assert api.calls[0].request.headers["authorization"] == "Bearer ya29.one"


@respx.mock
def test_expired_token_is_refreshed_once(client: GoogleClient) -> None:
    token_route = tokens("ya29.old", "ya29.new")
    api = respx.get(PURCHASE_URL).mock(side_effect=[
        google_error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"),
        httpx.Response(200, json={"orderId": "GPA.1"}),
    ])
    assert client.get_product_purchase("coins_70", "tok-1")["orderId"] == "GPA.1"
    assert token_route.call_count == 2
    assert [c.request.headers["authorization"] for c in api.calls] == ["Bearer ya29.old", "Bearer ya29.new"]


@respx.mock
def test_second_401_after_refresh_is_auth_failed(client: GoogleClient) -> None:
    tokens("ya29.a", "ya29.b")
    api = respx.get(PURCHASE_URL).mock(return_value=google_error(401, "Invalid credentials.", "UNAUTHENTICATED"))
    with pytest.raises(StoreAuthFailed, match="Invalid credentials"):
        client.get_product_purchase("coins_70", "tok-1")
    assert api.call_count == 2


@respx.mock
def test_token_endpoint_refusal_is_auth_failed(client: GoogleClient) -> None:
    respx.post(TOKEN_URI).mock(return_value=httpx.Response(400, json={"error": "invalid_grant",
                                                                      "error_description": "Invalid JWT Signature."}))
    with pytest.raises(StoreAuthFailed, match="Invalid JWT Signature"):
        client.get_product_purchase("coins_70", "tok-1")


@respx.mock
def test_token_endpoint_outage_goes_through_the_shared_policy(client: GoogleClient, time: FakeTime) -> None:
    respx.post(TOKEN_URI).mock(return_value=httpx.Response(503, json={"error": "temporarily_unavailable"}))
    with pytest.raises(StoreUnavailable, match="retried 3 times"):
        client.get_product_purchase("coins_70", "tok-1")
    assert len(time.sleeps) == 3


@respx.mock
def test_rate_limit_honours_retry_after(client: GoogleClient, time: FakeTime) -> None:
    tokens("t")
    route = respx.get(PURCHASE_URL).mock(side_effect=[
        google_error(429, "Quota exceeded.", "RESOURCE_EXHAUSTED", **{"Retry-After": "4"}),
        google_error(429, "Quota exceeded.", "RESOURCE_EXHAUSTED", **{"Retry-After": "4"}),
        httpx.Response(200, json={"orderId": "GPA.1"}),
    ])
    client.get_product_purchase("coins_70", "tok-1")
    assert route.call_count == 3 and time.sleeps == [4, 4]


@respx.mock
def test_rate_limit_exhausted(client: GoogleClient, time: FakeTime) -> None:
    tokens("t")
    respx.get(PURCHASE_URL).mock(return_value=google_error(429, "Quota exceeded.", "RESOURCE_EXHAUSTED",
                                                           **{"Retry-After": "1"}))
    with pytest.raises(StoreRateLimited, match=r"^Google Play is rate-limiting us .*retried 3 times over 3 s$"):
        client.get_product_purchase("coins_70", "tok-1")


@pytest.mark.parametrize("status", [500, 503])
@respx.mock
def test_server_errors_retried_then_unavailable(client: GoogleClient, status: int) -> None:
    tokens("t")
    route = respx.get(PURCHASE_URL).mock(return_value=google_error(status, "Backend error.", "INTERNAL"))
    with pytest.raises(StoreUnavailable) as err:
        client.get_product_purchase("coins_70", "tok-1")
    assert route.call_count == 4 and err.value.retries == 3 and err.value.status == status


@respx.mock
def test_timeout(client: GoogleClient) -> None:
    tokens("t")
    route = respx.get(PURCHASE_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(StoreTimeout):
        client.get_product_purchase("coins_70", "tok-1")
    assert route.call_count == 4


@respx.mock
def test_malformed_json(client: GoogleClient) -> None:
    tokens("t")
    respx.get(PURCHASE_URL).mock(return_value=httpx.Response(200, text='{"truncated": [1, 2'))
    with pytest.raises(StoreBadResponse, match="Google Play sent a response that is not JSON"):
        client.get_product_purchase("coins_70", "tok-1")


@respx.mock
def test_unknown_token_is_not_found_with_googles_message(client: GoogleClient) -> None:
    tokens("t")
    respx.get(PURCHASE_URL).mock(return_value=google_error(404, "The purchase token was not found.", "NOT_FOUND"))
    with pytest.raises(StoreNotFound, match="The purchase token was not found") as err:
        client.get_product_purchase("coins_70", "tok-1")
    assert err.value.store_code == "NOT_FOUND"


@respx.mock
def test_refund_is_not_retried_after_a_server_error(client: GoogleClient) -> None:
    tokens("t")
    route = respx.post(f"{API}/orders/GPA.1:refund").mock(return_value=google_error(500, "Oops.", "INTERNAL"))
    with pytest.raises(StoreUnavailable, match="not retried"):
        client.refund_order("GPA.1")
    assert route.call_count == 1 and route.calls[0].request.url.params["revoke"] == "true"


@respx.mock
def test_refund_rejection_carries_googles_message(client: GoogleClient) -> None:
    tokens("t")
    respx.post(f"{API}/orders/GPA.1:refund").mock(
        return_value=google_error(400, "The order has already been refunded.", "FAILED_PRECONDITION"))
    with pytest.raises(StoreRejected, match="already been refunded"):
        client.refund_order("GPA.1")


@respx.mock
def test_batch_get_chunks_at_1000_ids(client: GoogleClient) -> None:
    tokens("t")
    route = respx.get(f"{API}/orders:batchGet").mock(side_effect=lambda request: httpx.Response(200, json={
        "orders": [{"orderId": o} for o in request.url.params.get_list("orderIds")]}))
    ids = [f"GPA.{i}" for i in range(2500)]
    assert [o["orderId"] for o in client.batch_get_orders(ids)] == ids
    assert [len(c.request.url.params.get_list("orderIds")) for c in route.calls] == [1000, 1000, 500]


@respx.mock
def test_voided_purchases_follow_the_page_token(client: GoogleClient) -> None:
    tokens("t")
    route = respx.get(f"{API}/purchases/voidedpurchases").mock(side_effect=[
        httpx.Response(200, json={"voidedPurchases": [{"orderId": "GPA.1"}], "tokenPagination": {
            "nextPageToken": "n2"}}),
        httpx.Response(200, json={}),
    ])
    start, end = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    assert client.list_voided_purchases(start, end) == [{"orderId": "GPA.1"}]
    assert route.calls[0].request.url.params["startTime"] == str(int(start.timestamp() * 1000))
    assert route.calls[1].request.url.params["token"] == "n2"


@respx.mock
def test_pull_decodes_developer_notifications_and_acknowledges(client: GoogleClient) -> None:
    tokens("publisher", "pubsub")
    note = {"packageName": "com.supportdesk.coins", "oneTimeProductNotification": {
        "notificationType": 1, "purchaseToken": "tok-1", "sku": "coins_70"}}
    data = base64.b64encode(json.dumps(note).encode()).decode()
    respx.post(f"{PUBSUB}:pull").mock(return_value=httpx.Response(200, json={"receivedMessages": [
        {"ackId": "a1", "message": {"data": data, "messageId": "1"}},
        {"ackId": "a2", "message": {"data": "not base64!", "messageId": "2"}},
    ]}))
    ack = respx.post(f"{PUBSUB}:acknowledge").mock(return_value=httpx.Response(200, json={}))
    messages = client.pull_notifications(10)
    assert messages[0].notification == note and messages[1].notification is None
    assert messages[1].problem is not None
    client.acknowledge(["a1", "a2"])
    assert json.loads(ack.calls[0].request.content) == {"ackIds": ["a1", "a2"]}



@respx.mock
def test_batch_get_falls_back_when_one_unknown_id_fails_the_whole_request(client: GoogleClient) -> None:
    """orders.batchget: "If any order ID is not found ... the entire request will fail"; ids must be distinct."""
    tokens("t")
    unknown = {"GPA.5", "GPA.11"}

    def answer(request: httpx.Request) -> httpx.Response:
        ids = request.url.params.get_list("orderIds")
        if len(ids) != len(set(ids)):
            return google_error(400, "Order IDs must be distinct.", "INVALID_ARGUMENT")
        missing = [o for o in ids if o in unknown]
        if missing:
            return google_error(404, f"Order {missing[0]} not found.", "NOT_FOUND")
        return httpx.Response(200, json={"orders": [{"orderId": o} for o in ids]})

    route = respx.get(f"{API}/orders:batchGet").mock(side_effect=answer)
    ids = [f"GPA.{i}" for i in range(16)]
    got = [o["orderId"] for o in client.batch_get_orders(ids + ["GPA.3", "GPA.3"])]
    assert got == [i for i in ids if i not in unknown]
    assert route.call_count <= 1 + 2 * 2 * 4  # bisection: about k * log2(n) extra calls, not one per id


@respx.mock
def test_batch_get_refusal_of_a_single_id_is_not_read_as_not_found(client: GoogleClient) -> None:
    tokens("t")
    respx.get(f"{API}/orders:batchGet").mock(return_value=google_error(400, "Bad order id.", "INVALID_ARGUMENT"))
    with pytest.raises(StoreRejected):
        client.batch_get_orders(["bad"])


@respx.mock
def test_a_held_pull_that_outlasts_the_timeout_means_drained(client: GoogleClient) -> None:
    tokens("publisher", "pubsub")
    pull = respx.post(f"{PUBSUB}:pull").mock(side_effect=httpx.ReadTimeout("held"))
    assert client.pull_notifications(10) == [] and pull.call_count == 1  # drained, not "did not answer in time"
    assert client.pubsub.policy.timeout > 10  # longer than Pub/Sub holds an empty pull


@respx.mock
def test_voided_purchases_ask_for_quantity_based_partial_refunds(client: GoogleClient) -> None:
    tokens("t")
    route = respx.get(f"{API}/purchases/voidedpurchases").mock(return_value=httpx.Response(200, json={}))
    client.list_voided_purchases(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert route.calls[0].request.url.params["includeQuantityBasedPartialRefund"] == "true"


def test_partially_refunded_order_is_booked_as_partial() -> None:
    """An Order as the orders reference shapes it (developers.google.com/android-publisher/api-ref/rest/v3/orders)."""
    from supportdesk.stores.records import google_record

    money = {"currencyCode": "USD", "units": "4", "nanos": 990000000}
    order = {
        "orderId": "GPA.3372-2563-2224-34537", "purchaseToken": "tok-1", "state": "PARTIALLY_REFUNDED",
        "createTime": "2026-02-01T10:00:00Z", "lastEventTime": "2026-02-10T10:00:00Z",
        "lineItems": [{"productId": "coins_350", "productTitle": "350 coins", "total": money, "tax": {
            "currencyCode": "USD", "units": "0", "nanos": 0}, "listingPrice": money,
            "oneTimePurchaseDetails": {"quantity": 1}}],
        "total": money, "tax": {"currencyCode": "USD", "units": "0", "nanos": 0},
        "buyerAddress": {"buyerCountry": "US"},
        "orderHistory": {
            "processedEvent": {"eventTime": "2026-02-01T10:00:00Z"},
            "partialRefundEvents": [{
                "createTime": "2026-02-10T09:00:00Z", "processTime": "2026-02-10T10:00:00Z",
                "state": "PROCESSED_SUCCESSFULLY",
                "refundDetails": {"total": {"currencyCode": "USD", "units": "1", "nanos": 500000000},
                                  "tax": {"currencyCode": "USD", "units": "0", "nanos": 0}}}],
        },
    }
    record = google_record(None, order)
    assert (record.state, record.price_minor, record.refunded_minor) == ("refunded", 499, 150)
    assert record.refunded_at == datetime(2026, 2, 10, 10, tzinfo=UTC)


def test_without_a_key_file_application_default_credentials_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    from supportdesk.errors import ConfigError

    asked: list[list[str]] = []

    class Creds:
        valid, token = True, "adc-token"

    def default(scopes: list[str]) -> tuple[Creds, str]:
        asked.append(scopes)
        return Creds(), "p"

    monkeypatch.setattr(google.auth, "default", default)
    client = GoogleClient({"base_url": BASE, "package_name": "com.supportdesk.coins"})
    assert client.credentials("https://www.googleapis.com/auth/androidpublisher").token == "adc-token"
    assert asked == [["https://www.googleapis.com/auth/androidpublisher"]]

    def missing(scopes: list[str]) -> None:
        raise DefaultCredentialsError("Could not automatically determine credentials.")

    monkeypatch.setattr(google.auth, "default", missing)
    with pytest.raises(ConfigError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        GoogleClient({"base_url": BASE, "package_name": "com.supportdesk.coins"}).credentials("s")
