"""The App Store Server API, served under ``/apple`` from ``store/apple/transactions.jsonl``.

A transaction's order id is its record's ``orderId`` when present, otherwise ``apple_order_id`` derives a
stable one: ``"MK"`` + the first 8 characters of base32(sha256(transactionId)).
Page tokens (``revision``, ``paginationToken``) are opaque offsets; error codes follow Apple's library
(``appstoreserverlibrary.api_client.APIError``).
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from supportdesk.emulator.faults import Fault
from supportdesk.emulator.routing import (
    StoreRoutes,
    decode_page_token,
    encode_page_token,
    fault_kind,
    json_response,
    malformed_response,
)
from supportdesk.emulator.state import EmulatorState

PAGE_SIZE = 20
ENVIRONMENT = "Sandbox"
NOTIFICATION_WINDOW_MS = 180 * 86_400_000
_EMULATOR_FIELDS = ("orderId", "consumptionRequestDate", "consumptionRequestReason")
_REVOCATION_FIELDS = ("revocationDate", "revocationReason", "revocationType", "revocationPercentage")
_NOTIFICATION_NS = uuid.UUID("5b0e2d64-0c64-4b8e-9d44-6f0f6c1f4a11")
NOTIFICATION_TYPES = (
    "CONSUMPTION_REQUEST", "DID_CHANGE_RENEWAL_PREF", "DID_CHANGE_RENEWAL_STATUS", "DID_FAIL_TO_RENEW",
    "DID_RENEW", "EXPIRED", "EXTERNAL_PURCHASE_TOKEN", "GRACE_PERIOD_EXPIRED", "METADATA_UPDATE", "MIGRATION",
    "OFFER_REDEEMED", "ONE_TIME_CHARGE", "PRICE_CHANGE", "PRICE_INCREASE", "REFUND", "REFUND_DECLINED",
    "REFUND_REVERSED", "RENEWAL_EXTENDED", "RENEWAL_EXTENSION", "RESCIND_CONSENT", "REVOKE", "SUBSCRIBED", "TEST",
)  # fmt: skip
_PRODUCT_TYPES = {
    "CONSUMABLE": "Consumable",
    "NON_CONSUMABLE": "Non-Consumable",
    "AUTO_RENEWABLE": "Auto-Renewable Subscription",
    "NON_RENEWABLE": "Non-Renewing Subscription",
}
_DELIVERY = ("DELIVERED", "UNDELIVERED_QUALITY_ISSUE", "UNDELIVERED_WRONG_ITEM", "UNDELIVERED_SERVER_OUTAGE",
             "UNDELIVERED_OTHER")  # fmt: skip
_REFUND_PREFERENCES = ("DECLINE", "GRANT_FULL", "GRANT_PRORATED")


class AppleError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return json_response({"errorCode": self.code, "errorMessage": self.message}, self.status)


def error_response(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"errorCode": code, "errorMessage": message}, status, headers)


def unauthorized() -> Response:
    # Apple answers a bad token with a plain-text 401, not the JSON error shape.
    return Response(
        f"Unauthenticated\n\nRequest ID: {uuid.uuid4().hex[:26].upper()}.0.0", 401, media_type="text/plain"
    )


def on_fault(fault: Fault) -> Response | None:
    if fault.kind == "429":
        return error_response(429, 4290000, "Rate limit exceeded.", {"Retry-After": str(fault.arg)})
    if fault.kind == "500":
        return error_response(500, 5000000, "An unknown error occurred.")
    if fault.kind == "503":
        return error_response(503, 5000001, "An unknown error occurred. Please try again.")
    if fault.kind == "malformed":
        return malformed_response()
    if fault.kind == "expired_token":
        return unauthorized()
    return None  # bad_signature: the handler signs with a broken signature


def apple_order_id(record: dict[str, Any]) -> str:
    if record.get("orderId"):
        return str(record["orderId"])
    digest = hashlib.sha256(str(record["transactionId"]).encode()).digest()
    return "MK" + base64.b32encode(digest).decode()[:8]


def routes(emu: EmulatorState) -> StoreRoutes:
    api = AppleApi(emu)
    store = StoreRoutes(emu, "apple", api.authorize, on_fault)
    store.add("/inApps/v1/transactions/{transactionId}", api.transaction, ["GET"])
    store.add("/inApps/v2/history/{transactionId}", api.history, ["GET"])
    store.add("/inApps/v1/lookup/{orderId}", api.order_lookup, ["GET"])
    store.add("/inApps/v2/refund/lookup/{transactionId}", api.refund_history, ["GET"])
    store.add("/inApps/v1/notifications/history", api.notification_history, ["POST"])
    store.add("/inApps/v2/transactions/consumption/{transactionId}", api.consumption, ["PUT"])
    return store


class AppleApi:
    def __init__(self, emu: EmulatorState) -> None:
        self.emu = emu

    # --- auth -------------------------------------------------------------------------------------
    def authorize(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not self._token_ok(header.removeprefix("Bearer ").strip()):
            return unauthorized()
        return None

    def _token_ok(self, token: str) -> bool:
        keys, identity = self.emu.keys, self.emu.identity
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token,
                keys.apple_api_public_key,
                algorithms=["ES256"],
                audience="appstoreconnect-v1",
                issuer=keys.apple_issuer_id,
                options={"require": ["exp", "iss", "aud", "bid"]},
            )
        except jwt.PyJWTError:
            return False
        # Apple refuses tokens that live more than an hour (a minute of leeway for clock skew).
        return (
            header.get("kid") == keys.apple_key_id
            and claims.get("bid") == identity.bundle_id
            and claims["exp"] <= time.time() + 3600 + 60
        )

    # --- endpoints --------------------------------------------------------------------------------
    async def transaction(self, request: Request) -> Response:
        try:
            record = self._find(request.path_params["transactionId"])
        except AppleError as exc:
            return exc.response()
        return json_response({"signedTransactionInfo": self._sign_transaction(request, record)})

    async def history(self, request: Request) -> Response:
        try:
            record = self._find(request.path_params["transactionId"])
            rows = _filter_history(self._customer(record), request.query_params)
            page, next_offset, has_more = _page(rows, request.query_params.get("revision"), 4000005, "revision")
        except AppleError as exc:
            return exc.response()
        identity = self.emu.identity
        return json_response(
            {
                "revision": encode_page_token({"o": next_offset}),
                "hasMore": has_more,
                "bundleId": identity.bundle_id,
                "appAppleId": identity.app_apple_id,
                "environment": ENVIRONMENT,
                "signedTransactions": [self._sign_transaction(request, r) for r in page],
            }
        )

    async def order_lookup(self, request: Request) -> Response:
        order_id = request.path_params["orderId"]
        rows = [r for r in self.emu.apple.values() if apple_order_id(r) == order_id]
        signed = [self._sign_transaction(request, r) for r in rows]
        return json_response({"status": 0 if rows else 1, "signedTransactions": signed})

    async def refund_history(self, request: Request) -> Response:
        try:
            record = self._find(request.path_params["transactionId"])
            rows = [r for r in self._customer(record) if r.get("revocationDate") is not None]
            rows.sort(key=lambda r: (r["revocationDate"], r["transactionId"]))
            page, next_offset, has_more = _page(rows, request.query_params.get("revision"), 4000005, "revision")
        except AppleError as exc:
            return exc.response()
        signed = [self._sign_transaction(request, r) for r in page]
        return json_response(
            {"signedTransactions": signed, "revision": encode_page_token({"o": next_offset}), "hasMore": has_more}
        )

    async def notification_history(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            events = self._notification_events(body)
            token = request.query_params.get("paginationToken")
            page, next_offset, has_more = _page(events, token, 4000014, "pagination token")
        except AppleError as exc:
            return exc.response()
        answer: dict[str, Any] = {
            "notificationHistory": [self._history_item(request, event) for event in page],
            "hasMore": has_more,
        }
        if has_more:
            answer["paginationToken"] = encode_page_token({"o": next_offset})
        return json_response(answer)

    async def consumption(self, request: Request) -> Response:
        try:
            record = self._find(request.path_params["transactionId"])
            body = _check_consumption(await _json_body(request))
        except AppleError as exc:
            return exc.response()
        self.emu.consumption.append(
            {"transactionId": record["transactionId"], "body": body, "receivedAt": self.emu.now_ms()}
        )
        return Response(status_code=202)

    # --- helpers ----------------------------------------------------------------------------------
    def _find(self, transaction_id: str) -> dict[str, Any]:
        record = self.emu.apple.get(transaction_id)
        if record is not None:
            return record
        if not transaction_id.isdigit():
            raise AppleError(400, 4000006, "Invalid transaction id.")
        raise AppleError(404, 4040010, "Transaction id not found.")

    def _customer(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """One customer's transactions: the same appAccountToken, else the same original transaction."""
        token = record.get("appAccountToken")
        if token:
            return [r for r in self.emu.apple.values() if r.get("appAccountToken") == token]
        original = record.get("originalTransactionId", record["transactionId"])
        return [
            r for r in self.emu.apple.values() if r.get("originalTransactionId", r["transactionId"]) == original
        ]

    def _sign_transaction(self, request: Request, record: dict[str, Any], as_of: int | None = None) -> str:
        payload = {k: v for k, v in record.items() if k not in _EMULATOR_FIELDS}
        if as_of is not None and record.get("revocationDate", as_of) > as_of:
            # A notification sent before the refund shows the transaction as it was then.
            for key in _REVOCATION_FIELDS:
                payload.pop(key, None)
        payload.setdefault("originalTransactionId", record["transactionId"])
        payload["environment"] = ENVIRONMENT
        payload["signedDate"] = as_of if as_of is not None else self.emu.now_ms()
        return self.emu.keys.sign_jws(payload, broken=fault_kind(request) == "bad_signature")

    def _notification_events(self, body: dict[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
        start, end = body.get("startDate"), body.get("endDate")
        if not _is_int(start):
            raise AppleError(
                400, 4000015, "Invalid request. The start date is not a timestamp value in milliseconds."
            )
        if not _is_int(end):
            raise AppleError(
                400, 4000016, "Invalid request. The end date is not a timestamp value in milliseconds."
            )
        now = self.emu.now_ms()
        if start < now - NOTIFICATION_WINDOW_MS:
            raise AppleError(
                400, 4000012, "Invalid request. The start date is earlier than the allowed start date."
            )
        end = min(end, now)  # Apple treats a future end date as now
        if start > end:
            raise AppleError(
                400, 4000013, "Invalid request. The end date precedes the start date or the dates are the same."
            )
        wanted = self._notification_filter(body)
        events = [e for e in _derive_notifications(self.emu.apple.values()) if start <= e[0] <= end and wanted(e)]
        return sorted(events, key=lambda e: (e[0], e[2]["transactionId"], e[1]))

    def _notification_filter(self, body: dict[str, Any]) -> Any:
        kind, subtype, transaction_id = (
            body.get("notificationType"),
            body.get("notificationSubtype"),
            body.get("transactionId"),
        )
        if transaction_id is not None and (kind is not None or subtype is not None):
            raise AppleError(
                400, 4000019, "Invalid request. Only one of notificationType or transactionId may be used."
            )
        if kind is not None and kind not in NOTIFICATION_TYPES:
            raise AppleError(400, 4000018, "Invalid request. The notification type is not supported.")
        customer: set[str] | None = None
        if transaction_id is not None:
            customer = {r["transactionId"] for r in self._customer(self._find(str(transaction_id)))}
        failures_only = body.get("onlyFailures") is True  # every emulated send succeeded

        def wanted(event: tuple[int, str, dict[str, Any]]) -> bool:
            return (
                not failures_only
                and subtype is None
                and (kind is None or event[1] == kind)
                and (customer is None or event[2]["transactionId"] in customer)
            )

        return wanted

    def _history_item(self, request: Request, event: tuple[int, str, dict[str, Any]]) -> dict[str, Any]:
        at, kind, record = event
        data: dict[str, Any] = {
            "appAppleId": self.emu.identity.app_apple_id,
            "bundleId": record.get("bundleId", self.emu.identity.bundle_id),
            "environment": ENVIRONMENT,
            "signedTransactionInfo": self._sign_transaction(request, record, as_of=at),
        }
        if kind == "CONSUMPTION_REQUEST":
            data["consumptionRequestReason"] = record.get("consumptionRequestReason", "UNINTENDED_PURCHASE")
        payload = {
            "notificationType": kind,
            "notificationUUID": str(uuid.uuid5(_NOTIFICATION_NS, f"{kind}:{record['transactionId']}")),
            "data": data,
            "version": "2.0",
            "signedDate": at,
        }
        signed = self.emu.keys.sign_jws(payload, broken=fault_kind(request) == "bad_signature")
        return {"signedPayload": signed, "sendAttempts": [{"attemptDate": at, "sendAttemptResult": "SUCCESS"}]}


def _derive_notifications(records: Any) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """The notifications Apple would have sent for each transaction (formats.md)."""
    for record in records:
        yield record["purchaseDate"], "ONE_TIME_CHARGE", record
        if record.get("consumptionRequestDate") is not None:
            yield record["consumptionRequestDate"], "CONSUMPTION_REQUEST", record
        if record.get("revocationDate") is not None:
            yield record["revocationDate"], "REFUND", record


def _filter_history(rows: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
    start, end = _int_param(query, "startDate", 4000015), _int_param(query, "endDate", 4000016)
    products = query.getlist("productId")
    types = [_PRODUCT_TYPES.get(t, t) for t in query.getlist("productType")]
    revoked = query.get("revoked")
    if revoked not in (None, "true", "false"):
        raise AppleError(400, 4000030, "Invalid request. The revoked parameter is invalid.")
    sort = query.get("sort", "ASCENDING")
    if sort not in ("ASCENDING", "DESCENDING"):
        raise AppleError(400, 4000021, "Invalid request. The sort parameter is invalid.")
    kept = [
        r
        for r in rows
        if (start is None or r["purchaseDate"] >= start)
        and (end is None or r["purchaseDate"] < end)
        and (not products or r["productId"] in products)
        and (not types or r.get("type") in types)
        and (revoked is None or (r.get("revocationDate") is not None) == (revoked == "true"))
    ]
    kept.sort(key=lambda r: (r["purchaseDate"], r["transactionId"]), reverse=sort == "DESCENDING")
    return kept


def _page(rows: list[Any], token: str | None, code: int, name: str) -> tuple[list[Any], int, bool]:
    offset = 0
    if token:
        position = decode_page_token(token, "o")
        if position is None or position["o"] < 0:
            raise AppleError(400, code, f"Invalid request. The {name} is invalid.")
        offset = position["o"]
    page = rows[offset : offset + PAGE_SIZE]
    next_offset = offset + len(page)
    return page, next_offset, next_offset < len(rows)


def _int_param(query: Any, name: str, code: int) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise AppleError(400, code, f"Invalid request. The {name} parameter is invalid.")
    return int(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AppleError(400, 4000000, "Invalid request. The request body is not a JSON object.")
    return body


def _check_consumption(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("customerConsented") is not True:
        raise AppleError(400, 4000035, "Invalid request. The customer consented field is invalid.")
    if not isinstance(body.get("sampleContentProvided"), bool):
        raise AppleError(400, 4000041, "Invalid request. The sample content provided field is invalid.")
    if body.get("deliveryStatus") not in _DELIVERY:
        raise AppleError(400, 4000036, "Invalid request. The delivery status field is invalid.")
    percentage = body.get("consumptionPercentage")
    if percentage is not None and not (_is_int(percentage) and 0 <= percentage <= 100_000):
        raise AppleError(400, 4000000, "Invalid request. consumptionPercentage must be 0..100000 (milliunits).")
    if body.get("refundPreference") not in (None, *_REFUND_PREFERENCES):
        raise AppleError(400, 4000000, "Invalid request. The refund preference field is invalid.")
    return body
