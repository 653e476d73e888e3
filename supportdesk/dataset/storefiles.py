"""What each store knows about a charge, in the store's own field names and units (formats.md section 1)."""

from __future__ import annotations

from datetime import datetime
from random import Random

from supportdesk.dataset.units import alpha3, apple_milliunits, epoch_ms, epoch_s, google_micros

BUNDLE_ID = "com.supportdesk.coins"


def apple_transaction(
    txn_id: str, product_id: str, at: datetime, country: str, price_minor: int, currency: str, token: str, ms: int
) -> dict:
    return {
        "transactionId": txn_id,
        "originalTransactionId": txn_id,
        "bundleId": BUNDLE_ID,
        "productId": product_id,
        "type": "Consumable",
        "quantity": 1,
        "purchaseDate": epoch_ms(at) + ms,
        "storefront": alpha3(country),
        "price": apple_milliunits(price_minor, currency),
        "currency": currency,
        "appAccountToken": token,
        "environment": "Production",  # Sandbox ones are served apart (emulator/apple.py AppleApi.records)
        "inAppOwnershipType": "PURCHASED",
        "transactionReason": "PURCHASE",
    }


def google_purchase(
    order_id: str,
    token: str,
    product_id: str,
    at: datetime,
    country: str,
    price_minor: int,
    currency: str,
    account_id: str,
    ms: int,
    pending: bool = False,
) -> dict:
    return {
        "kind": "androidpublisher#productPurchase",
        "orderId": order_id,
        "purchaseToken": token,
        "productId": product_id,
        "purchaseTimeMillis": str(epoch_ms(at) + ms),
        "purchaseState": 2 if pending else 0,
        "consumptionState": 0 if pending else 1,
        "acknowledgementState": 0 if pending else 1,
        "quantity": 1,
        "refundableQuantity": 1,
        "regionCode": country,
        "obfuscatedExternalAccountId": account_id,
        "priceAmountMicros": google_micros(price_minor, currency),
        "priceCurrencyCode": currency,
    }


def web_charge(
    charge_id: str,
    customer: str,
    at: datetime,
    country: str,
    price_minor: int,
    currency: str,
    account_id: str,
    product_id: str,
    coins: int,
    fingerprint: str,
) -> dict:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": price_minor,
        "amount_captured": price_minor,
        "currency": currency.lower(),
        "customer": customer,
        "created": epoch_s(at),
        "description": f"{coins} coins",
        "status": "succeeded",
        "paid": True,
        "captured": True,
        "livemode": False,
        "refunded": False,
        "amount_refunded": 0,
        "disputed": False,
        "billing_country": country,
        "card_fingerprint": fingerprint,
        "metadata": {"account_id": account_id, "product_id": product_id, "coins": coins},
        "refunds": [],
    }


APPLE_CONSUMPTION_REASONS = ("UNINTENDED_PURCHASE", "FULFILLMENT_ISSUE", "UNSATISFIED_WITH_PURCHASE", "OTHER")


def apple_revoke(record: dict, at: datetime, rng: Random) -> None:
    if rng.random() < 0.5:
        # The customer asked Apple first; Apple asked us for consumption data a day or two before deciding.
        record["consumptionRequestDate"] = epoch_ms(at) - rng.randint(20, 50) * 3_600_000
        record["consumptionRequestReason"] = rng.choice(APPLE_CONSUMPTION_REASONS)
    record["revocationDate"] = epoch_ms(at)
    record["revocationReason"] = rng.choice((0, 0, 1))
    record["revocationType"] = "REFUND_FULL"
    record["revocationPercentage"] = 100000


def apple_consumption_request(record: dict, at: datetime, rng: Random) -> None:
    record["consumptionRequestDate"] = epoch_ms(at)
    record["consumptionRequestReason"] = rng.choice(APPLE_CONSUMPTION_REASONS)


# voidedReason codes: 1 remorse, 2 not received, 4 accidental purchase, 5 fraud, 7 chargeback.
GOOGLE_VOID_REASONS = (1, 1, 2, 4, 5, 7)


def google_void(record: dict, at: datetime, rng: Random) -> None:
    reason = rng.choice(GOOGLE_VOID_REASONS)
    record["voidedTimeMillis"] = str(epoch_ms(at))
    record["voidedSource"] = 2 if reason == 7 else rng.choice((0, 1))
    record["voidedReason"] = reason
    record["voidedQuantity"] = 1
    record["refundableQuantity"] = 0


def web_refund(record: dict, refund_id: str, at: datetime, reason: str = "requested_by_customer") -> None:
    record["refunded"] = True
    record["amount_refunded"] = record["amount"]
    record["refunds"] = [{"id": refund_id, "amount": record["amount"], "created": epoch_s(at), "reason": reason}]


def web_dispute(record: dict, dispute_id: str, at: datetime, status: str, reason: str) -> dict:
    record["disputed"] = True
    return {
        "id": dispute_id,
        "object": "dispute",
        "charge": record["id"],
        "amount": record["amount"],
        "currency": record["currency"],
        "status": status,
        "reason": reason,
        "created": epoch_s(at),
    }
