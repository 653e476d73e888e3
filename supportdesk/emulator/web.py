"""The web checkout's card processor, shaped like Stripe's API, under ``/web``.

Served from ``store/web/charges.jsonl`` and ``store/web/disputes.jsonl``. stripe-python joins its base
address and the path as plain strings, so ``base_addresses={"api": "http://127.0.0.1:PORT/web"}`` works.

As at API version 2022-11-15 and later, a charge no longer embeds its ``refunds`` ("The Charges object no longer
auto-expands refunds by default", docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand): they
come with ``expand[]=refunds`` (``expand[]=data.refunds`` on a list) or from ``GET /v1/refunds?charge=``.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from supportdesk.emulator.faults import Fault
from supportdesk.emulator.routing import StoreRoutes, form_items, json_response, malformed_response
from supportdesk.emulator.state import EmulatorState

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
_CREATED_OPS = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 kind: str = "invalid_request_error") -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind = status, message, code, param, kind

    def response(self, headers: dict[str, str] | None = None) -> Response:
        body = {"type": self.kind, "code": self.code, "message": self.message, "param": self.param}
        return json_response({"error": body}, self.status, headers)


def on_fault(fault: Fault) -> Response | None:
    if fault.kind == "429":
        error = StripeError(429, "Too many requests hit the API too quickly.", code="rate_limit")
        return error.response({"Retry-After": str(fault.arg)})
    if fault.kind in ("500", "503"):
        return StripeError(int(fault.kind), "An unknown error occurred.", kind="api_error").response()
    if fault.kind in ("malformed", "bad_signature"):
        return malformed_response()
    return StripeError(401, "Expired API Key provided.", code="api_key_expired").response()  # expired_token


def routes(emu: EmulatorState) -> StoreRoutes:
    api = WebApi(emu)
    store = StoreRoutes(emu, "web", api.authorize, on_fault)
    store.add("/v1/charges", api.list_charges, ["GET"])
    store.add("/v1/charges/{id}", api.get_charge, ["GET"])
    store.add("/v1/refunds", api.create_refund, ["POST"])
    store.add("/v1/refunds", api.list_refunds, ["GET"])
    store.add("/v1/refunds/{id}", api.get_refund, ["GET"])
    store.add("/v1/disputes", api.list_disputes, ["GET"])
    store.add("/v1/disputes/{id}", api.get_dispute, ["GET"])
    return store


class WebApi:
    def __init__(self, emu: EmulatorState) -> None:
        self.emu = emu

    def authorize(self, request: Request) -> Response | None:
        key = _api_key(request.headers.get("authorization", ""))
        if not key:
            message = "You did not provide an API key. Provide it in the Authorization header as a Bearer token."
            return StripeError(401, message).response()
        if key != self.emu.keys.web_secret_key:
            return StripeError(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}").response()
        return None

    # --- charges -----------------------------------------------------------------------------------
    async def list_charges(self, request: Request) -> Response:
        customer = request.query_params.get("customer")
        expand = "data.refunds" in request.query_params.getlist("expand[]")
        charges = [_charge(c, expand) for c in self.emu.charges.values() if customer in (None, c.get("customer"))]
        return _listing(request, charges, "/v1/charges")

    async def get_charge(self, request: Request) -> Response:
        record = self.emu.charges.get(request.path_params["id"])
        if record is None:
            return _missing("charge", request.path_params["id"], "id").response()
        return json_response(_charge(record, "refunds" in request.query_params.getlist("expand[]")))

    # --- refunds -----------------------------------------------------------------------------------
    async def create_refund(self, request: Request) -> Response:
        params = sorted(await form_items(request))
        key = request.headers.get("idempotency-key")
        if key is None:
            return self._refund(dict(params))
        fingerprint = json.dumps([request.url.path, params])
        saved = self.emu.idempotency.get(key)
        if saved is not None:
            if saved[0] != fingerprint:
                message = (
                    "Keys for idempotent requests can only be used with the same parameters they were first used "
                    f"with. Try using a key other than '{key}' if you meant to execute a different request."
                )
                return StripeError(400, message, kind="idempotency_error").response()
            replay = {"Idempotent-Replayed": "true", "Idempotency-Key": key}
            return Response(saved[2], saved[1], replay, media_type="application/json")
        response = self._refund(dict(params))
        self.emu.idempotency[key] = (fingerprint, response.status_code, bytes(response.body))
        response.headers["Idempotency-Key"] = key
        return response

    def _refund(self, params: dict[str, str]) -> Response:
        try:
            record, amount, reason = self._check_refund(params)
        except StripeError as exc:
            return exc.response()
        metadata = {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")}
        refund = {"id": "re_" + secrets.token_hex(12), "amount": amount, "created": self.emu.now_ms() // 1000,
                  "reason": reason, "status": "succeeded", "metadata": metadata}  # fmt: skip
        record["amount_refunded"] = _refunded(record) + amount
        record.setdefault("refunds", []).append(refund)
        record["refunded"] = record["amount_refunded"] >= record["amount"]
        return json_response(_refund_object(record, refund))

    def _check_refund(self, params: dict[str, str]) -> tuple[dict[str, Any], int, str | None]:
        charge_id = params.get("charge")
        if not charge_id:
            raise StripeError(400, "Must provide a charge to refund.", code="parameter_missing", param="charge")
        record = self.emu.charges.get(charge_id)
        if record is None:
            raise _missing("charge", charge_id, "charge")
        remaining = record["amount"] - _refunded(record)
        if remaining <= 0 or record.get("refunded"):
            raise StripeError(
                400, f"Charge {charge_id} has already been refunded.", code="charge_already_refunded"
            )
        if record.get("disputed"):
            raise StripeError(400, f"Charge {charge_id} has been charged back; cannot issue a refund.",
                              code="charge_disputed")  # fmt: skip
        amount = _positive_int(params.get("amount"), "amount") if "amount" in params else remaining
        if amount > remaining:
            raise StripeError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                              f"({remaining}).", code="amount_too_large", param="amount")  # fmt: skip
        reason = params.get("reason") or None
        if reason not in (None, *REFUND_REASONS):
            raise StripeError(400, f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason")
        return record, amount, reason

    async def list_refunds(self, request: Request) -> Response:
        charge = request.query_params.get("charge")
        refunds = [r for r in self._all_refunds() if charge in (None, r["charge"])]
        return _listing(request, refunds, "/v1/refunds")

    async def get_refund(self, request: Request) -> Response:
        for refund in self._all_refunds():
            if refund["id"] == request.path_params["id"]:
                return json_response(refund)
        return _missing("refund", request.path_params["id"], "id").response()

    def _all_refunds(self) -> list[dict[str, Any]]:
        return [_refund_object(c, r) for c in self.emu.charges.values() for r in c.get("refunds", [])]

    # --- disputes ----------------------------------------------------------------------------------
    async def list_disputes(self, request: Request) -> Response:
        charge = request.query_params.get("charge")
        disputes = [_dispute(d) for d in self.emu.disputes.values() if charge in (None, d.get("charge"))]
        return _listing(request, disputes, "/v1/disputes")

    async def get_dispute(self, request: Request) -> Response:
        record = self.emu.disputes.get(request.path_params["id"])
        if record is None:
            return _missing("dispute", request.path_params["id"], "id").response()
        return json_response(_dispute(record))


def _api_key(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:  # Stripe also takes the key as the basic-auth user name
            return base64.b64decode(value.strip()).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


def _missing(kind: str, object_id: str, param: str) -> StripeError:
    status = 404 if param == "id" else 400  # a missing object in the path is a 404; in a parameter, a 400
    return StripeError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def _refunded(record: dict[str, Any]) -> int:
    if "amount_refunded" in record:
        return int(record["amount_refunded"])
    return sum(int(r.get("amount", 0)) for r in record.get("refunds", []))


def _charge(record: dict[str, Any], expand_refunds: bool = False) -> dict[str, Any]:
    refunds = [_refund_object(record, r) for r in record.get("refunds", [])]
    refunded_amount = _refunded(record)
    country = record.get("billing_country")
    charge = {
        **record,
        "object": "charge",
        "amount_captured": record["amount"],
        "amount_refunded": refunded_amount,
        "captured": True,
        "disputed": bool(record.get("disputed", False)),
        "livemode": False,
        "metadata": record.get("metadata", {}),
        "paid": record.get("status", "succeeded") == "succeeded",
        "refunded": bool(record.get("refunded", refunded_amount >= record["amount"])),
        "status": record.get("status", "succeeded"),
        "billing_details": {"address": {"country": country}},
        "payment_method_details": {
            "type": "card",
            "card": {"fingerprint": record.get("card_fingerprint"), "country": country},
        },  # fmt: skip
    }
    charge.pop("refunds", None)
    if expand_refunds:
        charge["refunds"] = {"object": "list", "data": refunds, "has_more": False, "total_count": len(refunds),
                             "url": f"/v1/charges/{record['id']}/refunds"}  # fmt: skip
    return charge


def _refund_object(charge: dict[str, Any], refund: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": refund["id"],
        "object": "refund",
        "amount": refund["amount"],
        "charge": charge["id"],
        "currency": charge["currency"],
        "created": refund.get("created", charge["created"]),
        "reason": refund.get("reason"),
        "status": refund.get("status", "succeeded"),
        "metadata": refund.get("metadata", {}),
    }


def _dispute(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "object": "dispute", "livemode": False, "metadata": record.get("metadata", {})}


def _listing(request: Request, items: list[dict[str, Any]], url: str) -> Response:
    try:
        page, has_more = _page(request.query_params, items)
    except StripeError as exc:
        return exc.response()
    return json_response({"object": "list", "data": page, "has_more": has_more, "url": url})


def _page(query: Any, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Stripe's cursor paging: newest first; ``starting_after``/``ending_before`` name an object id."""
    limit = _positive_int(query.get("limit", "10"), "limit")
    if limit > 100:
        raise StripeError(400, "This value must be less than or equal to 100.", param="limit")
    kept = [i for i in items if _created_matches(query, i["created"])]
    kept.sort(key=lambda i: (i["created"], i["id"]), reverse=True)
    ids = [i["id"] for i in kept]
    after, before = query.get("starting_after"), query.get("ending_before")
    if after is not None or before is not None:
        cursor = after if after is not None else before
        if cursor not in ids:
            raise StripeError(400, f"No such object: '{cursor}'", code="resource_missing",
                              param="starting_after" if after is not None else "ending_before")  # fmt: skip
        index = ids.index(cursor)
        if after is not None:
            page = kept[index + 1 : index + 1 + limit]
            return page, index + 1 + limit < len(kept)
        return kept[max(0, index - limit) : index], index - limit > 0
    return kept[:limit], limit < len(kept)


def _created_matches(query: Any, created: int) -> bool:
    if "created" in query and query["created"].isdigit() and created != int(query["created"]):
        return False
    for op, compare in _CREATED_OPS.items():
        value = query.get(f"created[{op}]")
        if value is not None and not compare(created, _positive_int(value, f"created[{op}]", zero_ok=True)):
            return False
    return True


def _positive_int(value: str | None, param: str, zero_ok: bool = False) -> int:
    if value is None or not value.isdigit() or (int(value) == 0 and not zero_ok):
        raise StripeError(
            400, f"Invalid positive integer: {value!r}", code="parameter_invalid_integer", param=param
        )
    return int(value)
