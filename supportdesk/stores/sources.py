"""What each store can tell us about a window, as batches of normalised records.

Every batch is fetched completely before it is yielded, so the write that follows holds no lock during HTTP
and a failure while fetching leaves nothing half-written. Listing APIs cover what they can (Apple's notification
history: 180 days; Google's voided purchases: 30 days); our own purchases in the window that the listing did not
return are then looked up one by one, which also covers the part of the window beyond a store's look-back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from supportdesk.db.engine import read_session
from supportdesk.db.models import Purchase
from supportdesk.stores.errors import StoreNotFound
from supportdesk.stores.records import NormalisedRecord, apple_record, google_record, pick_dispute, web_record

APPLE_LOOKBACK = timedelta(days=180)
GOOGLE_VOIDED_LOOKBACK = timedelta(days=30)
LOOKBACK_MARGIN = timedelta(hours=1)  # stay clear of the store's edge so its clock and ours may differ a little
LOOKUP_CHUNK = 50
RTDN_MAX_MESSAGES = 100
RTDN_MAX_PULLS = 1000
VOIDED_PAGE = 100  # each voided purchase costs a products.get: keep batches (and lost work) small


@dataclass
class Batch:
    records: list[NormalisedRecord]
    not_found: int = 0
    after_commit: Callable[[], int] | None = None  # e.g. acknowledge RTDN messages; returns how many


@dataclass
class Window:
    engine: Engine
    since: datetime
    until: datetime
    now: datetime
    seen: set[str] = field(default_factory=set)

    def clamp(self, lookback: timedelta) -> datetime | None:
        """The start of the part of the window a listing API can still see, or None if it sees none of it."""
        start = max(self.since, self.now - lookback + LOOKBACK_MARGIN)
        return start if start < self.until else None

    def note(self, records: list[NormalisedRecord]) -> list[NormalisedRecord]:
        self.seen.update(r.store_transaction_id for r in records)
        return records

    def unseen_purchases(self, store: str) -> list[tuple[str, str]]:
        """Our purchases in the window the listing did not return: (store_transaction_id, product_id)."""
        with read_session(self.engine) as session:
            rows = session.exec(select(Purchase.store_transaction_id, Purchase.product_id).where(
                Purchase.store == store, Purchase.purchased_at >= self.since, Purchase.purchased_at <= self.until,
            ).order_by(Purchase.purchased_at)).all()
        return [(tid, pid) for tid, pid in rows if tid not in self.seen]


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- Apple ------------------------------------------------------------------------------------------------------
APPLE_NOTIFICATION_TYPES = ("ONE_TIME_CHARGE", "REFUND", "REFUND_REVERSED")


def apple_batches(client: Any, window: Window) -> Iterator[Batch]:
    start = window.clamp(APPLE_LOOKBACK)
    if start is not None:
        for notification_type in APPLE_NOTIFICATION_TYPES:
            for page in client.notification_history_pages(start, window.until, notification_type):
                txns = [n["transaction"] for n in page if n.get("transaction")]
                yield Batch(window.note([apple_record(t) for t in txns]))
    for chunk in _chunks(window.unseen_purchases("apple"), LOOKUP_CHUNK):
        records, missing = [], 0
        for tid, _product in chunk:
            try:
                records.append(apple_record(client.get_transaction_info(tid)))
            except StoreNotFound:
                missing += 1  # ours, unknown to Apple: reconcile reports it, nothing to store
        yield Batch(window.note(records), not_found=missing)


# -- Google -----------------------------------------------------------------------------------------------------
def google_batches(client: Any, window: Window) -> Iterator[Batch]:
    if client.config.get("pubsub_base_url") and client.config.get("subscription"):
        yield from _rtdn_batches(client, window)
    start = window.clamp(GOOGLE_VOIDED_LOOKBACK)
    if start is not None:
        for page in client.voided_purchase_pages(start, min(window.until, window.now), max_results=VOIDED_PAGE):
            voided = {v["orderId"]: v for v in page if v.get("orderId")}
            records, missing = _google_orders(client, list(voided), voided)
            yield Batch(window.note(records), not_found=missing)
    for chunk in _chunks(window.unseen_purchases("google"), LOOKUP_CHUNK):
        records, missing = _google_orders(client, [tid for tid, _ in chunk], {})
        yield Batch(window.note(records), not_found=missing)


def _rtdn_batches(client: Any, window: Window) -> Iterator[Batch]:
    """Pull until the subscription is empty; a batch's messages are acknowledged only after it is committed."""
    handled: set[str] = set()
    for _ in range(RTDN_MAX_PULLS):
        messages = client.pull_notifications(RTDN_MAX_MESSAGES)
        fresh = [m for m in messages if (m.message_id or m.ack_id) not in handled]
        if not fresh:
            return
        handled.update(m.message_id or m.ack_id for m in fresh)
        records, missing = _google_from_notifications(client, [m.notification for m in fresh if m.notification])
        ack_ids = [m.ack_id for m in messages]

        def acknowledge(ids: list[str] = ack_ids) -> int:
            client.acknowledge(ids)
            return len(ids)

        yield Batch(window.note(records), not_found=missing, after_commit=acknowledge)


def _google_from_notifications(client: Any, notifications: list[dict[str, Any]]
                               ) -> tuple[list[NormalisedRecord], int]:
    purchases: dict[str, tuple[dict[str, Any], str, str]] = {}  # orderId -> (purchase, sku, token)
    order_ids: list[str] = []
    missing = 0
    for note in notifications:
        one_time = note.get("oneTimeProductNotification") or {}
        voided = note.get("voidedPurchaseNotification") or {}
        sku, token = one_time.get("sku"), one_time.get("purchaseToken")
        if sku and token:
            try:
                purchase = client.get_product_purchase(sku, token)
            except StoreNotFound:
                missing += 1
                continue
            if purchase.get("orderId"):
                purchases[purchase["orderId"]] = (purchase, sku, token)
        elif voided.get("orderId"):
            order_ids.append(voided["orderId"])
    orders = {o["orderId"]: o for o in client.batch_get_orders(list(purchases)) if o.get("orderId")}
    records = [google_record(p, orders.get(oid), product_id=sku, purchase_token=token)
               for oid, (p, sku, token) in purchases.items()]
    more, more_missing = _google_orders(client, [o for o in order_ids if o not in purchases], {})
    return records + more, missing + more_missing


def _google_orders(client: Any, order_ids: list[str], voided: dict[str, dict[str, Any]]
                   ) -> tuple[list[NormalisedRecord], int]:
    """Orders by id, each completed with its ProductPurchase (account, region, purchase state)."""
    if not order_ids:
        return [], 0
    orders = {o["orderId"]: o for o in client.batch_get_orders(order_ids) if o.get("orderId")}
    records, missing = [], 0
    for oid in order_ids:
        order = orders.get(oid)
        line = ((order or {}).get("lineItems") or [{}])[0]
        token = (order or {}).get("purchaseToken") or voided.get(oid, {}).get("purchaseToken")
        if order is None or not token or not line.get("productId"):
            missing += 1
            continue
        try:
            purchase = client.get_product_purchase(line["productId"], token)
        except StoreNotFound:
            purchase = {}
        records.append(google_record(purchase, order, voided.get(oid), product_id=line["productId"],
                                     purchase_token=token))
    return records, missing


# -- web --------------------------------------------------------------------------------------------------------
def web_batches(client: Any, window: Window) -> Iterator[Batch]:
    disputes: dict[str, list[dict[str, Any]]] = {}
    for page in client.dispute_pages(created_gte=int(window.since.timestamp())):
        for dispute in page:
            disputes.setdefault(str(dispute.get("charge")), []).append(dispute)
    for page in client.charge_pages(created_gte=int(window.since.timestamp()),
                                    created_lte=int(window.until.timestamp())):
        yield Batch(window.note([web_record(c, pick_dispute(disputes.get(c["id"], []))) for c in page]))
    extra = [cid for cid in disputes if cid not in window.seen]
    extra += [tid for tid, _ in window.unseen_purchases("web") if tid not in disputes]
    for chunk in _chunks(extra, LOOKUP_CHUNK):
        records, missing = [], 0
        for cid in chunk:
            try:
                records.append(web_record(client.get_charge(cid), pick_dispute(disputes.get(cid, []))))
            except StoreNotFound:
                missing += 1
        yield Batch(window.note(records), not_found=missing)


SOURCES: dict[str, Callable[[Any, Window], Iterator[Batch]]] = {
    "apple": apple_batches, "google": google_batches, "web": web_batches,
}
