"""App Store Server Notifications history (``POST /inApps/v1/notifications/history``).

Derived from the transactions (formats.md): ``ONE_TIME_CHARGE`` at ``purchaseDate``, ``CONSUMPTION_REQUEST`` at
``consumptionRequestDate`` and ``REFUND`` at ``revocationDate``, each signed as Apple would have sent it then.
Only the last 180 days (Production) or 30 days (Sandbox) of the emulator clock can be asked for, as at Apple
(NotificationHistoryRequest reference); an older startDate is errorCode 4000012.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from supportdesk.emulator.apple_base import NOTIFICATION_WINDOW_DAYS, AppleError, is_int, json_body, page_of
from supportdesk.emulator.routing import encode_page_token, fault_kind, json_response

if TYPE_CHECKING:
    from supportdesk.emulator.apple import AppleApi

_NOTIFICATION_NS = uuid.UUID("5b0e2d64-0c64-4b8e-9d44-6f0f6c1f4a11")
NOTIFICATION_TYPES = (
    "CONSUMPTION_REQUEST", "DID_CHANGE_RENEWAL_PREF", "DID_CHANGE_RENEWAL_STATUS", "DID_FAIL_TO_RENEW",
    "DID_RENEW", "EXPIRED", "EXTERNAL_PURCHASE_TOKEN", "GRACE_PERIOD_EXPIRED", "METADATA_UPDATE", "MIGRATION",
    "OFFER_REDEEMED", "ONE_TIME_CHARGE", "PRICE_CHANGE", "PRICE_INCREASE", "REFUND", "REFUND_DECLINED",
    "REFUND_REVERSED", "RENEWAL_EXTENDED", "RENEWAL_EXTENSION", "RESCIND_CONSENT", "REVOKE", "SUBSCRIBED", "TEST",
)  # fmt: skip


class NotificationHistory:
    def __init__(self, api: AppleApi) -> None:
        self.api, self.emu = api, api.emu

    async def endpoint(self, request: Request) -> Response:
        try:
            body = await json_body(request)
            events = self._events(body)
            token = request.query_params.get("paginationToken")
            page, next_offset, has_more = page_of(events, token, 4000014, "pagination token")
        except AppleError as exc:
            return exc.response()
        answer: dict[str, Any] = {
            "notificationHistory": [self._item(request, event) for event in page],
            "hasMore": has_more,
        }
        if has_more:
            answer["paginationToken"] = encode_page_token({"o": next_offset})
        return json_response(answer)

    def _events(self, body: dict[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
        start, end = body.get("startDate"), body.get("endDate")
        if not is_int(start):
            raise AppleError(
                400, 4000015, "Invalid request. The start date is not a timestamp value in milliseconds."
            )
        if not is_int(end):
            raise AppleError(
                400, 4000016, "Invalid request. The end date is not a timestamp value in milliseconds."
            )
        now = self.emu.now_ms()
        if start < now - NOTIFICATION_WINDOW_DAYS[self.api.environment] * 86_400_000:
            raise AppleError(
                400, 4000012, "Invalid request. The start date is earlier than the allowed start date."
            )
        end = min(end, now)  # Apple treats a future end date as now
        if start > end:
            raise AppleError(
                400, 4000013, "Invalid request. The end date precedes the start date or the dates are the same."
            )
        wanted = self._filter(body)
        events = [e for e in derive_notifications(self.api.records()) if start <= e[0] <= end and wanted(e)]
        return sorted(events, key=lambda e: (e[0], e[2]["transactionId"], e[1]))

    def _filter(self, body: dict[str, Any]) -> Any:
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
            customer = {r["transactionId"] for r in self.api.customer(self.api.find(str(transaction_id)))}
        failures_only = body.get("onlyFailures") is True  # every emulated send succeeded

        def wanted(event: tuple[int, str, dict[str, Any]]) -> bool:
            return (
                not failures_only
                and subtype is None
                and (kind is None or event[1] == kind)
                and (customer is None or event[2]["transactionId"] in customer)
            )

        return wanted

    def _item(self, request: Request, event: tuple[int, str, dict[str, Any]]) -> dict[str, Any]:
        at, kind, record = event
        data: dict[str, Any] = {
            "appAppleId": self.emu.identity.app_apple_id,
            "bundleId": record.get("bundleId", self.emu.identity.bundle_id),
            "environment": self.api.environment,
            "signedTransactionInfo": self.api.sign_transaction(request, record, as_of=at),
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


def derive_notifications(records: Any) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """The notifications Apple would have sent for each transaction (formats.md)."""
    for record in records:
        yield record["purchaseDate"], "ONE_TIME_CHARGE", record
        if record.get("consumptionRequestDate") is not None:
            yield record["consumptionRequestDate"], "CONSUMPTION_REQUEST", record
        if record.get("revocationDate") is not None:
            yield record["revocationDate"], "REFUND", record
