"""What each store can tell us about a window, as batches of normalised records.

Every batch is fetched completely before it is yielded, so the write that follows holds no lock during HTTP
and a failure while fetching leaves nothing half-written. A listing's next page is asked for while the current
one is looked up and written (`lookups.ahead`); per-id lookups run on the store's pool (`lookups.each`).
Listing APIs cover what they can (Apple's notification history: 180 days, 30 in Sandbox; Google's voided
purchases: 30 days); our own purchases in the window that the listing did not return are then looked up one by
one, which also covers the part of the window beyond a store's look-back.

For one account (`ACCOUNT_SOURCES`) the stores are asked about that customer only, through their per-customer
APIs where they have one: Apple's transaction and refund history of one of the account's transactions, the
processor's charges of the account's customer id. Google has none: its notifications are pulled as usual (they
are global, and acknowledged only after their batch is committed), its voided list is kept to the account's
orders and the account's orders are looked up by id. Records are normalised exactly as in a full sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from supportdesk.db.engine import read_session
from supportdesk.db.models import Purchase, StoreRecord
from supportdesk.stores.errors import StoreNotFound
from supportdesk.stores.lookups import ahead, each
from supportdesk.stores.records import (
    NormalisedRecord,
    _from_ms,
    apple_record,
    google_record,
    pick_dispute,
    web_record,
)

APPLE_LOOKBACK = timedelta(days=180)
APPLE_SANDBOX_LOOKBACK = timedelta(days=30)  # Sandbox keeps 30 days of notification history
GOOGLE_VOIDED_LOOKBACK = timedelta(days=30)
LOOKBACK_MARGIN = timedelta(hours=1)  # stay clear of the store's edge so its clock and ours may differ a little
LOOKUP_CHUNK = 50
APPLE_BATCH = 100  # notification history pages hold 20: five of them a transaction, not one
RTDN_MAX_MESSAGES = 100
RTDN_MAX_PULLS = 1000
VOIDED_PAGE = 100  # each voided purchase costs a products.get: keep batches (and lost work) small


@dataclass
class Batch:
    records: list[NormalisedRecord]
    not_found: int = 0
    after_commit: Callable[[], int] | None = None  # e.g. acknowledge RTDN messages; returns how many
    skipped: str | None = None  # why the store was not asked at all
    absent: dict[str, str] = field(default_factory=dict)  # transaction id -> the store's "no such" answer


@dataclass(frozen=True)
class AccountScope:
    """One account, and what the stores know it by."""

    account_id: str
    apple_token: str | None = None
    web_customer: str | None = None


@dataclass(frozen=True)
class Known:
    """A transaction of the account at a store that we know of."""

    store_transaction_id: str
    purchased_at: datetime
    ours: bool  # one of our purchases; else a store record an earlier sync linked to the account


@dataclass
class Window:
    engine: Engine
    since: datetime
    until: datetime
    now: datetime
    seen: set[str] = field(default_factory=set)
    account: AccountScope | None = None

    def clamp(self, lookback: timedelta) -> datetime | None:
        """The start of the part of the window a listing API can still see, or None if it sees none of it."""
        start = max(self.since, self.now - lookback + LOOKBACK_MARGIN)
        return start if start < self.until else None

    def note(self, records: list[NormalisedRecord]) -> list[NormalisedRecord]:
        self.seen.update(r.store_transaction_id for r in records)
        return records

    def covers(self, when: datetime | None) -> bool:
        return when is not None and self.since <= when <= self.until

    def unseen_purchases(self, store: str) -> list[tuple[str, str]]:
        """Our purchases in the window (of the account, if one) the listing did not return:
        (store_transaction_id, product_id)."""
        query = select(Purchase.store_transaction_id, Purchase.product_id).where(
            Purchase.store == store, Purchase.purchased_at >= self.since, Purchase.purchased_at <= self.until)
        if self.account is not None:
            query = query.where(Purchase.account_id == self.account.account_id)
        with read_session(self.engine) as session:
            rows = session.exec(query.order_by(col(Purchase.purchased_at))).all()
        return [(tid, pid) for tid, pid in rows if tid not in self.seen]

    def known(self, store: str) -> list[Known]:
        """The account's transactions at a store, at any date, newest first: our purchases, then the store
        records an earlier sync linked to the account (charges we never recorded)."""
        assert self.account is not None
        account = self.account.account_id
        with read_session(self.engine) as session:
            ours = session.exec(select(Purchase.store_transaction_id, Purchase.purchased_at).where(
                Purchase.store == store, Purchase.account_id == account)).all()
            linked = session.exec(select(StoreRecord.store_transaction_id, StoreRecord.purchased_at).where(
                StoreRecord.store == store, StoreRecord.account_id == account)).all()
        out = {tid: Known(tid, at, True) for tid, at in ours}
        for tid, at in linked:
            out.setdefault(tid, Known(tid, at, False))
        return sorted(out.values(), key=lambda k: (k.purchased_at, k.store_transaction_id), reverse=True)


def answer_of(exc: StoreNotFound) -> str:
    """The store's "no such" answer as evidence: its words, HTTP status and its own error code."""
    parts = [f"HTTP {exc.status}" if exc.status else "", f"store code {exc.store_code}" if exc.store_code else ""]
    extra = ", ".join(p for p in parts if p)
    return f"{exc.message}{f' ({extra})' if extra else ''}"


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- Apple ------------------------------------------------------------------------------------------------------
APPLE_NOTIFICATION_TYPES = ("ONE_TIME_CHARGE", "REFUND", "REFUND_REVERSED")


def apple_batches(client: Any, window: Window) -> Iterator[Batch]:
    sandbox = client.config.get("environment") == "Sandbox"
    start = window.clamp(APPLE_SANDBOX_LOOKBACK if sandbox else APPLE_LOOKBACK)
    if start is not None:
        records: list[NormalisedRecord] = []
        for notification_type in APPLE_NOTIFICATION_TYPES:
            for page in ahead(client.notification_history_pages(start, window.until, notification_type)):
                records += [apple_record(n["transaction"]) for n in page if n.get("transaction")]
                if len(records) >= APPLE_BATCH:
                    yield Batch(window.note(records))
                    records = []
        if records:
            yield Batch(window.note(records))
    for chunk in _chunks([tid for tid, _product in window.unseen_purchases("apple")], LOOKUP_CHUNK):
        yield _apple_lookups(client, window, chunk)


def _apple_lookups(client: Any, window: Window, ids: list[str]) -> Batch:
    """Transactions by id, on the client's lookup pool; the ones Apple does not know, with its answer (ours,
    unknown to Apple: reconcile reports them)."""
    records, absent = [], {}
    for tid, found in each(client, client.get_transaction_info, ids):
        if isinstance(found, StoreNotFound):
            absent[tid] = answer_of(found)
        else:
            records.append(apple_record(found))
    return Batch(window.note(records), not_found=len(absent), absent=absent)


# -- Google -----------------------------------------------------------------------------------------------------
def google_batches(client: Any, window: Window) -> Iterator[Batch]:
    if client.config.get("pubsub_base_url") and client.config.get("subscription"):
        yield from _rtdn_batches(client, window)
    start = window.clamp(GOOGLE_VOIDED_LOOKBACK)
    if start is not None:
        # The next page and its orders are fetched while this page's purchases are looked up.
        pages = client.voided_purchase_pages(start, min(window.until, window.now), max_results=VOIDED_PAGE)
        for voided, orders in ahead(_with_orders(client, pages)):
            records, absent = _google_orders(client, list(voided), voided, orders)
            yield Batch(window.note(records), not_found=len(absent), absent=absent)
    for chunk in _chunks(window.unseen_purchases("google"), LOOKUP_CHUNK):
        records, absent = _google_orders(client, [tid for tid, _ in chunk], {})
        yield Batch(window.note(records), not_found=len(absent), absent=absent)


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
    return records + more, missing + len(more_missing)


def _with_orders(client: Any, pages: Iterator[list[dict[str, Any]]]
                 ) -> Iterator[tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]]:
    """Each page of voided purchases by order id, with the Orders API's orders of the page."""
    for page in pages:
        voided = {v["orderId"]: v for v in page if v.get("orderId")}
        yield voided, _orders_by_id(client, list(voided))


def _orders_by_id(client: Any, order_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not order_ids:
        return {}
    return {o["orderId"]: o for o in client.batch_get_orders(order_ids) if o.get("orderId")}


def _google_orders(client: Any, order_ids: list[str], voided: dict[str, dict[str, Any]],
                   orders: dict[str, dict[str, Any]] | None = None) -> tuple[list[NormalisedRecord], dict[str, str]]:
    """Orders by id (`orders`: already fetched), each completed with its ProductPurchase (account, region,
    purchase state); and the ids Google does not know, with its answer."""
    if not order_ids:
        return [], {}
    if orders is None:
        orders = _orders_by_id(client, order_ids)
    absent: dict[str, str] = {}
    wanted: list[tuple[str, str, str]] = []  # (order id, product, token), each then looked up on the pool
    for oid in order_ids:
        order = orders.get(oid)
        line = ((order or {}).get("lineItems") or [{}])[0]
        token = (order or {}).get("purchaseToken") or voided.get(oid, {}).get("purchaseToken")
        if order is None:
            absent[oid] = f"Google Play has no order {oid} (orders.batchGet did not return it)"
            continue
        if not token or not line.get("productId"):
            absent[oid] = f"Google Play's order {oid} names no purchase token or product"
            continue
        wanted.append((oid, line["productId"], token))
    records = []
    for (oid, product, token), purchase in each(client, lambda w: client.get_product_purchase(w[1], w[2]), wanted):
        records.append(google_record({} if isinstance(purchase, StoreNotFound) else purchase, orders[oid],
                                     voided.get(oid), product_id=product, purchase_token=token))
    return records, absent


# -- web --------------------------------------------------------------------------------------------------------
def web_batches(client: Any, window: Window) -> Iterator[Batch]:
    disputes: dict[str, list[dict[str, Any]]] = {}
    for page in client.dispute_pages(created_gte=int(window.since.timestamp())):
        for dispute in page:
            disputes.setdefault(str(dispute.get("charge")), []).append(dispute)
    for page in ahead(client.charge_pages(created_gte=int(window.since.timestamp()),
                                          created_lte=int(window.until.timestamp()))):
        yield Batch(window.note([web_record(c, pick_dispute(disputes.get(c["id"], []))) for c in page]))
    extra = [cid for cid in disputes if cid not in window.seen]
    extra += [tid for tid, _ in window.unseen_purchases("web") if tid not in disputes]
    for chunk in _chunks(extra, LOOKUP_CHUNK):
        records, absent = [], {}
        for cid, charge in each(client, client.get_charge, chunk):
            if isinstance(charge, StoreNotFound):
                absent[cid] = answer_of(charge)
            else:
                records.append(web_record(charge, pick_dispute(disputes.get(cid, []))))
        yield Batch(window.note(records), not_found=len(absent), absent=absent)


SOURCES: dict[str, Callable[[Any, Window], Iterator[Batch]]] = {
    "apple": apple_batches, "google": google_batches, "web": web_batches,
}


# -- one account --------------------------------------------------------------------------------------------------
def apple_account_batches(client: Any, window: Window) -> Iterator[Batch]:
    """The customer's history (v2, purchase dates in the window) and refund history (refunds in the window) from
    one of the account's transactions: that also returns charges we never recorded. Another Apple customer is
    asked only for a purchase of ours in the window the first one's history did not return."""
    assert window.account is not None
    known = window.known("apple")
    if not known:
        yield Batch([], skipped="the account has no Apple transaction we know of: nothing to ask Apple about")
        return
    ids = {k.store_transaction_id for k in known}
    token = (window.account.apple_token or "").lower()

    def owned(txn: dict[str, Any]) -> bool:  # another account of ours may share the Apple customer
        ref = str(txn.get("appAccountToken") or "").lower()
        return (bool(token) and ref == token) or str(txn.get("transactionId")) in ids

    needed = [k.store_transaction_id for k in known if k.ours and window.covers(k.purchased_at)]
    wanted = set(needed)
    anchors = needed + [k.store_transaction_id for k in known if k.store_transaction_id not in wanted]
    end = window.until + timedelta(milliseconds=1)  # Apple's endDate is exclusive, our window is not
    answered: set[str] = set()  # every transaction a history returned, the account's or not
    missing: set[str] = set()
    asked = False
    for tid in anchors:
        if tid in answered or (asked and tid not in wanted):
            continue
        try:
            for page in client.transaction_history_pages(tid, start=window.since, end=end):
                answered.update(str(t.get("transactionId")) for t in page)
                yield Batch(window.note([apple_record(t) for t in page if owned(t)]))
            for page in client.refund_history_pages(tid):
                refunded = [t for t in page if owned(t) and window.covers(_from_ms(t.get("revocationDate")))]
                yield Batch(window.note([apple_record(t) for t in refunded]))
        except StoreNotFound as exc:
            if tid in wanted:
                missing.add(tid)
                yield Batch([], not_found=1, absent={tid: answer_of(exc)})  # ours, unknown to Apple
            continue
        asked = True
    # Ours in the window that no history returned although Apple knows them (dates that disagree at the window's
    # edge): one by one, as a full sync would.
    rest = [tid for tid in needed if tid not in window.seen and tid not in missing]
    for chunk in _chunks(rest, LOOKUP_CHUNK):
        yield _apple_lookups(client, window, chunk)


def google_account_batches(client: Any, window: Window) -> Iterator[Batch]:
    """Google has no listing per customer: notifications (global) as usual, the voided list kept to the account's
    orders, then the account's orders in the window that neither returned, by id."""
    rtdn = bool(client.config.get("pubsub_base_url") and client.config.get("subscription"))
    if rtdn:
        yield from _rtdn_batches(client, window)
    known = window.known("google")
    if not known:
        if not rtdn:
            yield Batch([], skipped="the account has no Google Play order we know of: nothing to ask Google about")
        return
    orders = {k.store_transaction_id for k in known}
    start = window.clamp(GOOGLE_VOIDED_LOOKBACK)
    if start is not None:
        for page in client.voided_purchase_pages(start, min(window.until, window.now), max_results=1000):
            voided = {v["orderId"]: v for v in page if v.get("orderId") in orders}
            if voided:
                records, absent = _google_orders(client, list(voided), voided)
                yield Batch(window.note(records), not_found=len(absent), absent=absent)
    rest = [k.store_transaction_id for k in reversed(known)
            if window.covers(k.purchased_at) and k.store_transaction_id not in window.seen]
    for chunk in _chunks(rest, LOOKUP_CHUNK):
        records, absent = _google_orders(client, chunk, {})
        yield Batch(window.note(records), not_found=len(absent), absent=absent)


def web_account_batches(client: Any, window: Window) -> Iterator[Batch]:
    """The charges of the account's customer id (those whose metadata names another account are that account's),
    with their disputes, then the account's charges in the window under another customer id, by id."""
    assert window.account is not None
    account, customer = window.account.account_id, window.account.web_customer
    since, until = int(window.since.timestamp()), int(window.until.timestamp())
    if not customer and not window.known("web"):
        yield Batch([], skipped="the account has no customer id or charge at the processor: nothing to ask about")
        return
    if customer:
        for page in client.charge_pages(customer=customer, created_lte=until):
            records = []
            for charge in page:
                if (charge.get("metadata") or {}).get("account_id") not in (None, "", account):
                    continue
                disputes = _recent_disputes(client, charge, since)
                # As in a full sync: charges created in the window, and older ones disputed in it.
                if since <= int(charge.get("created") or 0) or disputes:
                    records.append(web_record(charge, pick_dispute(disputes)))
            yield Batch(window.note(records))
    for chunk in _chunks([tid for tid, _ in window.unseen_purchases("web")], LOOKUP_CHUNK):
        records, absent = [], {}
        for cid in chunk:
            try:
                charge = client.get_charge(cid)
            except StoreNotFound as exc:
                absent[cid] = answer_of(exc)
                continue
            records.append(web_record(charge, pick_dispute(_recent_disputes(client, charge, since))))
        yield Batch(window.note(records), not_found=len(absent), absent=absent)


def _recent_disputes(client: Any, charge: dict[str, Any], since: int) -> list[dict[str, Any]]:
    """A disputed charge's disputes created from `since` on (the ones a full sync's dispute listing returns)."""
    if not charge.get("disputed"):
        return []
    return [d for page in client.dispute_pages(charge=charge["id"]) for d in page
            if int(d.get("created") or 0) >= since]


ACCOUNT_SOURCES: dict[str, Callable[[Any, Window], Iterator[Batch]]] = {
    "apple": apple_account_batches, "google": google_account_batches, "web": web_account_batches,
}
