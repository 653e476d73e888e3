"""The Orders API ``Order`` resource, built from a Google purchase record.

States: ``REFUNDED`` once voided, ``PARTIALLY_REFUNDED`` after a partial refund, ``CANCELED`` / ``PENDING`` from
``purchaseState`` 1 / 2, else ``PROCESSED``. Money is ``google.type.Money`` from ``priceAmountMicros`` /
``priceCurrencyCode``; tax is reported as zero.

Partial refunds (Order resource, OrderHistory.partialRefundEvents; developers.google.com/android-publisher/
api-ref/rest/v3/orders): a record whose ``voidedQuantity`` is below its ``quantity`` was refunded by quantity
(that share of the price); a record's ``partialRefunds`` (``[{refundTimeMillis, amountMicros}]``) were refunded
by amount. Each is one ``partialRefundEvents`` entry with its ``refundDetails.total``.
"""

from __future__ import annotations

from typing import Any

from supportdesk.emulator.clock import format_timestamp, millis


def order_resource(purchase: dict[str, Any]) -> dict[str, Any]:
    """An Orders API ``Order`` built from the purchase record."""
    bought = int(purchase["purchaseTimeMillis"])
    voided = millis(purchase.get("voidedTimeMillis"))
    total = _money(purchase)
    line_item: dict[str, Any] = {
        "productId": purchase["productId"],
        "productTitle": purchase["productId"],
        "oneTimePurchaseDetails": {"quantity": purchase.get("quantity", 1)},
    }
    history: dict[str, Any] = {"processedEvent": {"eventTime": format_timestamp(bought)}}
    if total is not None:
        line_item.update(listingPrice=total, total=total, tax=_zero(total))
    partial = partial_refunds(purchase)
    if partial:
        history["partialRefundEvents"] = [
            {"createTime": format_timestamp(at), "processTime": format_timestamp(at), "state": "PROCESSED_SUCCESSFULLY",
             "refundDetails": {"total": _micros_money(micros, total), "tax": _zero(total)}}
            for at, micros in partial if total is not None
        ]  # fmt: skip
    elif voided is not None:
        reason = "CHARGEBACK" if purchase.get("voidedReason") == 7 else "OTHER"
        history["refundEvent"] = {"eventTime": format_timestamp(voided), "refundReason": reason}
        if total is not None:
            history["refundEvent"]["refundDetails"] = {"total": total, "tax": _zero(total)}
    order: dict[str, Any] = {
        "orderId": purchase["orderId"],
        "purchaseToken": purchase["purchaseToken"],
        "state": _order_state(purchase),
        "createTime": format_timestamp(bought),
        "lastEventTime": format_timestamp(max([bought, voided or bought, *(at for at, _ in partial)])),
        "lineItems": [line_item],
        "orderHistory": history,
        "salesChannel": "IN_APP",
    }
    if purchase.get("regionCode"):
        order["buyerAddress"] = {"buyerCountry": purchase["regionCode"]}
    if total is not None:
        order.update(total=total, tax=_zero(total))
    if purchase.get("obfuscatedExternalAccountId"):
        order["obfuscatedExternalAccountId"] = purchase["obfuscatedExternalAccountId"]
    return order


def is_partial_void(purchase: dict[str, Any]) -> bool:
    """Voided by quantity, some of the units kept."""
    voided = purchase.get("voidedQuantity")
    return purchase.get("voidedTimeMillis") is not None and voided is not None and \
        0 < int(voided) < int(purchase.get("quantity", 1))


def partial_refunds(purchase: dict[str, Any]) -> list[tuple[int, int]]:
    """(time ms, micros) of each partial refund: by quantity, then by amount."""
    out = []
    if is_partial_void(purchase) and purchase.get("priceAmountMicros") is not None:
        share = int(purchase["priceAmountMicros"]) * int(purchase["voidedQuantity"]) // int(purchase.get("quantity", 1))
        out.append((int(purchase["voidedTimeMillis"]), share))
    for refund in purchase.get("partialRefunds") or []:
        out.append((int(refund["refundTimeMillis"]), int(refund["amountMicros"])))
    return sorted(out)


def _order_state(purchase: dict[str, Any]) -> str:
    if partial_refunds(purchase):
        return "PARTIALLY_REFUNDED"
    if purchase.get("voidedTimeMillis") is not None:
        return "REFUNDED"
    return {1: "CANCELED", 2: "PENDING"}.get(purchase.get("purchaseState", 0), "PROCESSED")


def _money(purchase: dict[str, Any]) -> dict[str, Any] | None:
    micros, currency = purchase.get("priceAmountMicros"), purchase.get("priceCurrencyCode")
    if micros is None or currency is None:
        return None
    micros = int(micros)
    # google.type.Money: int64 units travel as a JSON string; nanos = the rest in billionths.
    return {"currencyCode": currency, "units": str(micros // 1_000_000), "nanos": (micros % 1_000_000) * 1000}


def _micros_money(micros: int, like: dict[str, Any]) -> dict[str, Any]:
    return {"currencyCode": like["currencyCode"], "units": str(micros // 1_000_000), "nanos": (micros % 1_000_000) * 1000}


def _zero(total: dict[str, Any]) -> dict[str, Any]:
    return {"currencyCode": total["currencyCode"], "units": "0", "nanos": 0}
