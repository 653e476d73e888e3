"""A small store folder for the sync tests (formats.md section 1, store files) and the app's side of it.

Every path of the sync is here: Apple older than the 180-day notification window, a refund whose charge is
outside it, a partial refund, a zero-decimal price; Google older than RTDN's 7-day retention, voided in and
outside the 30-day list, a chargeback, a partial void, a pending purchase; web refunds and disputes. Some
store records are not ours (the listings must find them) and some of ours no store knows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = "2026-03-01T12:00:00Z"
NOW_DT = datetime(2026, 3, 1, 12, tzinfo=UTC)
TOKEN_A = "0b7c8f4e-1111-4a4a-9c9c-00000000000a"
TOKEN_B = "0b7c8f4e-2222-4a4a-9c9c-00000000000b"
NOT_OURS = {("apple", "3000000000005"), ("google", "GPA.4"), ("web", "ch_4")}
UNKNOWN = [("apple", "3999999999999"), ("google", "GPA.unknown"), ("web", "ch_missing")]


def ms(days_ago: float) -> int:
    return int((NOW_DT - timedelta(days=days_ago)).timestamp() * 1000)


def apple(n: int, days_ago: float, token: str | None, **extra: Any) -> dict[str, Any]:
    row = {"transactionId": f"300000000000{n}", "originalTransactionId": f"300000000000{n}",
           "bundleId": "com.supportdesk.coins", "productId": "coins_70", "type": "Consumable", "quantity": 1,
           "purchaseDate": ms(days_ago), "storefront": "USA", "price": 990, "currency": "USD",
           "environment": "Production", "inAppOwnershipType": "PURCHASED", **extra}
    if token:
        row["appAccountToken"] = token
    return row


def apple_rows() -> list[dict[str, Any]]:
    return [
        apple(1, 200, TOKEN_A),
        apple(2, 190, TOKEN_A, revocationDate=ms(170), revocationReason=0, revocationType="REFUND_FULL"),
        apple(3, 20, TOKEN_B),
        apple(4, 10, TOKEN_A, revocationDate=ms(9), revocationReason=1, revocationType="REFUND_PRORATED",
              revocationPercentage=50000),
        apple(5, 3, None),
        apple(6, 1, TOKEN_B, storefront="JPN", price=160000, currency="JPY"),
    ]


def google(n: int, days_ago: float, account: str, **extra: Any) -> dict[str, Any]:
    return {"orderId": f"GPA.{n}", "purchaseToken": f"tok-{n}", "productId": "coins_350",
            "purchaseTimeMillis": str(ms(days_ago)), "purchaseState": 0, "consumptionState": 1,
            "acknowledgementState": 1, "quantity": 1, "regionCode": "US", "obfuscatedExternalAccountId": account,
            "priceAmountMicros": 4990000, "priceCurrencyCode": "USD", **extra}


def google_rows() -> list[dict[str, Any]]:
    return [
        google(0, 400, "acc_0"),
        google(1, 60, "acc_1", voidedTimeMillis=str(ms(59)), voidedSource=0, voidedReason=1, purchaseState=1),
        google(2, 20, "acc_1", voidedTimeMillis=str(ms(19)), voidedSource=2, voidedReason=7, purchaseState=1),
        google(3, 10, "acc_2"),
        google(4, 5, "acc_2"),
        google(5, 2, "acc_0", quantity=2, priceAmountMicros=9980000, voidedTimeMillis=str(ms(1)),
               voidedSource=0, voidedReason=1, voidedQuantity=1),
        google(6, 1, "acc_3", purchaseState=2, regionCode="KR", priceAmountMicros=6500000000,
               priceCurrencyCode="KRW"),
    ]


def charge(n: int, days_ago: float, account: str | None, **extra: Any) -> dict[str, Any]:
    return {"id": f"ch_{n}", "amount": 999, "currency": "usd", "customer": f"cus_{n % 3}",
            "created": ms(days_ago) // 1000, "status": "succeeded", "refunded": False, "amount_refunded": 0,
            "disputed": False, "billing_country": "US", "card_fingerprint": f"fp{n}",
            "metadata": {"product_id": "coins_700", **({"account_id": account} if account else {})}, **extra}


def web_rows() -> list[dict[str, Any]]:
    return [
        charge(0, 100, "acc_0"),
        charge(1, 30, "acc_1", amount_refunded=400, refunds=[{"id": "re_1", "amount": 400,
                                                              "created": ms(29) // 1000, "reason": "duplicate"}]),
        charge(2, 20, "acc_2", disputed=True),
        charge(3, 10, "acc_0", disputed=True),
        charge(4, 5, None),  # no account in metadata: the customer id says who
        charge(5, 1, "acc_3", amount=1200, currency="jpy", billing_country="JP"),
    ]


def dispute_rows() -> list[dict[str, Any]]:
    return [
        {"id": "dp_2", "charge": "ch_2", "amount": 999, "currency": "usd", "status": "lost", "reason": "fraudulent",
         "created": ms(15) // 1000},
        {"id": "dp_3", "charge": "ch_3", "amount": 999, "currency": "usd", "status": "won", "reason": "general",
         "created": ms(8) // 1000},
    ]


def write_store_folder(root: Path) -> Path:
    files = {"apple/transactions.jsonl": apple_rows(), "google/purchases.jsonl": google_rows(),
             "web/charges.jsonl": web_rows(), "web/disputes.jsonl": dispute_rows()}
    for name, rows in files.items():
        path = root / "store" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def store_keys() -> set[tuple[str, str]]:
    return ({("apple", r["transactionId"]) for r in apple_rows()} | {("google", r["orderId"]) for r in google_rows()}
            | {("web", r["id"]) for r in web_rows()})


def our_purchases() -> list[tuple[str, str, str, datetime]]:
    """(store, store_transaction_id, account_id, purchased_at) the app knows."""
    owner = {TOKEN_A: "acc_0", TOKEN_B: "acc_1", None: "acc_2"}
    rows = [("apple", r["transactionId"], owner[r.get("appAccountToken")], _at(r["purchaseDate"]))
            for r in apple_rows()]
    rows += [("google", r["orderId"], r["obfuscatedExternalAccountId"], _at(r["purchaseTimeMillis"]))
             for r in google_rows()]
    rows += [("web", r["id"], r["metadata"].get("account_id", "acc_1"), _at(r["created"] * 1000)) for r in web_rows()]
    rows = [r for r in rows if (r[0], r[1]) not in NOT_OURS]
    return rows + [(store, tid, "acc_3", NOW_DT - timedelta(days=2)) for store, tid in UNKNOWN]


def _at(millis: Any) -> datetime:
    return datetime.fromtimestamp(int(millis) / 1000, UTC)
