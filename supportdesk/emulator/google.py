"""Google Play Developer API (androidpublisher v3) and its OAuth2 token endpoint, under ``/google``.

Served from ``store/google/purchases.jsonl``. The token endpoint takes the RS256 JWT assertion google-auth
makes from the service-account file the emulator wrote; every API call needs the access token it returns.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from supportdesk.emulator import pubsub
from supportdesk.emulator.clock import millis
from supportdesk.emulator.faults import Fault
from supportdesk.emulator.google_orders import is_partial_void, order_resource
from supportdesk.emulator.routing import (
    StoreRoutes,
    decode_page_token,
    encode_page_token,
    form_items,
    json_response,
    malformed_response,
)
from supportdesk.emulator.rtdn import voided_notification
from supportdesk.emulator.state import EmulatorState, GoogleToken

API = "/androidpublisher/v3/applications/{packageName}"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
TOKEN_LIFETIME_S = 3600
VOIDED_WINDOW_MS = 30 * 86_400_000
REFUND_LIMIT_MS = 3 * 365 * 86_400_000
MAX_ORDER_IDS = 1000
DEVELOPER, REASON_OTHER = 1, 0
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip


class GoogleError(Exception):
    def __init__(self, code: int, message: str, reason: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason
        self.status = status or _STATUS.get(code, "UNKNOWN")

    def response(self, headers: dict[str, str] | None = None) -> Response:
        detail = {"message": self.message, "domain": "global", "reason": self.reason}
        body = {"error": {"code": self.code, "message": self.message, "status": self.status, "errors": [detail]}}
        return json_response(body, self.code, headers)


def unauthorized() -> Response:
    return GoogleError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        "authError",
    ).response({"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})


def on_fault(fault: Fault) -> Response | None:
    if fault.kind == "429":
        error = GoogleError(429, "Quota exceeded for quota metric 'Queries'.", "rateLimitExceeded")
        return error.response({"Retry-After": str(fault.arg)})
    if fault.kind in ("500", "503"):
        message = "Internal error encountered." if fault.kind == "500" else "The service is currently unavailable."
        return GoogleError(int(fault.kind), message, "backendError").response()
    if fault.kind in ("malformed", "bad_signature"):
        return malformed_response()
    return None  # expired_token: the token endpoint or the auth check deals with it


def routes(emu: EmulatorState) -> StoreRoutes:
    api = GoogleApi(emu)
    store = StoreRoutes(emu, "google", api.authorize_publisher, on_fault)
    store.add("/token", api.token, ["POST"], authorize=lambda _: None, fault_kinds=("expired_token",))
    store.add(API + "/purchases/products/{productId}/tokens/{token}", api.product_purchase, ["GET"])
    store.add(API + "/purchases/voidedpurchases", api.voided_purchases, ["GET"])
    store.add(API + "/orders:batchGet", api.batch_get_orders, ["GET"])
    store.add(API + "/orders/{orderId}:refund", api.refund, ["POST"])
    store.add(API + "/orders/{orderId}", api.get_order, ["GET"])
    pubsub.add_routes(store, emu, api.authorize_any)
    return store


class GoogleApi:
    def __init__(self, emu: EmulatorState) -> None:
        self.emu = emu

    # --- OAuth2 ------------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        form = dict(await form_items(request))
        if form.get("grant_type") != GRANT_TYPE:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        scopes = self._check_assertion(str(form.get("assertion", "")))
        if scopes is None:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        expired = getattr(request.state, "fault", None) is not None  # the expired_token fault
        lifetime = 0 if expired else TOKEN_LIFETIME_S
        access_token = "ya29.emulator-" + secrets.token_urlsafe(32)
        self.emu.google_tokens[access_token] = GoogleToken(time.time() + lifetime, scopes)
        return json_response({"access_token": access_token, "expires_in": lifetime, "token_type": "Bearer"})

    def _check_assertion(self, assertion: str) -> tuple[str, ...] | None:
        keys = self.emu.keys
        try:
            claims = jwt.decode(
                assertion,
                keys.google_public_key,
                algorithms=["RS256"],
                # google-auth signs for Google's token URL whatever token_uri says; accept that and ours.
                audience=[GOOGLE_TOKEN_AUDIENCE, self.emu.identity.token_uri],
                issuer=keys.google_client_email,
                options={"require": ["exp", "iat", "iss", "aud", "scope"]},
            )
        except jwt.PyJWTError:
            return None
        scopes = tuple(str(claims["scope"]).split())
        lives_too_long = claims["exp"] > time.time() + TOKEN_LIFETIME_S + 60
        if lives_too_long or not any("androidpublisher" in s or "pubsub" in s for s in scopes):
            return None
        return scopes

    def authorize_publisher(self, request: Request) -> Response | None:
        return self._authorize(request, "androidpublisher")

    def authorize_any(self, request: Request) -> Response | None:
        return self._authorize(request, "")

    def _authorize(self, request: Request, scope: str) -> Response | None:
        if getattr(request.state, "fault", None) is not None:  # expired_token on an API call
            return unauthorized()
        header = request.headers.get("authorization", "")
        token = (
            self.emu.google_tokens.get(header.removeprefix("Bearer ").strip())
            if header.startswith("Bearer ")
            else None
        )
        if token is None or token.expires_at <= time.time() or not any(scope in s for s in token.scopes):
            return unauthorized()
        return None

    # --- purchases ---------------------------------------------------------------------------------
    async def product_purchase(self, request: Request) -> Response:
        try:
            self._check_package(request)
            purchase = self.emu.google_by_token.get(request.path_params["token"])
            if purchase is None or purchase["productId"] != request.path_params["productId"]:
                raise GoogleError(404, "The purchase token was not found.", "purchaseTokenNotFound")
        except GoogleError as exc:
            return exc.response()
        return json_response(_product_purchase(purchase))

    async def voided_purchases(self, request: Request) -> Response:
        try:
            self._check_package(request)
            start, end, offset, limit = self._voided_window(request.query_params)
        except GoogleError as exc:
            return exc.response()
        # Quantity-based partial refunds are listed only when asked for (voidedpurchases.list,
        # includeQuantityBasedPartialRefund; developers.google.com/android-publisher/api-ref/rest/v3/purchases.voidedpurchases/list)
        partial_too = request.query_params.get("includeQuantityBasedPartialRefund") == "true"
        voided = [
            p for p in self.emu.google_by_token.values()
            if p.get("voidedTimeMillis") is not None and start <= int(p["voidedTimeMillis"]) <= end
            and (partial_too or not is_partial_void(p))
        ]  # fmt: skip
        voided.sort(key=lambda p: (int(p["voidedTimeMillis"]), p["orderId"]))
        page = voided[offset : offset + limit]
        answer: dict[str, Any] = {}
        if page:  # like Google, empty lists are left out
            answer["voidedPurchases"] = [_voided_purchase(p) for p in page]
        if offset + len(page) < len(voided):
            token = encode_page_token({"s": start, "e": end, "o": offset + len(page)})
            answer["tokenPagination"] = {"nextPageToken": token}
        return json_response(answer)

    def _voided_window(self, query: Any) -> tuple[int, int, int, int]:
        limit = _int_query(query, "maxResults", 1000)
        if not 1 <= limit <= 1000:
            raise GoogleError(400, "maxResults must be between 1 and 1000.", "invalid")
        if query.get("token"):
            # Google ignores startTime and endTime when a page token is given: the token carries them.
            position = decode_page_token(query["token"], "s", "e", "o")
            if position is None:
                raise GoogleError(400, "Invalid page token.", "invalid")
            return position["s"], position["e"], position["o"], limit
        now = self.emu.now_ms()
        start = _int_query(query, "startTime", now - VOIDED_WINDOW_MS)
        end = min(_int_query(query, "endTime", now), now)
        if start < now - VOIDED_WINDOW_MS - 60_000:  # a minute of grace for the client's clock
            raise GoogleError(400, "startTime is too old: voided purchases are kept for 30 days.", "invalid")
        if end < start:
            raise GoogleError(400, "endTime must not be earlier than startTime.", "invalid")
        return start, end, 0, limit

    # --- orders ------------------------------------------------------------------------------------
    async def get_order(self, request: Request) -> Response:
        try:
            self._check_package(request)
            purchase = self._order(request.path_params["orderId"])
        except GoogleError as exc:
            return exc.response()
        return json_response(order_resource(purchase))

    async def batch_get_orders(self, request: Request) -> Response:
        try:
            self._check_package(request)
        except GoogleError as exc:
            return exc.response()
        # Repeated orderIds=... as Google's REST mapping sends them; comma lists are tolerated too.
        order_ids = [o for value in request.query_params.getlist("orderIds") for o in value.split(",") if o]
        if not order_ids or len(order_ids) > MAX_ORDER_IDS:
            return GoogleError(400, f"orderIds must hold 1 to {MAX_ORDER_IDS} order ids.", "invalid").response()
        # orders.batchget reference: "If any order ID is not found or does not match the provided package, the
        # entire request will fail with an error. The order IDs must be distinct."
        # (developers.google.com/android-publisher/api-ref/rest/v3/orders/batchget)
        if len(set(order_ids)) != len(order_ids):
            return GoogleError(400, "The order IDs must be distinct.", "invalid").response()
        unknown = next((o for o in order_ids if o not in self.emu.google_by_order), None)
        if unknown is not None:
            return GoogleError(404, f"Order {unknown} not found.", "notFound").response()
        return json_response({"orders": [order_resource(self.emu.google_by_order[o]) for o in order_ids]})

    async def refund(self, request: Request) -> Response:
        try:
            self._check_package(request)
            purchase = self._order(request.path_params["orderId"])
            now = self.emu.now_ms()
            if purchase.get("voidedTimeMillis") is not None:
                raise GoogleError(400, "The order has already been refunded.", "orderAlreadyRefunded",
                                  "FAILED_PRECONDITION")  # fmt: skip
            if now - int(purchase["purchaseTimeMillis"]) > REFUND_LIMIT_MS:
                raise GoogleError(400, "Orders older than 3 years cannot be refunded.", "orderTooOld",
                                  "FAILED_PRECONDITION")  # fmt: skip
        except GoogleError as exc:
            return exc.response()
        _void(purchase, now)
        self.emu.rtdn.publish(voided_notification(self.emu.identity.package_name, purchase))
        return json_response({})

    # --- helpers -----------------------------------------------------------------------------------
    def _check_package(self, request: Request) -> None:
        if request.path_params["packageName"] != self.emu.identity.package_name:
            raise GoogleError(404, "No application was found for the given package name.", "applicationNotFound")

    def _order(self, order_id: str) -> dict[str, Any]:
        purchase = self.emu.google_by_order.get(order_id)
        if purchase is None:
            raise GoogleError(404, f"Order {order_id} not found.", "notFound")
        return purchase


def _void(purchase: dict[str, Any], now_ms: int) -> None:
    purchase.update(
        voidedTimeMillis=str(now_ms),
        voidedSource=DEVELOPER,
        voidedReason=REASON_OTHER,
        purchaseState=1,
        refundableQuantity=0,
    )


def _product_purchase(purchase: dict[str, Any]) -> dict[str, Any]:
    quantity = purchase.get("quantity", 1)
    voided = purchase.get("voidedTimeMillis") is not None and not is_partial_void(purchase)
    left = quantity - int(purchase.get("voidedQuantity") or 0) if is_partial_void(purchase) else quantity
    answer = {
        "kind": "androidpublisher#productPurchase",
        "purchaseTimeMillis": str(millis(purchase["purchaseTimeMillis"])),
        "purchaseState": purchase.get("purchaseState", 1 if voided else 0),
        "consumptionState": purchase.get("consumptionState", 1),
        "orderId": purchase["orderId"],
        "acknowledgementState": purchase.get("acknowledgementState", 1),
        "productId": purchase["productId"],
        "quantity": quantity,
        "refundableQuantity": purchase.get("refundableQuantity", 0 if voided else left),
    }
    for key in ("purchaseType", "regionCode", "obfuscatedExternalAccountId", "obfuscatedExternalProfileId",
                "developerPayload", "priceAmountMicros", "priceCurrencyCode"):  # fmt: skip
        if purchase.get(key) is not None:
            answer[key] = purchase[key]
    return answer


def _voided_purchase(purchase: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "androidpublisher#voidedPurchase",
        "purchaseToken": purchase["purchaseToken"],
        "orderId": purchase["orderId"],
        "purchaseTimeMillis": str(millis(purchase["purchaseTimeMillis"])),
        "voidedTimeMillis": str(millis(purchase["voidedTimeMillis"])),
        "voidedSource": purchase.get("voidedSource", 0),
        "voidedReason": purchase.get("voidedReason", 0),
        "voidedQuantity": purchase.get("voidedQuantity", purchase.get("quantity", 1)),
    }


def _int_query(query: Any, name: str, default: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise GoogleError(400, f"Invalid value for {name}: {value!r}.", "invalid") from None


def _oauth_error(error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, 400)
