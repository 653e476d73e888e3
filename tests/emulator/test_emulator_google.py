"""The Play Developer API, its token endpoint and the RTDN subscription."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from emulator_support import DAY_MS, LOCAL, NOW_MS, google_purchases

from supportdesk.emulator.server import EmulatorHandle

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def assertion(config: dict[str, Any], key: Any = None, **overrides: Any) -> str:
    account = json.loads(open(config["stores"]["google"]["service_account_file"]).read())
    now = int(time.time())
    claims = {"iss": account["client_email"], "scope": SCOPE, "aud": account["token_uri"], "iat": now,
              "exp": now + 3600, **overrides}  # fmt: skip
    return jwt.encode(
        claims, key or account["private_key"], algorithm="RS256", headers={"kid": account["private_key_id"]}
    )


def token_response(config: dict[str, Any], signed: str) -> httpx.Response:
    account = json.loads(open(config["stores"]["google"]["service_account_file"]).read())
    return LOCAL.post(account["token_uri"], data={"grant_type": GRANT, "assertion": signed})


def test_service_account_file_points_google_auth_at_the_emulator(emulator: EmulatorHandle, config: dict) -> None:
    account = json.loads(open(config["stores"]["google"]["service_account_file"]).read())
    assert account["token_uri"] == f"{emulator.base_url}/google/token"
    assert account["type"] == "service_account"


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "https://example.com/token"}, {"iss": "someone@else.iam.gserviceaccount.com"},
     {"scope": "https://www.googleapis.com/auth/drive"}, {"exp": int(time.time()) + 7200}],
)  # fmt: skip
def test_token_endpoint_refuses_bad_assertions(emulator: EmulatorHandle, config: dict, overrides: dict) -> None:
    response = token_response(config, assertion(config, **overrides))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_token_endpoint_refuses_an_assertion_signed_by_another_key(emulator: EmulatorHandle, config: dict) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    response = token_response(config, assertion(config, key=pem))
    assert response.status_code == 400


def test_token_endpoint_answers_like_google(emulator: EmulatorHandle, config: dict) -> None:
    body = token_response(config, assertion(config)).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]


@pytest.mark.parametrize("authorization", [None, "Bearer ya29.not-issued-here", "Basic abc"])
def test_api_refuses_requests_without_an_issued_token(google: httpx.Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    google.headers.pop("Authorization")
    response = google.get("/purchases/products/coins_350/tokens/token-001", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_product_purchase_has_googles_shape(google: httpx.Client) -> None:
    body = google.get("/purchases/products/coins_350/tokens/token-001").json()
    assert body["kind"] == "androidpublisher#productPurchase"
    assert body["orderId"] == "GPA.3300-0000-0000-00001" and body["purchaseState"] == 0
    assert isinstance(body["purchaseTimeMillis"], str)
    assert body["obfuscatedExternalAccountId"] == "acc_1" and body["regionCode"] == "US"
    assert (body["priceAmountMicros"], body["priceCurrencyCode"]) == (4990000, "USD")


def test_unknown_purchase_token_is_googles_404(google: httpx.Client) -> None:
    response = google.get("/purchases/products/coins_350/tokens/no-such-token")
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["status"]) == (404, 404, "NOT_FOUND")
    assert error["errors"][0]["reason"] == "purchaseTokenNotFound"
    wrong_app = LOCAL.get(str(google.base_url).replace("com.supportdesk.coins", "com.other") + "purchases/voidedpurchases",
                          headers=google.headers)  # fmt: skip
    assert wrong_app.status_code == 404


def voided_pages(google: httpx.Client, **params: Any) -> tuple[list[str], int]:
    seen, token, pages = [], None, 0
    while True:
        query = {**params, "token": token} if token else params
        body = google.get("/purchases/voidedpurchases", params=query).json()
        seen += [v["orderId"] for v in body.get("voidedPurchases", [])]
        pages += 1
        token = body.get("tokenPagination", {}).get("nextPageToken")
        if not token:
            return seen, pages


def test_voided_pages_cover_the_last_30_days_exactly_once(google: httpx.Client) -> None:
    seen, pages = voided_pages(google, maxResults=2)
    start = NOW_MS - 30 * DAY_MS
    expected = [
        p["orderId"]
        for p in google_purchases()
        if p.get("voidedTimeMillis") and int(p["voidedTimeMillis"]) >= start and not p.get("voidedQuantity")
    ]  # a quantity-based partial void is listed only when asked for
    older = [p for p in google_purchases() if p.get("voidedTimeMillis") and int(p["voidedTimeMillis"]) < start]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert older and pages > 2


def test_voided_refuses_a_start_older_than_30_days(google: httpx.Client) -> None:
    response = google.get("/purchases/voidedpurchases", params={"startTime": NOW_MS - 31 * DAY_MS})
    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT")


def test_refund_voids_the_purchase_and_shows_in_voided(google: httpx.Client, emulator: EmulatorHandle) -> None:
    order_id = "GPA.3300-0000-0000-00029"
    refund = google.post(f"/orders/{order_id}:refund", params={"revoke": "true"})
    again = google.post(f"/orders/{order_id}:refund", params={"revoke": "true"})
    voided = google.get("/purchases/voidedpurchases").json()["voidedPurchases"]
    mine = [v for v in voided if v["orderId"] == order_id]
    assert (refund.status_code, refund.json()) == (200, {})
    assert again.status_code == 400
    assert mine and mine[0]["voidedSource"] == 1 and mine[0]["voidedTimeMillis"] == str(NOW_MS)
    assert google.get("/purchases/products/coins_350/tokens/token-029").json()["refundableQuantity"] == 0
    assert google.get(f"/orders/{order_id}").json()["state"] == "REFUNDED"


def test_refund_of_an_order_older_than_3_years_is_refused(google: httpx.Client) -> None:
    response = google.post("/orders/GPA.3300-0000-0000-00099:refund", params={"revoke": "true"})
    assert response.status_code == 400 and response.json()["error"]["errors"][0]["reason"] == "orderTooOld"


def test_orders_get_and_batch_get(google: httpx.Client) -> None:
    order = google.get("/orders/GPA.3300-0000-0000-00001").json()
    batch = google.get("/orders:batchGet", params=[("orderIds", "GPA.3300-0000-0000-00001"),
                                                    ("orderIds", "GPA.3300-0000-0000-00002")])  # fmt: skip
    assert order["state"] == "PROCESSED" and order["buyerAddress"] == {"buyerCountry": "US"}
    assert order["total"] == {"currencyCode": "USD", "units": "4", "nanos": 990000000}
    assert order["lineItems"][0]["productId"] == "coins_350"
    assert order["obfuscatedExternalAccountId"] == "acc_1"
    assert [o["orderId"] for o in batch.json()["orders"]] == [
        "GPA.3300-0000-0000-00001",
        "GPA.3300-0000-0000-00002",
    ]
    assert google.get("/orders/GPA.3300-0000-0000-00002").json()["state"] == "REFUNDED"
    assert google.get("/orders/nope").status_code == 404


def test_batch_get_fails_whole_on_one_unknown_or_repeated_id(google: httpx.Client) -> None:
    """orders.batchget: "If any order ID is not found ... the entire request will fail"; ids must be distinct."""
    known = ("orderIds", "GPA.3300-0000-0000-00001")
    unknown = google.get("/orders:batchGet", params=[known, ("orderIds", "nope")])
    repeated = google.get("/orders:batchGet", params=[known, known])
    assert unknown.status_code == 404 and "orders" not in unknown.json()
    assert unknown.json()["error"]["status"] == "NOT_FOUND"
    assert repeated.status_code == 400 and repeated.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_partial_refunds_show_in_the_order_and_quantity_voids_only_when_asked(google: httpx.Client) -> None:
    by_quantity = google.get("/orders/GPA.3300-0000-0000-00097").json()
    by_amount = google.get("/orders/GPA.3300-0000-0000-00098").json()
    assert by_quantity["state"] == by_amount["state"] == "PARTIALLY_REFUNDED"
    assert [e["refundDetails"]["total"] for e in by_quantity["orderHistory"]["partialRefundEvents"]] == [
        {"currencyCode": "USD", "units": "4", "nanos": 990000000}]
    assert [e["refundDetails"]["total"] for e in by_amount["orderHistory"]["partialRefundEvents"]] == [
        {"currencyCode": "USD", "units": "1", "nanos": 500000000}]
    assert "refundEvent" not in by_quantity["orderHistory"]
    window = {"startTime": NOW_MS - 29 * DAY_MS, "endTime": NOW_MS}
    plain = google.get("/purchases/voidedpurchases", params=window).json()["voidedPurchases"]
    asked = google.get("/purchases/voidedpurchases",
                       params={**window, "includeQuantityBasedPartialRefund": "true"}).json()["voidedPurchases"]
    assert "GPA.3300-0000-0000-00097" not in {v["orderId"] for v in plain}
    partial = [v for v in asked if v["orderId"] == "GPA.3300-0000-0000-00097"]
    assert [v["voidedQuantity"] for v in partial] == [1]
    purchase = google.get("/purchases/products/coins_350/tokens/token-097").json()
    assert purchase["purchaseState"] == 0 and purchase["refundableQuantity"] == 2


def pubsub_url(config: dict[str, Any], action: str) -> str:
    store = config["stores"]["google"]
    return f"{store['pubsub_base_url']}/v1/{store['subscription']}:{action}"


def decode(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(message["message"]["data"]))


def test_rtdn_pull_redelivers_after_the_ack_deadline_until_acknowledged(
        google: httpx.Client, config: dict, emulator: EmulatorHandle) -> None:
    emulator.state.rtdn.ack_deadline_s = 0.5
    first = google.post(pubsub_url(config, "pull"), json={"maxMessages": 100}).json()["receivedMessages"]
    started = time.monotonic()
    held = google.post(pubsub_url(config, "pull"), json={"maxMessages": 100}).json()  # outstanding: nothing
    waited = time.monotonic() - started
    time.sleep(0.5)
    again = google.post(pubsub_url(config, "pull"), json={"maxMessages": 100}).json()["receivedMessages"]
    ack = google.post(pubsub_url(config, "acknowledge"), json={"ackIds": [m["ackId"] for m in again]})
    after = google.post(pubsub_url(config, "pull"), json={"maxMessages": 100}).json()
    week = NOW_MS - 7 * DAY_MS
    assert first and all(week <= int(decode(m)["eventTimeMillis"]) <= NOW_MS for m in first)
    assert held == {} and waited >= 0.15  # an empty pull is held (Realism.pull_hold_s), then answers {}
    assert [m["message"]["messageId"] for m in again] == [m["message"]["messageId"] for m in first]
    assert ack.status_code == 200 and after == {}
    kinds = {next(k for k in decode(m) if k.endswith("Notification")) for m in first}
    assert kinds == {"oneTimeProductNotification", "voidedPurchaseNotification"}


def test_rtdn_announces_a_refund(google: httpx.Client, config: dict) -> None:
    old = google.post(pubsub_url(config, "pull"), json={"maxMessages": 100}).json()["receivedMessages"]
    google.post(pubsub_url(config, "acknowledge"), json={"ackIds": [m["ackId"] for m in old]})
    google.post("/orders/GPA.3300-0000-0000-00027:refund", params={"revoke": "true"})
    new = google.post(pubsub_url(config, "pull"), json={"maxMessages": 10}).json()["receivedMessages"]
    assert [decode(m)["voidedPurchaseNotification"]["orderId"] for m in new] == ["GPA.3300-0000-0000-00027"]
    assert decode(new[0])["packageName"] == config["stores"]["google"]["package_name"]


def test_pubsub_needs_a_token(emulator: EmulatorHandle, config: dict) -> None:
    assert LOCAL.post(pubsub_url(config, "pull"), json={"maxMessages": 1}).status_code == 401
