from __future__ import annotations

import time as wall_clock
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import jwt
import pytest
import respx

from supportdesk.errors import ConfigError
from supportdesk.stores.apple import AppleClient
from supportdesk.stores.errors import (
    StoreAuthFailed,
    StoreBadResponse,
    StoreBadSignature,
    StoreNotFound,
    StoreRateLimited,
    StoreRejected,
    StoreTimeout,
    StoreUnavailable,
)
from tests.stores.fakes import FakeTime
from tests.stores.signing import apple_config, make_pki, notification, transaction

BASE = "http://apple.test/apple"
TXN_URL = f"{BASE}/inApps/v1/transactions/2000000001"
HISTORY_URL = f"{BASE}/inApps/v1/notifications/history"


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(time: FakeTime) -> Iterator[AppleClient]:
    c = AppleClient(apple_config(BASE), policy=time.policy(), clock=lambda: 1_800_000_000.0)
    yield c
    c.close()


def signed(txn: dict | None = None) -> httpx.Response:  # type: ignore[type-arg]
    return httpx.Response(200, json={"signedTransactionInfo": make_pki().sign(txn or transaction())})


def apple_error(status: int, code: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"errorCode": code, "errorMessage": message}, headers=headers)


@respx.mock
def test_api_token_is_es256_with_apple_claims_and_cached(client: AppleClient) -> None:
    route = respx.get(TXN_URL).mock(return_value=signed())
    client.get_transaction_info("2000000001")
    client.get_transaction_info("2000000001")
    tokens = {call.request.headers["authorization"] for call in route.calls}
    assert len(tokens) == 1  # cached, not minted per call
    token = tokens.pop().removeprefix("Bearer ")
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": "KEY123", "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "appstoreconnect-v1" and claims["bid"] == "com.supportdesk.coins"
    assert claims["iss"] == "issuer-1" and 0 < claims["exp"] - claims["iat"] <= 3600


@respx.mock
def test_transaction_is_verified_and_decoded(client: AppleClient) -> None:
    respx.get(TXN_URL).mock(return_value=signed(transaction(price=1990)))
    assert client.get_transaction_info("2000000001")["price"] == 1990


@respx.mock
def test_unknown_transaction_is_not_found(client: AppleClient) -> None:
    respx.get(TXN_URL).mock(return_value=apple_error(404, 4040010, "Transaction id not found."))
    with pytest.raises(StoreNotFound, match=r"Transaction id not found\. \(errorCode 4040010\)") as err:
        client.get_transaction_info("2000000001")
    assert err.value.store_code == 4040010 and err.value.retries == 0


def retry_at(seconds: float) -> str:
    """Apple's Retry-After: the UNIX time in milliseconds of the next allowed request ("Identifying rate limits")."""
    return str(int((wall_clock.time() + seconds) * 1000))


@respx.mock
def test_rate_limit_honours_retry_after_then_gives_up(client: AppleClient, time: FakeTime) -> None:
    route = respx.get(TXN_URL).mock(side_effect=lambda request: apple_error(
        429, 4290000, "Rate limit exceeded.", **{"Retry-After": retry_at(2)}))
    with pytest.raises(StoreRateLimited) as err:
        client.get_transaction_info("2000000001")
    assert route.call_count == 4 and len(time.sleeps) == 3 and all(1.5 < s <= 2 for s in time.sleeps)
    assert err.value.message.startswith("The App Store is rate-limiting us (transaction 2000000001); retried 3 times")


@respx.mock
def test_rate_limit_then_success(client: AppleClient, time: FakeTime) -> None:
    respx.get(TXN_URL).mock(side_effect=[
        apple_error(429, 4290000, "Rate limit exceeded.", **{"Retry-After": retry_at(1)}), signed()])
    assert client.get_transaction_info("2000000001")["transactionId"] == "2000000001"
    assert len(time.sleeps) == 1 and 0.5 < time.sleeps[0] <= 1  # not 1.8e12 s: epoch ms, not seconds


@respx.mock
def test_production_falls_back_to_sandbox_on_transaction_not_found(time: FakeTime) -> None:
    """Apple: look up in Production, then in Sandbox on 4040010 (TestFlight and App Review buy in Sandbox)."""
    c = AppleClient(apple_config(BASE, environment="Production", sandbox_base_url="http://sandbox.test/apple"),
                    policy=time.policy())
    respx.get(TXN_URL).mock(return_value=apple_error(404, 4040010, "Transaction id not found."))
    sandbox = respx.get("http://sandbox.test/apple/inApps/v1/transactions/2000000001").mock(
        return_value=signed(transaction(environment="Sandbox")))
    assert c.get_transaction_info("2000000001")["environment"] == "Sandbox" and sandbox.call_count == 1
    respx.get(f"{BASE}/inApps/v1/transactions/2000000002").mock(
        return_value=apple_error(400, 4000006, "Invalid transaction id."))
    with pytest.raises(StoreRejected):  # not a "not found": no second look
        c.get_transaction_info("2000000002")
    c.close()


def test_production_without_app_apple_id_names_the_key() -> None:
    with pytest.raises(ConfigError, match="app_apple_id is required for environment Production"):
        AppleClient(apple_config(BASE, environment="Production", app_apple_id=None))


@respx.mock
def test_der_cer_root_file_is_accepted(client: AppleClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cer = tmp_path / "AppleRootCA-G3.cer"  # as Apple ships it: DER
    cer.write_bytes(x509.load_pem_x509_certificate(make_pki().root_pem.encode()).public_bytes(Encoding.DER))
    c = AppleClient(apple_config(BASE, root_certificates=[str(cer)]))
    respx.get(TXN_URL).mock(return_value=signed())
    assert c.get_transaction_info("2000000001")["transactionId"] == "2000000001"
    c.close()
    (tmp_path / "junk.cer").write_bytes(b"not a certificate")
    with pytest.raises(ConfigError, match="junk.cer is not a PEM or DER certificate"):
        AppleClient(apple_config(BASE, root_certificates=[str(tmp_path / "junk.cer")])).verifier()


@pytest.mark.parametrize("status", [500, 503])
@respx.mock
def test_server_errors_are_retried_then_unavailable(client: AppleClient, time: FakeTime, status: int) -> None:
    route = respx.get(TXN_URL).mock(return_value=apple_error(status, 5000000, "An unknown error occurred."))
    with pytest.raises(StoreUnavailable, match=f"HTTP {status}") as err:
        client.get_transaction_info("2000000001")
    assert route.call_count == 4 and err.value.retries == 3 and len(time.sleeps) == 3


@respx.mock
def test_timeout_is_retried_then_store_timeout(client: AppleClient) -> None:
    route = respx.get(TXN_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(StoreTimeout, match="did not answer in time") as err:
        client.get_transaction_info("2000000001")
    assert route.call_count == 4 and err.value.retries == 3


@respx.mock
def test_connection_refused_is_unavailable(client: AppleClient) -> None:
    respx.get(TXN_URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        client.get_transaction_info("2000000001")


@respx.mock
def test_malformed_json_is_a_bad_response_not_retried(client: AppleClient) -> None:
    route = respx.get(TXN_URL).mock(return_value=httpx.Response(200, text='{"truncated": [1, 2'))
    with pytest.raises(StoreBadResponse, match="not JSON"):
        client.get_transaction_info("2000000001")
    assert route.call_count == 1


@respx.mock
def test_wrong_shape_is_a_bad_response(client: AppleClient) -> None:
    respx.get(TXN_URL).mock(return_value=httpx.Response(200, json={"something": "else"}))
    with pytest.raises(StoreBadResponse, match="signedTransactionInfo"):
        client.get_transaction_info("2000000001")


@respx.mock
def test_bad_token_is_auth_failed_after_one_fresh_token(client: AppleClient) -> None:
    route = respx.get(TXN_URL).mock(return_value=httpx.Response(401, text="Unauthenticated"))
    with pytest.raises(StoreAuthFailed, match="refused our credentials"):
        client.get_transaction_info("2000000001")
    assert route.call_count == 2


@respx.mock
def test_broken_signature_is_refused(client: AppleClient) -> None:
    token = make_pki().sign(transaction())
    head, body, sig = token.split(".")
    forged = jwt.encode(transaction(price=1), "k" * 32, algorithm="HS256").split(".")[1]
    respx.get(TXN_URL).mock(return_value=httpx.Response(200, json={"signedTransactionInfo": f"{head}.{forged}.{sig}"}))
    with pytest.raises(StoreBadSignature, match="refuse to trust") as err:
        client.get_transaction_info("2000000001")
    assert err.value.code == "store_bad_signature"


@respx.mock
def test_chain_from_another_root_is_refused(client: AppleClient) -> None:
    respx.get(TXN_URL).mock(return_value=httpx.Response(200, json={
        "signedTransactionInfo": make_pki("Impostor").sign(transaction())}))
    with pytest.raises(StoreBadSignature, match="does not verify against the configured Apple root"):
        client.get_transaction_info("2000000001")


@respx.mock
def test_other_bundle_id_and_environment_are_refused(client: AppleClient) -> None:
    respx.get(TXN_URL).mock(side_effect=[signed(transaction(bundleId="com.other.app")),
                                         signed(transaction(environment="Production"))])
    with pytest.raises(StoreBadSignature, match="for another app"):
        client.get_transaction_info("2000000001")
    with pytest.raises(StoreBadSignature, match="another environment"):
        client.get_transaction_info("2000000001")


def test_config_that_would_skip_verification_is_refused() -> None:
    with pytest.raises(ConfigError, match="Sandbox or Production"):
        AppleClient(apple_config(BASE, environment="Xcode"))
    with pytest.raises(ConfigError, match="missing root_certificates"):
        AppleClient(apple_config(BASE, root_certificates=[]))


@respx.mock
def test_notification_history_pages_and_verifies_each(client: AppleClient) -> None:
    pki = make_pki()
    first = [notification(transaction(str(i)), pki) for i in range(20)]
    route = respx.post(HISTORY_URL).mock(side_effect=[
        httpx.Response(200, json={"notificationHistory": first, "hasMore": True, "paginationToken": "p2"}),
        httpx.Response(200, json={"notificationHistory": [notification(transaction("20"), pki, "REFUND")],
                                  "hasMore": False}),
    ])
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
    found = client.get_notification_history(start, end, "ONE_TIME_CHARGE")
    assert [n["transaction"]["transactionId"] for n in found] == [str(i) for i in range(21)]
    assert found[-1]["notificationType"] == "REFUND"
    assert "paginationToken" not in route.calls[0].request.url.params
    assert route.calls[1].request.url.params["paginationToken"] == "p2"
    import json
    body = json.loads(route.calls[0].request.content)
    assert body == {"startDate": int(start.timestamp() * 1000), "endDate": int(end.timestamp() * 1000),
                    "notificationType": "ONE_TIME_CHARGE"}


@respx.mock
def test_notification_history_post_is_retried_as_a_read(client: AppleClient) -> None:
    route = respx.post(HISTORY_URL).mock(side_effect=[
        apple_error(503, 5000001, "Try again."), httpx.Response(200, json={"notificationHistory": [],
                                                                          "hasMore": False})])
    assert client.get_notification_history(datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 2, tzinfo=UTC)) == []
    assert route.call_count == 2


@respx.mock
def test_history_follows_revision(client: AppleClient) -> None:
    pki = make_pki()
    url = f"{BASE}/inApps/v2/history/2000000001"
    route = respx.get(url).mock(side_effect=[
        httpx.Response(200, json={"signedTransactions": [pki.sign(transaction("1"))], "revision": "r1",
                                  "hasMore": True}),
        httpx.Response(200, json={"signedTransactions": [pki.sign(transaction("2"))], "revision": "r2",
                                  "hasMore": False}),
    ])
    assert [t["transactionId"] for t in client.get_transaction_history("2000000001")] == ["1", "2"]
    assert route.calls[1].request.url.params["revision"] == "r1"


@respx.mock
def test_order_lookup_invalid_is_not_found(client: AppleClient) -> None:
    respx.get(f"{BASE}/inApps/v1/lookup/MK1").mock(return_value=httpx.Response(200, json={
        "status": 1, "signedTransactions": []}))
    with pytest.raises(StoreNotFound, match="no valid order MK1"):
        client.look_up_order_id("MK1")


@respx.mock
def test_consumption_information_is_a_put_with_apple_fields(client: AppleClient) -> None:
    route = respx.put(f"{BASE}/inApps/v2/transactions/consumption/2000000001").mock(
        return_value=httpx.Response(202))
    client.send_consumption_information("2000000001", customer_consented=True, delivery_status="DELIVERED",
                                        refund_preference="GRANT_PRORATED", consumption_percentage=25000)
    import json
    assert json.loads(route.calls[0].request.content) == {
        "customerConsented": True, "deliveryStatus": "DELIVERED", "sampleContentProvided": False,
        "refundPreference": "GRANT_PRORATED", "consumptionPercentage": 25000}


@respx.mock
def test_a_chain_is_verified_once_and_a_forged_payload_on_it_still_refused(client: AppleClient,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    chain = client.verifier()._chain_verifier
    calls = []
    real = chain.verify_chain
    monkeypatch.setattr(chain, "verify_chain", lambda *a, **k: calls.append(1) or real(*a, **k))
    pki = make_pki()
    respx.get(TXN_URL).mock(side_effect=[httpx.Response(200, json={"signedTransactionInfo": pki.sign(
        transaction(price=p))}) for p in (1, 2, 3)])
    assert [client.get_transaction_info("2000000001")["price"] for _ in range(3)] == [1, 2, 3]
    assert len(calls) == 1  # the same chain: its key kept, each payload's signature still checked
    head, _, sig = pki.sign(transaction(price=4)).split(".")
    forged = pki.sign(transaction(price=999)).split(".")[1]
    respx.get(TXN_URL).mock(return_value=httpx.Response(200, json={"signedTransactionInfo": f"{head}.{forged}.{sig}"}))
    with pytest.raises(StoreBadSignature, match="refuse to trust"):
        client.get_transaction_info("2000000001")
