"""The App Store Server API, served under ``/apple`` from ``store/apple/transactions.jsonl``.

A transaction's order id is its record's ``orderId`` when present, otherwise ``apple_order_id`` derives a
stable one: ``"MK"`` + the first 8 characters of base32(sha256(transactionId)).
Page tokens (``revision``, ``paginationToken``) are opaque offsets. Notification history lives in
``apple_notifications``; errors and paging in ``apple_base``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from supportdesk.emulator.apple_base import (
    AppleError,
    is_int,
    json_body,
    on_fault,
    page_of,
    rate_limited,
    unauthorized,
)
from supportdesk.emulator.apple_notifications import NotificationHistory
from supportdesk.emulator.ratelimit import AppleRateLimits
from supportdesk.emulator.routing import Handler, StoreRoutes, encode_page_token, fault_kind, json_response
from supportdesk.emulator.state import EmulatorState

_EMULATOR_FIELDS = ("orderId", "consumptionRequestDate", "consumptionRequestReason")
_REVOCATION_FIELDS = ("revocationDate", "revocationReason", "revocationType", "revocationPercentage")
_PRODUCT_TYPES = {
    "CONSUMABLE": "Consumable",
    "NON_CONSUMABLE": "Non-Consumable",
    "AUTO_RENEWABLE": "Auto-Renewable Subscription",
    "NON_RENEWABLE": "Non-Renewing Subscription",
}
_DELIVERY = ("DELIVERED", "UNDELIVERED_QUALITY_ISSUE", "UNDELIVERED_WRONG_ITEM", "UNDELIVERED_SERVER_OUTAGE",
             "UNDELIVERED_OTHER")  # fmt: skip
_REFUND_PREFERENCES = ("DECLINE", "GRANT_FULL", "GRANT_PRORATED")


def apple_order_id(record: dict[str, Any]) -> str:
    if record.get("orderId"):
        return str(record["orderId"])
    digest = hashlib.sha256(str(record["transactionId"]).encode()).digest()
    return "MK" + base64.b32encode(digest).decode()[:8]


def routes(emu: EmulatorState, environment: str | None = None) -> StoreRoutes:
    """The API of the emulator's environment, or (`environment="Sandbox"` beside Production) of its Sandbox."""
    api = AppleApi(emu, environment)
    store = StoreRoutes(emu, "apple", api.authorize, on_fault)
    limited = api.limited
    store.add("/inApps/v1/transactions/{transactionId}", limited("transaction", api.transaction), ["GET"])
    store.add("/inApps/v2/history/{transactionId}", limited("history", api.history), ["GET"])
    store.add("/inApps/v1/lookup/{orderId}", limited("order_lookup", api.order_lookup), ["GET"])
    store.add("/inApps/v2/refund/lookup/{transactionId}", limited("refund_history", api.refund_history), ["GET"])
    store.add("/inApps/v1/notifications/history",
              limited("notification_history", NotificationHistory(api).endpoint), ["POST"])
    store.add("/inApps/v2/transactions/consumption/{transactionId}", limited("consumption", api.consumption),
              ["PUT"])
    return store


class AppleApi:
    def __init__(self, emu: EmulatorState, environment: str | None = None) -> None:
        self.emu = emu
        self.environment = environment or emu.identity.environment
        # Sandbox beside Production has its own, lower, rate limits (ratelimit.py).
        self.limits = (emu.apple_limits if self.environment == emu.identity.environment
                       else AppleRateLimits(self.environment, enabled=emu.realism.rate_limits))

    def records(self) -> list[dict[str, Any]]:
        """What this environment serves. A Production app also makes Sandbox transactions (TestFlight, App
        Review), and Apple keeps them apart: Production answers 4040010 for them and the Sandbox host has them
        ("Get Transaction Info": look up in Production, then Sandbox). Records marked `"environment": "Sandbox"`
        are the Sandbox's; the rest are Production's. An emulator run as Sandbox serves every record."""
        return [r for r in self.emu.apple.values() if self.serves(r)]

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

    def limited(self, endpoint: str, handler: Handler) -> Handler:
        """The handler behind the endpoint's rate limit (ratelimit.py)."""

        async def guarded(request: Request) -> Response:
            retry_at = self.limits.retry_at_ms(endpoint)
            return rate_limited(retry_at) if retry_at is not None else await handler(request)

        return guarded

    # --- endpoints --------------------------------------------------------------------------------
    async def transaction(self, request: Request) -> Response:
        try:
            record = self.find(request.path_params["transactionId"])
        except AppleError as exc:
            return exc.response()
        return json_response({"signedTransactionInfo": self.sign_transaction(request, record)})

    async def history(self, request: Request) -> Response:
        try:
            record = self.find(request.path_params["transactionId"])
            rows = _filter_history(self.customer(record), request.query_params)
            page, next_offset, has_more = page_of(rows, request.query_params.get("revision"), 4000005, "revision")
        except AppleError as exc:
            return exc.response()
        identity = self.emu.identity
        return json_response(
            {
                "revision": encode_page_token({"o": next_offset}),
                "hasMore": has_more,
                "bundleId": identity.bundle_id,
                "appAppleId": identity.app_apple_id,
                "environment": self.environment,
                "signedTransactions": [self.sign_transaction(request, r) for r in page],
            }
        )

    async def order_lookup(self, request: Request) -> Response:
        order_id = request.path_params["orderId"]
        rows = [r for r in self.records() if apple_order_id(r) == order_id]
        signed = [self.sign_transaction(request, r) for r in rows]
        return json_response({"status": 0 if rows else 1, "signedTransactions": signed})

    async def refund_history(self, request: Request) -> Response:
        try:
            record = self.find(request.path_params["transactionId"])
            rows = [r for r in self.customer(record) if r.get("revocationDate") is not None]
            rows.sort(key=lambda r: (r["revocationDate"], r["transactionId"]))
            page, next_offset, has_more = page_of(rows, request.query_params.get("revision"), 4000005, "revision")
        except AppleError as exc:
            return exc.response()
        signed = [self.sign_transaction(request, r) for r in page]
        return json_response(
            {"signedTransactions": signed, "revision": encode_page_token({"o": next_offset}), "hasMore": has_more}
        )

    async def consumption(self, request: Request) -> Response:
        try:
            record = self.find(request.path_params["transactionId"])
            body = _check_consumption(await json_body(request))
        except AppleError as exc:
            return exc.response()
        self.emu.consumption.append(
            {"transactionId": record["transactionId"], "body": body, "receivedAt": self.emu.now_ms()}
        )
        return Response(status_code=202)

    # --- helpers ----------------------------------------------------------------------------------
    def find(self, transaction_id: str) -> dict[str, Any]:
        record = self.emu.apple.get(transaction_id)
        if record is not None and self.serves(record):
            return record
        if not transaction_id.isdigit():
            raise AppleError(400, 4000006, "Invalid transaction id.")
        raise AppleError(404, 4040010, "Transaction id not found.")

    def serves(self, record: dict[str, Any]) -> bool:
        return self.emu.identity.environment == "Sandbox" or (
            (record.get("environment") == "Sandbox") == (self.environment == "Sandbox"))

    def customer(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """One customer's transactions: the same appAccountToken, else the same original transaction."""
        token = record.get("appAccountToken")
        if token:
            return [r for r in self.records() if r.get("appAccountToken") == token]
        original = record.get("originalTransactionId", record["transactionId"])
        return [r for r in self.records() if r.get("originalTransactionId", r["transactionId"]) == original]

    def sign_transaction(self, request: Request, record: dict[str, Any], as_of: int | None = None) -> str:
        payload = {k: v for k, v in record.items() if k not in _EMULATOR_FIELDS}
        if as_of is not None and record.get("revocationDate", as_of) > as_of:
            # A notification sent before the refund shows the transaction as it was then.
            for key in _REVOCATION_FIELDS:
                payload.pop(key, None)
        payload.setdefault("originalTransactionId", record["transactionId"])
        payload["environment"] = self.environment
        payload["signedDate"] = as_of if as_of is not None else self.emu.now_ms()
        return self.emu.keys.sign_jws(payload, broken=fault_kind(request) == "bad_signature")


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


def _int_param(query: Any, name: str, code: int) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise AppleError(400, code, f"Invalid request. The {name} parameter is invalid.")
    return int(value)


def _check_consumption(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("customerConsented") is not True:
        raise AppleError(400, 4000035, "Invalid request. The customer consented field is invalid.")
    if not isinstance(body.get("sampleContentProvided"), bool):
        raise AppleError(400, 4000041, "Invalid request. The sample content provided field is invalid.")
    if body.get("deliveryStatus") not in _DELIVERY:
        raise AppleError(400, 4000036, "Invalid request. The delivery status field is invalid.")
    percentage = body.get("consumptionPercentage")
    if percentage is not None and not (is_int(percentage) and 0 <= percentage <= 100_000):
        raise AppleError(400, 4000000, "Invalid request. consumptionPercentage must be 0..100000 (milliunits).")
    if body.get("refundPreference") not in (None, *_REFUND_PREFERENCES):
        raise AppleError(400, 4000000, "Invalid request. The refund preference field is invalid.")
    # A prorated refund needs a share strictly between nothing and everything (ConsumptionRequest reference).
    if body.get("refundPreference") == "GRANT_PRORATED" and not (percentage is not None and 0 < percentage < 100_000):
        raise AppleError(400, 4000000, "Invalid request. GRANT_PRORATED needs 0 < consumptionPercentage < 100000.")
    return body
