"""The small store folder the emulator tests serve, and clients shaped like the stores' own."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from supportdesk.emulator.clock import parse_timestamp
from supportdesk.emulator.server import EmulatorHandle
from supportdesk.emulator.state import Realism

# Real behaviour, with a short Pub/Sub hold so a drained subscription costs tests a fifth of a second.
TEST_REALISM = Realism(pull_hold_s=0.2)
NOW = "2026-03-01T12:00:00Z"
NOW_MS = parse_timestamp(NOW)
DAY_MS = 86_400_000
BUNDLE_ID = "com.supportdesk.coins"
CUSTOMER_A = "0b7c8f4e-1111-4a4a-9c9c-000000000001"
CUSTOMER_B = "0b7c8f4e-2222-4a4a-9c9c-000000000002"


def apple_transactions() -> list[dict[str, Any]]:
    rows = []
    for i in range(45):  # customer A: three history pages, some purchases older than 180 days
        bought = NOW_MS - 200 * DAY_MS + i * 4 * DAY_MS
        row = _apple(str(2000000000000 + i), CUSTOMER_A, bought)
        if i % 10 == 3:
            row["consumptionRequestDate"] = bought + DAY_MS // 2
            row["consumptionRequestReason"] = "UNSATISFIED_WITH_PURCHASE"
            row.update(revocationDate=bought + DAY_MS, revocationReason=0, revocationType="REFUND_FULL")
        rows.append(row)
    rows.append(_apple("2000000001000", CUSTOMER_B, NOW_MS - 5 * DAY_MS, orderId="MKORDER0001"))
    rows.append(_apple("2000000001001", CUSTOMER_B, NOW_MS - 4 * DAY_MS, orderId="MKORDER0001"))
    rows.append(_apple("2000000001002", None, NOW_MS - 3 * DAY_MS))
    return rows


def _apple(transaction_id: str, customer: str | None, bought: int, **extra: Any) -> dict[str, Any]:
    row = {
        "transactionId": transaction_id,
        "originalTransactionId": transaction_id,
        "bundleId": BUNDLE_ID,
        "productId": "coins_70",
        "type": "Consumable",
        "quantity": 1,
        "purchaseDate": bought,
        "storefront": "USA",
        "price": 990,
        "currency": "USD",
        "environment": "Production",  # the emulator signs with its own --environment
        "inAppOwnershipType": "PURCHASED",
        **extra,
    }
    if customer:
        row["appAccountToken"] = customer
    return row


def google_purchases() -> list[dict[str, Any]]:
    rows = []
    for i in range(30):
        bought = NOW_MS - 60 * DAY_MS + i * 2 * DAY_MS
        row = _google(i, bought)
        if i % 2 == 0:  # voided a day later: roughly half of the voids fall inside the 30-day window
            row.update(voidedTimeMillis=str(bought + DAY_MS), voidedSource=0, voidedReason=1, purchaseState=1)
        rows.append(row)
    rows.append(_google(99, NOW_MS - 1200 * DAY_MS))  # too old to refund
    # Partial refunds (Order.orderHistory.partialRefundEvents): one of three units voided by quantity ...
    by_quantity = _google(97, NOW_MS - 20 * DAY_MS)
    by_quantity.update(quantity=3, priceAmountMicros=14970000, voidedTimeMillis=str(NOW_MS - 10 * DAY_MS),
                       voidedSource=1, voidedReason=1, voidedQuantity=1)
    # ... and 1.50 of 4.99 refunded by amount.
    by_amount = _google(98, NOW_MS - 20 * DAY_MS)
    by_amount["partialRefunds"] = [{"refundTimeMillis": str(NOW_MS - 9 * DAY_MS), "amountMicros": "1500000"}]
    return [*rows, by_quantity, by_amount]


def _google(i: int, bought: int) -> dict[str, Any]:
    return {
        "orderId": f"GPA.3300-0000-0000-{i:05d}",
        "purchaseToken": f"token-{i:03d}",
        "productId": "coins_350",
        "purchaseTimeMillis": str(bought),
        "purchaseState": 0,
        "consumptionState": 1,
        "acknowledgementState": 1,
        "quantity": 1,
        "regionCode": "US",
        "obfuscatedExternalAccountId": f"acc_{i % 4}",
        "priceAmountMicros": 4990000,
        "priceCurrencyCode": "USD",
    }


def web_charges() -> list[dict[str, Any]]:
    rows = []
    for i in range(25):
        rows.append(
            {
                "id": f"ch_{i:04d}",
                "amount": 999,
                "currency": "usd",
                "customer": f"cus_{i % 3}",
                "created": NOW_MS // 1000 - i * 3600,
                "status": "succeeded",
                "refunded": False,
                "amount_refunded": 0,
                "disputed": i == 5,
                "billing_country": "US",
                "card_fingerprint": f"fp{i % 5}",
                "metadata": {"account_id": f"acc_{i % 3}", "product_id": "coins_700", "coins": 700},
            }
        )
    rows[2].update(amount_refunded=999, refunded=True, refunds=[{"id": "re_old", "amount": 999,
                                                                "created": rows[2]["created"] + 60,
                                                                "reason": "duplicate"}])  # fmt: skip
    return rows


def web_disputes() -> list[dict[str, Any]]:
    created = NOW_MS // 1000 - 86400
    return [
        {"id": "dp_0001", "charge": "ch_0005", "amount": 999, "currency": "usd", "status": "lost",
         "reason": "fraudulent", "created": created},
        {"id": "dp_0002", "charge": "ch_0007", "amount": 999, "currency": "usd", "status": "won",
         "reason": "general", "created": created + 1},
    ]  # fmt: skip


def write_store(root: Path) -> Path:
    files = {
        "apple/transactions.jsonl": apple_transactions(),
        "google/purchases.jsonl": google_purchases(),
        "web/charges.jsonl": web_charges(),
        "web/disputes.jsonl": web_disputes(),
    }
    for name, rows in files.items():
        path = root / "store" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def apple_jwt(config: dict[str, Any], **overrides: Any) -> str:
    """A token the way Apple's library makes one: ES256, kid, iss/aud/bid/exp."""
    apple = config["stores"]["apple"]
    claims = {"iss": apple["issuer_id"], "iat": int(time.time()), "exp": int(time.time()) + 300,
              "aud": "appstoreconnect-v1", "bid": apple["bundle_id"], **overrides}  # fmt: skip
    return jwt.encode(claims, apple["private_key"], algorithm="ES256", headers={"kid": apple["key_id"]})


def google_access_token(config: dict[str, Any]) -> str:
    """A token from the emulator's token endpoint, fetched by google-auth itself from the key file."""
    import google.auth.transport.requests
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_file(
        config["stores"]["google"]["service_account_file"],
        scopes=["https://www.googleapis.com/auth/androidpublisher"],
    )
    credentials.refresh(google.auth.transport.requests.Request())
    return str(credentials.token)


# Plain HTTP to 127.0.0.1 only: skipping the CA bundle makes a client ~50 ms cheaper to create.
LOCAL = httpx.Client(verify=False, timeout=10)


def local_client(**options: Any) -> httpx.Client:
    return httpx.Client(verify=False, timeout=10, **options)


def set_faults(emulator: EmulatorHandle, *specs: Any) -> None:
    LOCAL.post(f"{emulator.base_url}/_emulator/faults", json=list(specs)).raise_for_status()
