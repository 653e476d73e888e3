"""The simulated outside world: the catalog, what each store knows about each charge, and fake store clients.

The stores are the independent source the invariants check our ledger against: a charge exists here whatever
our database says, and only the store (or our call to it) can refund it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from supportdesk.stores.errors import StoreRejected
from supportdesk.stores.records import NormalisedRecord, web_record
from supportdesk.stores.web import OUR_REFUND

NOW = datetime(2026, 10, 5, tzinfo=UTC)  # the refund decisions' clock
SINCE = "2024-01-01T00:00:00Z"
# (store, product) -> (price in USD cents, coins). No promotions: a charge at another price matches nothing.
CATALOG = {
    ("web", "coins_70"): (99, 70), ("web", "coins_350"): (499, 350), ("web", "coins_700"): (999, 700),
    ("google", "coins_350"): (499, 350), ("google", "coins_700"): (999, 700),
}
PRODUCTS = sorted(CATALOG)


def bundle_coins(store: str, product: str, price: int | None, currency: str | None) -> int | None:
    """The coins a charge buys at a price point in force, or None when its price matches none."""
    listed = CATALOG.get((store, product))
    if listed is None or currency != "USD" or price != listed[0]:
        return None
    return listed[1]


@dataclass
class Charge:
    """One charge as its store sees it. `version` moves on every store-side change; sync writes the newer ones."""

    store: str
    txn: str
    account_id: str
    product: str
    price: int
    purchased_at: datetime
    state: str = "purchased"  # purchased | refunded | charged_back
    refunds: list[dict[str, Any]] = field(default_factory=list)
    dispute: dict[str, Any] | None = None
    version: int = 1
    synced: int = 0

    @property
    def coins(self) -> int | None:
        return bundle_coins(self.store, self.product, self.price, "USD")

    @property
    def refunded_minor(self) -> int:
        return sum(r["amount"] for r in self.refunds)

    def record(self) -> NormalisedRecord:
        """What sync would write: web through the real normaliser, Google as its normalised record."""
        at = int(self.purchased_at.timestamp())
        if self.store == "web":
            charge = {"id": self.txn, "amount": self.price, "currency": "usd", "created": at, "status": "succeeded",
                      "metadata": {"account_id": self.account_id, "product_id": self.product},
                      "billing_country": "US", "amount_refunded": self.refunded_minor,
                      "refunded": self.refunded_minor >= self.price > 0, "refunds": {"data": self.refunds}}
            return web_record(charge, self.dispute)
        taken = self.state in ("refunded", "charged_back")
        return NormalisedRecord(
            store="google", store_transaction_id=self.txn, order_id=self.txn, purchase_token=f"tok-{self.txn}",
            account_ref=self.account_id, product_id=self.product, quantity=1, price_minor=self.price,
            currency="USD", country="US", purchased_at=self.purchased_at, state=self.state,
            refunded_at=NOW if taken else None, refund_reason=("chargeback" if self.state == "charged_back"
                                                               else "remorse") if taken else None,
            refunded_minor=self.price if taken else None, raw={"orderId": self.txn, "v": self.version})


class Stores:
    """Every store's charges, thread-safe (two agents may call a store at once)."""

    def __init__(self) -> None:
        self.charges: dict[str, Charge] = {}
        self.lock = threading.Lock()
        self.keys: dict[str, dict[str, Any]] = {}  # the processor's Idempotency-Key replays

    def add(self, charge: Charge) -> Charge:
        with self.lock:
            self.charges[charge.txn] = charge
        return charge

    def open(self) -> list[Charge]:
        return [c for c in self.charges.values() if c.state == "purchased"]

    def refundable(self) -> list[Charge]:
        """Charges the store can still refund: every open one, and a web charge refunded only in part (the
        processor's Refunds API takes more refunds of a charge up to its amount; Play refunds whole orders)."""
        return [c for c in self.charges.values() if self._refundable(c)]

    @staticmethod
    def _refundable(c: Charge) -> bool:
        if c.state == "purchased":
            return True
        return c.store == "web" and c.state == "refunded" and c.dispute is None and c.refunded_minor < c.price

    def refund(self, txn: str, amount: int, reason: str, *, key: str | None = None) -> dict[str, Any]:
        with self.lock:
            if key is not None and key in self.keys:
                return self.keys[key]
            c = self.charges[txn]
            if not self._refundable(c) or c.refunded_minor >= c.price:
                raise StoreRejected(c.store, "The store rejected the request: already refunded", status=400,
                                    store_code="charge_already_refunded")
            amount = min(amount, c.price - c.refunded_minor)
            refund = {"id": f"re_{txn}_{len(c.refunds) + 1}", "amount": amount, "reason": reason,
                      "created": int((NOW - timedelta(hours=1)).timestamp()), "status": "succeeded",
                      "metadata": {OUR_REFUND: key} if key is not None else {}}
            c.refunds.append(refund)
            c.state = "refunded"
            c.version += 1
            if key is not None:
                self.keys[key] = refund
            return refund

    def dispute(self, txn: str, lost: bool) -> None:
        with self.lock:
            c = self.charges[txn]
            if c.store == "google":
                c.state = "charged_back" if lost else c.state
            else:
                c.dispute = {"id": f"dp_{txn}", "status": "lost" if lost else "won", "reason": "fraudulent",
                             "amount": c.price, "created": int(NOW.timestamp()) - 600}
                c.state = "charged_back" if lost else c.state
            c.version += 1

    def unsynced(self, store: str | None = None) -> list[Charge]:
        return [c for c in self.charges.values() if c.version > c.synced and store in (None, c.store)]


class FakeWeb:
    """The processor's refund API over `Stores`: one refund per Idempotency-Key."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def create_refund(self, charge: str, *, idempotency_key: str, amount: int | None = None,
                      reason: str | None = None) -> dict[str, Any]:
        c = self.stores.charges[charge]
        return self.stores.refund(charge, amount or c.price, reason or "requested_by_customer", key=idempotency_key)

    def get_charge(self, charge: str) -> dict[str, Any]:
        return {"id": charge, "refunds": {"data": list(self.stores.charges[charge].refunds)}}

    def find_our_refund(self, charge: str, refund_id: str) -> dict[str, Any] | None:
        """As the real client: our refund of the charge (its metadata names our refund id), if made already."""
        return next((r for r in self.stores.charges[charge].refunds
                     if r["metadata"].get(OUR_REFUND) == refund_id), None)

    def close(self) -> None:
        pass


class FakeGoogle:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def refund_order(self, order_id: str, *, revoke: bool = True) -> None:
        self.stores.refund(order_id, self.stores.charges[order_id].price, "remorse")

    def get_order(self, order_id: str) -> dict[str, Any]:
        taken = self.stores.charges[order_id].state != "purchased"
        return {"orderId": order_id, "state": "REFUNDED" if taken else "PROCESSED"}

    def close(self) -> None:
        pass


# -- the app's own export, imported in small pieces ------------------------------------------------------------------
def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def catalog_rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "regions": [{"country": "US", "currency": "USD", "coin_purchase": True, "gifting": True, "cashout": True,
                     "min_age": 18, "stores": ["apple", "google", "web"], "valid_from": SINCE}],
        "price_points": [{"country": "US", "store": s, "product_id": p, "coins": coins, "price_minor": price,
                          "currency": "USD", "valid_from": SINCE, "valid_to": None}
                         for (s, p), (price, coins) in CATALOG.items()],
        "gifts": [{"gift_id": "rose", "name": "Rose", "coins": 1, "diamonds": 0},
                  {"gift_id": "lion", "name": "Lion", "coins": 60, "diamonds": 30}],
    }


def account_row(account_id: str, coins: int, diamonds: int = 0) -> dict[str, Any]:
    n = account_id.removeprefix("acc_")
    return {"account_id": account_id, "handle": f"@sim{n}", "email": f"sim{n}@example.com", "country": "US",
            "birth_date": "1990-01-01", "kind": "creator" if diamonds else "viewer", "status": "active",
            "created_at": iso(NOW - timedelta(days=60)), "coin_balance": coins, "diamond_balance": diamonds}


def gift_rows(event_id: str, sender: str, creator: str, at: datetime) -> dict[str, list[dict[str, Any]]]:
    """One lion (60 coins, 30 diamonds) from `sender` to `creator`: the event and both sides' entries."""
    entry = {"ref": event_id, "at": iso(at), "actor": "system"}
    return {"gift_events": [{"event_id": event_id, "sender_id": sender, "creator_id": creator, "gift_id": "lion",
                             "quantity": 1, "coins": 60, "diamonds": 30, "at": iso(at)}],
            "ledger": [{"entry_id": f"le_{event_id}_s", "account_id": sender, "asset": "coin", "amount": -60,
                        "kind": "gift_sent", **entry},
                       {"entry_id": f"le_{event_id}_r", "account_id": creator, "asset": "diamond", "amount": 30,
                        "kind": "gift_received", **entry}]}


def purchase_row(purchase_id: str, c: Charge, coins: int) -> dict[str, Any]:
    return {"purchase_id": purchase_id, "account_id": c.account_id, "store": c.store, "store_transaction_id": c.txn,
            "product_id": c.product, "coins": coins, "price_minor": c.price, "currency": "USD", "country": "US",
            "purchased_at": iso(c.purchased_at), "status": "completed"}


def credit_row(entry_id: str, account_id: str, amount: int, ref: str, at: datetime) -> dict[str, Any]:
    return {"entry_id": entry_id, "account_id": account_id, "asset": "coin", "amount": amount, "kind": "purchase",
            "ref": ref, "at": iso(at), "actor": "system"}


def write_dataset(root: Path, rows: dict[str, list[dict[str, Any]]]) -> Path:
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    for name, items in {**catalog_rows(), **rows}.items():
        (app / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    return root
