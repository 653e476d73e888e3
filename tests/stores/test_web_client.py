from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from supportdesk.errors import InvalidInput
from supportdesk.stores.errors import (
    StoreAuthFailed,
    StoreBadResponse,
    StoreNotFound,
    StoreRateLimited,
    StoreRejected,
    StoreTimeout,
    StoreUnavailable,
)
from supportdesk.stores.web import WebClient
from tests.stores.fakes import FakeTime

# stripe-python hands httpx the form body as `data=`; httpx prefers `content=` for raw bytes.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

BASE = "http://web.test/web"
CHARGE_URL = f"{BASE}/v1/charges/ch_1"


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(time: FakeTime) -> Iterator[WebClient]:
    c = WebClient({"base_url": BASE, "secret_key": "sk_test_1"}, policy=time.policy())
    yield c
    c.close()


def charge(cid: str = "ch_1", **over: object) -> dict[str, object]:
    return {"id": cid, "object": "charge", "amount": 999, "currency": "usd", "created": 1772366400, **over}


def stripe_error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"error": {"type": kind, "message": message,
                                                                   "code": code}})


@respx.mock
def test_get_charge_goes_to_the_path_prefixed_base_with_the_secret_key(client: WebClient) -> None:
    route = respx.get(CHARGE_URL).mock(return_value=httpx.Response(200, json=charge(metadata={"a": "b"})))
    assert client.get_charge("ch_1")["metadata"] == {"a": "b"}
    assert route.calls[0].request.headers["authorization"] == "Bearer sk_test_1"


@respx.mock
def test_list_charges_pages_with_starting_after(client: WebClient) -> None:
    route = respx.get(f"{BASE}/v1/charges").mock(side_effect=[
        httpx.Response(200, json={"object": "list", "data": [charge("ch_2"), charge("ch_1")], "has_more": True}),
        httpx.Response(200, json={"object": "list", "data": [charge("ch_0")], "has_more": False}),
    ])
    assert [c["id"] for c in client.list_charges(created_gte=100, created_lte=200)] == ["ch_2", "ch_1", "ch_0"]
    first, second = (c.request.url.params for c in route.calls)
    assert first["created[gte]"] == "100" and first["created[lte]"] == "200" and "starting_after" not in first
    assert second["starting_after"] == "ch_1"


@respx.mock
def test_429_honours_retry_after_which_stripe_itself_would_not_retry(client: WebClient, time: FakeTime) -> None:
    route = respx.get(CHARGE_URL).mock(side_effect=[
        stripe_error(429, "Too many requests.", code="rate_limit", **{"Retry-After": "3"}),
        httpx.Response(200, json=charge()),
    ])
    assert client.get_charge("ch_1")["id"] == "ch_1"
    assert route.call_count == 2 and time.sleeps == [3]


@respx.mock
def test_429_exhausted(client: WebClient, time: FakeTime) -> None:
    route = respx.get(CHARGE_URL).mock(return_value=stripe_error(429, "Slow down.", code="rate_limit",
                                                                 **{"Retry-After": "2"}))
    with pytest.raises(StoreRateLimited, match="retried 3 times over 6 s") as err:
        client.get_charge("ch_1")
    assert route.call_count == 4 and err.value.retries == 3


@pytest.mark.parametrize("status", [500, 503])
@respx.mock
def test_server_errors_retried_once_each_by_us_not_by_stripe(client: WebClient, status: int) -> None:
    route = respx.get(CHARGE_URL).mock(return_value=stripe_error(status, "An unknown error occurred.", "api_error"))
    with pytest.raises(StoreUnavailable, match=f"HTTP {status}"):
        client.get_charge("ch_1")
    assert route.call_count == 4


@respx.mock
def test_timeout(client: WebClient) -> None:
    route = respx.get(CHARGE_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(StoreTimeout):
        client.get_charge("ch_1")
    assert route.call_count == 4


@respx.mock
def test_malformed_json(client: WebClient) -> None:
    respx.get(CHARGE_URL).mock(return_value=httpx.Response(200, text='{"truncated": [1, 2'))
    with pytest.raises(StoreBadResponse, match="cannot read"):
        client.get_charge("ch_1")


@respx.mock
def test_list_without_data_is_a_bad_response(client: WebClient) -> None:
    respx.get(f"{BASE}/v1/disputes").mock(return_value=httpx.Response(200, json={"object": "list"}))
    with pytest.raises(StoreBadResponse, match="'data'"):
        client.list_disputes()


@respx.mock
def test_unknown_charge_is_not_found(client: WebClient) -> None:
    respx.get(CHARGE_URL).mock(return_value=stripe_error(404, "No such charge: 'ch_1'", code="resource_missing"))
    with pytest.raises(StoreNotFound, match="No such charge"):
        client.get_charge("ch_1")


@respx.mock
def test_bad_key_is_auth_failed(client: WebClient) -> None:
    respx.get(CHARGE_URL).mock(return_value=stripe_error(401, "Invalid API Key provided."))
    with pytest.raises(StoreAuthFailed, match="Invalid API Key"):
        client.get_charge("ch_1")


@respx.mock
def test_refund_sends_the_idempotency_key_and_is_retried_safely(client: WebClient) -> None:
    route = respx.post(f"{BASE}/v1/refunds").mock(side_effect=[
        stripe_error(503, "Busy.", "api_error"),
        httpx.Response(200, json={"id": "re_1", "object": "refund", "amount": 500, "charge": "ch_1"}),
    ])
    refund = client.create_refund("ch_1", amount=500, reason="requested_by_customer", idempotency_key="k-1")
    assert refund["id"] == "re_1"
    assert [c.request.headers["idempotency-key"] for c in route.calls] == ["k-1", "k-1"]
    assert parse_qs(route.calls[0].request.content.decode()) == {
        "charge": ["ch_1"], "amount": ["500"], "reason": ["requested_by_customer"],
        "metadata[supportdesk_refund_id]": ["k-1"]}  # finds it again after the key is pruned


# The shapes below are the Charge and Refund objects as the processor's API reference shows them
# (docs.stripe.com/api/charges/object, docs.stripe.com/api/refunds/object) at API version 2022-11-15 and later:
# the charge carries amount_refunded and refunded but no `refunds` list.
REAL_CHARGE = {
    "id": "ch_3MmlLrLkdIwHu7ix0snN0B15", "object": "charge", "amount": 1099, "amount_captured": 1099,
    "amount_refunded": 400, "application": None, "application_fee": None, "application_fee_amount": None,
    "balance_transaction": "txn_3MmlLrLkdIwHu7ix0uke3Ezy",
    "billing_details": {"address": {"city": None, "country": "US", "line1": None, "line2": None,
                                    "postal_code": None, "state": None}, "email": None, "name": None, "phone": None},
    "calculated_statement_descriptor": "Stripe", "captured": True, "created": 1679090539, "currency": "usd",
    "customer": "cus_NZzYy7xPxVFzEF", "description": None, "disputed": False, "failure_balance_transaction": None,
    "failure_code": None, "failure_message": None, "fraud_details": {}, "livemode": False,
    "metadata": {"account_id": "acc_1", "product_id": "coins_350"}, "on_behalf_of": None, "outcome": None,
    "paid": True, "payment_intent": "pi_3MmlLrLkdIwHu7ix0jFd0a7I", "payment_method": "pm_1MmlLrLkdIwHu7ixIJwEWSNR",
    "payment_method_details": {"card": {"brand": "visa", "country": "US", "exp_month": 3, "exp_year": 2024,
                                        "fingerprint": "mToisGZ01V71BCos", "funding": "credit", "last4": "4242"},
                               "type": "card"},
    "receipt_email": None, "receipt_number": None, "refunded": False, "review": None, "shipping": None,
    "source_transfer": None, "statement_descriptor": None, "statement_descriptor_suffix": None,
    "status": "succeeded", "transfer_data": None, "transfer_group": None,
}
REAL_REFUNDS = {
    "object": "list", "url": "/v1/refunds", "has_more": False,
    "data": [{
        "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ", "object": "refund", "amount": 400,
        "balance_transaction": "txn_1Nispe2eZvKYlo2CYezqFhEx", "charge": "ch_3MmlLrLkdIwHu7ix0snN0B15",
        "created": 1692942318, "currency": "usd", "destination_details": {"card": {"reference_status": "pending",
                                                                                    "type": "refund"},
                                                                           "type": "card"},
        "metadata": {}, "payment_intent": "pi_3MmlLrLkdIwHu7ix0jFd0a7I", "reason": "requested_by_customer",
        "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded", "transfer_reversal": None,
    }],
}


@respx.mock
def test_a_refunded_charge_reads_its_refunds_from_the_refunds_api(client: WebClient) -> None:
    from supportdesk.stores.records import web_record

    cid = REAL_CHARGE["id"]
    respx.get(f"{BASE}/v1/charges/{cid}").mock(return_value=httpx.Response(200, json=REAL_CHARGE))
    refunds = respx.get(f"{BASE}/v1/refunds").mock(return_value=httpx.Response(200, json=REAL_REFUNDS))
    record = web_record(client.get_charge(str(cid)))
    assert dict(refunds.calls[0].request.url.params)["charge"] == cid
    assert (record.state, record.refunded_minor, record.refund_reason) == ("refunded", 400, "requested_by_customer")
    assert record.refunded_at is not None and int(record.refunded_at.timestamp()) == 1692942318


@respx.mock
def test_our_refund_is_found_by_its_metadata(client: WebClient) -> None:
    ours = {**REAL_REFUNDS["data"][0], "id": "re_ours", "metadata": {"supportdesk_refund_id": "rf_1"}}
    respx.get(f"{BASE}/v1/refunds").mock(return_value=httpx.Response(200, json={**REAL_REFUNDS,
                                                                               "data": [REAL_REFUNDS["data"][0], ours]}))
    assert client.find_our_refund("ch_3MmlLrLkdIwHu7ix0snN0B15", "rf_1")["id"] == "re_ours"
    assert client.find_our_refund("ch_3MmlLrLkdIwHu7ix0snN0B15", "rf_2") is None


@respx.mock
def test_refund_refusal_carries_the_processors_message(client: WebClient) -> None:
    respx.post(f"{BASE}/v1/refunds").mock(return_value=stripe_error(
        400, "Charge ch_1 has already been refunded.", code="charge_already_refunded"))
    with pytest.raises(StoreRejected, match="already been refunded") as err:
        client.create_refund("ch_1", idempotency_key="k-2")
    assert err.value.store_code == "charge_already_refunded"


def test_refund_needs_a_key_and_a_known_reason(client: WebClient) -> None:
    with pytest.raises(InvalidInput, match="idempotency key"):
        client.create_refund("ch_1", idempotency_key="")
    with pytest.raises(InvalidInput, match="refund reason"):
        client.create_refund("ch_1", idempotency_key="k", reason="because")
