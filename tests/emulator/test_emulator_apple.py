"""The App Store Server API stand-in, checked with Apple's own library where it can be pointed at us."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from appstoreserverlibrary.api_client import AppStoreServerAPIClient, GetTransactionHistoryVersion
from appstoreserverlibrary.models.ConsumptionRequest import ConsumptionRequest
from appstoreserverlibrary.models.DeliveryStatus import DeliveryStatus
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.models.NotificationHistoryRequest import NotificationHistoryRequest
from appstoreserverlibrary.models.TransactionHistoryRequest import TransactionHistoryRequest
from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier, VerificationException
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from emulator_support import BUNDLE_ID, CUSTOMER_A, DAY_MS, LOCAL, NOW_MS, apple_jwt, apple_transactions

from supportdesk.emulator.apple import apple_order_id
from supportdesk.emulator.pki import Keys
from supportdesk.emulator.server import EmulatorHandle

FIRST_A = "2000000000000"


def verifier(config: dict[str, Any], root_pem: str | None = None) -> SignedDataVerifier:
    apple = config["stores"]["apple"]
    pem = root_pem or apple["root_certificates"][0]
    root_der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    return SignedDataVerifier([root_der], False, Environment.PRODUCTION, apple["bundle_id"], apple["app_apple_id"])


def library_client(config: dict[str, Any]) -> AppStoreServerAPIClient:
    apple = config["stores"]["apple"]
    client = AppStoreServerAPIClient(
        apple["private_key"].encode(), apple["key_id"], apple["issuer_id"], apple["bundle_id"], Environment.PRODUCTION
    )
    client._base_url = apple["base_url"]  # the library has no public way to change its host
    return client


def transaction_ids(config: dict[str, Any], signed: list[str]) -> list[str]:
    check = verifier(config)
    return [check.verify_and_decode_signed_transaction(s).transactionId for s in signed]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic abc"},
    ],
)
def test_refuses_requests_without_a_valid_token(
    emulator: EmulatorHandle, config: dict[str, Any], headers: dict
) -> None:
    response = LOCAL.get(
        f"{config['stores']['apple']['base_url']}/inApps/v1/transactions/{FIRST_A}", headers=headers
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [{"bid": "com.other.app"}, {"aud": "someone-else"}, {"iss": "another-issuer"}, {"exp": 10**10}, {"exp": 1000}],
)
def test_refuses_tokens_with_wrong_claims(
    emulator: EmulatorHandle, config: dict[str, Any], overrides: dict
) -> None:
    headers = {"Authorization": f"Bearer {apple_jwt(config, **overrides)}"}
    response = LOCAL.get(
        f"{config['stores']['apple']['base_url']}/inApps/v1/transactions/{FIRST_A}", headers=headers
    )
    assert response.status_code == 401


def test_refuses_a_token_signed_with_another_key(emulator: EmulatorHandle, config: dict[str, Any]) -> None:
    apple = config["stores"]["apple"]
    other = ec.generate_private_key(ec.SECP256R1())
    claims = jwt.decode(apple_jwt(config), options={"verify_signature": False})
    token = jwt.encode(claims, other, algorithm="ES256", headers={"kid": apple["key_id"]})
    response = LOCAL.get(
        f"{apple['base_url']}/inApps/v1/transactions/{FIRST_A}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


def test_signed_transaction_verifies_with_the_generated_root_only(
    apple: httpx.Client, config: dict[str, Any]
) -> None:
    signed = apple.get(f"/inApps/v1/transactions/{FIRST_A}").json()["signedTransactionInfo"]
    decoded = verifier(config).verify_and_decode_signed_transaction(signed)
    assert decoded.transactionId == FIRST_A
    assert decoded.appAccountToken == CUSTOMER_A
    assert decoded.rawEnvironment == "Production" and decoded.signedDate == NOW_MS
    other_root = Keys.generate().root_cert
    with pytest.raises(VerificationException):
        verifier(config, other_root).verify_and_decode_signed_transaction(signed)


def test_unknown_and_invalid_transaction_ids_get_apple_errors(apple: httpx.Client) -> None:
    missing = apple.get("/inApps/v1/transactions/1999999999999")
    invalid = apple.get("/inApps/v1/transactions/not-a-number")
    assert (missing.status_code, missing.json()["errorCode"]) == (404, 4040010)
    assert (invalid.status_code, invalid.json()["errorCode"]) == (400, 4000006)
    assert missing.headers["content-type"] == "application/json"


def test_history_pages_cover_the_customer_exactly_once(apple: httpx.Client, config: dict[str, Any]) -> None:
    seen, revision, pages = [], None, 0
    while True:
        params = {"revision": revision} if revision else {}
        body = apple.get(f"/inApps/v2/history/{FIRST_A}", params=params).json()
        seen += transaction_ids(config, body["signedTransactions"])
        assert body["bundleId"] == BUNDLE_ID and body["environment"] == "Production"
        revision, pages = body["revision"], pages + 1
        if not body["hasMore"]:
            break
    expected = [t["transactionId"] for t in apple_transactions() if t.get("appAccountToken") == CUSTOMER_A]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert pages == 3


def test_history_rejects_a_revision_it_did_not_issue(apple: httpx.Client) -> None:
    response = apple.get(f"/inApps/v2/history/{FIRST_A}", params={"revision": "garbage!"})
    assert (response.status_code, response.json()["errorCode"]) == (400, 4000005)


def test_refund_lookup_lists_the_customers_refunds(apple: httpx.Client, config: dict[str, Any]) -> None:
    body = apple.get(f"/inApps/v2/refund/lookup/{FIRST_A}").json()
    refunded = [t["transactionId"] for t in apple_transactions() if t.get("revocationDate")]
    assert sorted(transaction_ids(config, body["signedTransactions"])) == sorted(refunded)
    assert body["hasMore"] is False


def test_order_lookup_by_given_and_derived_order_ids(apple: httpx.Client, config: dict[str, Any]) -> None:
    given = apple.get("/inApps/v1/lookup/MKORDER0001").json()
    derived_id = apple_order_id({"transactionId": "2000000001002"})
    derived = apple.get(f"/inApps/v1/lookup/{derived_id}").json()
    unknown = apple.get("/inApps/v1/lookup/MKNOSUCH").json()
    assert given["status"] == 0
    assert sorted(transaction_ids(config, given["signedTransactions"])) == ["2000000001000", "2000000001001"]
    assert transaction_ids(config, derived["signedTransactions"]) == ["2000000001002"]
    assert unknown == {"status": 1, "signedTransactions": []}


def notification_window() -> dict[str, int]:
    return {"startDate": NOW_MS - 180 * DAY_MS, "endDate": NOW_MS}


def test_notification_history_pages_cover_the_window_exactly_once(
    apple: httpx.Client, config: dict[str, Any]
) -> None:
    check, seen, token = verifier(config), [], None
    while True:
        params = {"paginationToken": token} if token else {}
        body = apple.post("/inApps/v1/notifications/history", params=params, json=notification_window()).json()
        for item in body["notificationHistory"]:
            decoded = check.verify_and_decode_notification(item["signedPayload"])
            transaction = check.verify_and_decode_signed_transaction(decoded.data.signedTransactionInfo)
            seen.append((decoded.rawNotificationType, transaction.transactionId, decoded.signedDate))
        token = body.get("paginationToken")
        if not body["hasMore"]:
            break
    start = NOW_MS - 180 * DAY_MS
    expected = []
    for t in apple_transactions():
        for kind, field in (("ONE_TIME_CHARGE", "purchaseDate"), ("CONSUMPTION_REQUEST", "consumptionRequestDate"),
                            ("REFUND", "revocationDate")):  # fmt: skip
            if t.get(field) is not None and start <= t[field] <= NOW_MS:
                expected.append((kind, t["transactionId"], t[field]))
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert len(expected) > 40  # more than two pages
    assert any(t["purchaseDate"] < start for t in apple_transactions())  # the window did leave some out


def test_notification_history_refuses_a_start_older_than_180_days(apple: httpx.Client) -> None:
    body = {"startDate": NOW_MS - 181 * DAY_MS, "endDate": NOW_MS}
    response = apple.post("/inApps/v1/notifications/history", json=body)
    assert (response.status_code, response.json()["errorCode"]) == (400, 4000012)


def test_notification_before_a_refund_shows_the_transaction_unrefunded(apple: httpx.Client, config: dict) -> None:
    body = apple.post("/inApps/v1/notifications/history", json={**notification_window(),
                                                                  "notificationType": "CONSUMPTION_REQUEST"}).json()  # fmt: skip
    check = verifier(config)
    decoded = [check.verify_and_decode_notification(i["signedPayload"]) for i in body["notificationHistory"]]
    assert decoded and all(d.rawNotificationType == "CONSUMPTION_REQUEST" for d in decoded)
    assert all(d.data.rawConsumptionRequestReason == "UNSATISFIED_WITH_PURCHASE" for d in decoded)
    transactions = [check.verify_and_decode_signed_transaction(d.data.signedTransactionInfo) for d in decoded]
    assert all(t.revocationDate is None for t in transactions)


def test_consumption_answer_is_accepted_and_recorded(apple: httpx.Client, emulator: EmulatorHandle) -> None:
    answer = {"customerConsented": True, "sampleContentProvided": False, "deliveryStatus": "DELIVERED",
              "consumptionPercentage": 25000, "refundPreference": "GRANT_PRORATED"}  # fmt: skip
    response = apple.put("/inApps/v2/transactions/consumption/2000000000003", json=answer)
    refused = apple.put(
        "/inApps/v2/transactions/consumption/2000000000003", json={**answer, "customerConsented": False}
    )
    recorded = LOCAL.get(f"{emulator.base_url}/_emulator/consumption").json()["consumption"]
    assert response.status_code == 202
    assert refused.status_code == 400 and refused.json()["errorCode"] == 4000035
    assert [(c["transactionId"], c["body"]) for c in recorded] == [("2000000000003", answer)]


def test_apples_own_client_works_against_the_emulator(emulator: EmulatorHandle, config: dict[str, Any]) -> None:
    client = library_client(config)
    info = client.get_transaction_info(FIRST_A)
    history = client.get_transaction_history(
        FIRST_A, None, TransactionHistoryRequest(), GetTransactionHistoryVersion.V2
    )
    refunds = client.get_refund_history(FIRST_A, None)
    notifications = client.get_notification_history(None, NotificationHistoryRequest(**notification_window()))
    order = client.look_up_order_id("MKORDER0001")
    consent = ConsumptionRequest(
        customerConsented=True, sampleContentProvided=False, deliveryStatus=DeliveryStatus.DELIVERED
    )
    client.send_consumption_information("2000000000013", consent)
    assert transaction_ids(config, [info.signedTransactionInfo]) == [FIRST_A]
    assert len(history.signedTransactions) == 20 and history.hasMore
    assert refunds.signedTransactions and len(notifications.notificationHistory) == 20
    assert order.rawStatus == 0
