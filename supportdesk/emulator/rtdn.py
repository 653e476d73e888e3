"""Google Play real-time developer notifications, as a Pub/Sub subscription would deliver them.

Derived from the purchases: a ``oneTimeProductNotification`` (1 purchased, 2 canceled) at the purchase time
and a ``voidedPurchaseNotification`` at the void time; refunds made through the API publish more. A message
is delivered once its event time has come (emulator clock) and for 7 days after, Pub/Sub's default retention.
A pulled message is outstanding until its ack deadline (10 s by default; wall-clock) and is delivered again
after it if not acknowledged, as Pub/Sub does ("ackDeadlineSeconds", Subscription reference,
cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions).
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from supportdesk.emulator.clock import format_timestamp, millis

RETENTION_MS = 7 * 86_400_000
PURCHASED, CANCELED = 1, 2
PRODUCT_TYPE_ONE_TIME = 2
REFUND_TYPE_FULL = 1


def developer_notification(package_name: str, at_ms: int, **body: Any) -> dict[str, Any]:
    return {"version": "1.0", "packageName": package_name, "eventTimeMillis": str(at_ms), **body}


def purchase_notification(package_name: str, purchase: dict[str, Any]) -> dict[str, Any]:
    voided = purchase.get("voidedTimeMillis") is not None
    kind = CANCELED if purchase.get("purchaseState") == 1 and not voided else PURCHASED
    body = {"version": "1.0", "notificationType": kind, "purchaseToken": purchase["purchaseToken"],
            "sku": purchase["productId"]}  # fmt: skip
    at = millis(purchase["purchaseTimeMillis"]) or 0
    return developer_notification(package_name, at, oneTimeProductNotification=body)


def voided_notification(package_name: str, purchase: dict[str, Any]) -> dict[str, Any]:
    body = {"purchaseToken": purchase["purchaseToken"], "orderId": purchase["orderId"],
            "productType": PRODUCT_TYPE_ONE_TIME, "refundType": REFUND_TYPE_FULL}  # fmt: skip
    at = millis(purchase["voidedTimeMillis"]) or 0
    return developer_notification(package_name, at, voidedPurchaseNotification=body)


def rtdn_events(purchases: list[dict[str, Any]], package_name: str) -> list[dict[str, Any]]:
    events = [purchase_notification(package_name, p) for p in purchases]
    events += [voided_notification(package_name, p) for p in purchases if p.get("voidedTimeMillis") is not None]
    return events


@dataclass
class _Message:
    message_id: str
    at_ms: int
    notification: dict[str, Any]


class RtdnQueue:
    def __init__(self, notifications: list[dict[str, Any]], *, ack_deadline_s: float = 10.0) -> None:
        self.ack_deadline_s = ack_deadline_s
        self._outstanding: dict[str, float] = {}  # message id -> wall time its ack deadline passes
        self._messages: list[_Message] = []
        self._acked: set[str] = set()
        self._ack_ids: dict[str, str] = {}
        self._ids = itertools.count(1)
        for notification in sorted(notifications, key=lambda n: int(n["eventTimeMillis"])):
            self.publish(notification)

    def publish(self, notification: dict[str, Any]) -> str:
        message_id = str(next(self._ids))
        self._messages.append(_Message(message_id, int(notification["eventTimeMillis"]), notification))
        return message_id

    def pull(self, now_ms: int, max_messages: int) -> list[dict[str, Any]]:
        wall = time.monotonic()
        ready = [
            m for m in self._messages
            if m.message_id not in self._acked and now_ms - RETENTION_MS <= m.at_ms <= now_ms
            and self._outstanding.get(m.message_id, 0.0) <= wall
        ]  # fmt: skip
        ready.sort(key=lambda m: (m.at_ms, int(m.message_id)))
        return [self._deliver(m) for m in ready[:max_messages]]

    def acknowledge(self, ack_ids: list[str]) -> list[str]:
        """Acknowledge; returns the ack ids this subscription never handed out."""
        unknown = [a for a in ack_ids if a not in self._ack_ids]
        self._acked.update(self._ack_ids[a] for a in ack_ids if a in self._ack_ids)
        return unknown

    def _deliver(self, message: _Message) -> dict[str, Any]:
        ack_id = f"ack-{message.message_id}-{len(self._ack_ids) + 1}"
        self._ack_ids[ack_id] = message.message_id
        self._outstanding[message.message_id] = time.monotonic() + self.ack_deadline_s
        data = base64.b64encode(json.dumps(message.notification).encode()).decode()
        body = {"data": data, "messageId": message.message_id, "publishTime": format_timestamp(message.at_ms)}
        return {"ackId": ack_id, "message": body}
