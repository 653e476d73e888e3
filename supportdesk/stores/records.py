"""Each store's payload turned into one plain record shaped like the `store_records` table. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pycountry

from supportdesk.domain.money import check_currency, from_micros, from_milliunits, minor_digits
from supportdesk.errors import InvalidInput
from supportdesk.stores.errors import StoreBadResponse, store_title

STATES = ("purchased", "pending", "canceled", "refunded", "charged_back")
APPLE_REVOCATION_REASONS: dict[Any, str] = {0: "other", 1: "app_issue"}
GOOGLE_VOIDED_REASONS: dict[Any, str] = {
    0: "other", 1: "remorse", 2: "not_received", 3: "defective", 4: "accidental", 5: "fraud",
    6: "friendly_fraud", 7: "chargeback", 8: "unacknowledged",
}
GOOGLE_CHARGEBACK_REASONS = {6, 7}  # the bank took the money back, not Google or us
GOOGLE_PURCHASE_STATES = {0: "purchased", 1: "canceled", 2: "pending"}
GOOGLE_ORDER_STATES = {
    "PROCESSED": "purchased", "PENDING": "pending", "CANCELED": "canceled", "PENDING_REFUND": "purchased",
    "PARTIALLY_REFUNDED": "refunded", "REFUNDED": "refunded",
}
WEB_CHARGE_STATES = {"succeeded": "purchased", "pending": "pending", "failed": "canceled"}
# No coin bundle costs this much in any currency's minor unit (10^12: ten billion dollars, or yen); past it, or
# past what a 64-bit column holds, an amount is a broken answer, not a charge.
MAX_MINOR = 10**12


@dataclass(frozen=True)
class NormalisedRecord:
    store: str
    store_transaction_id: str
    order_id: str | None
    purchase_token: str | None
    account_ref: str | None
    product_id: str
    quantity: int
    price_minor: int | None
    currency: str | None
    country: str | None
    purchased_at: datetime
    state: str
    refunded_at: datetime | None
    refund_reason: str | None
    refunded_minor: int | None
    raw: dict[str, Any]

    def __post_init__(self) -> None:
        """A charge of nothing, a negative one, or one too large to be a price is refused, naming the record."""
        for name, value in (("an amount", self.price_minor), ("a refunded amount", self.refunded_minor)):
            if value is None:
                continue
            if (value <= 0 if name == "an amount" else value < 0) or value >= MAX_MINOR:
                unit = f"{self.currency} minor units" if self.currency else "minor units"
                raise StoreBadResponse(self.store, f"{_name(self.store)} sent {self.store_transaction_id} with "
                                                   f"{name} of {value} {unit}; an amount must be positive and "
                                                   f"below {MAX_MINOR:,}: the record was refused")

    def columns(self) -> dict[str, Any]:
        """The fields as columns, shallow: `asdict` would deep-copy `raw`, the store's whole answer, for nothing."""
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(NormalisedRecord))


# -- Apple ------------------------------------------------------------------------------------------------------
def apple_record(txn: dict[str, Any]) -> NormalisedRecord:
    """A decoded JWS transaction. `revocationPercentage` is in milliunits of a percent (100000 = all)."""
    tid = _required("apple", txn, "transactionId")
    currency = _currency("apple", txn.get("currency"))
    price = _convert("apple", from_milliunits, txn.get("price"), currency, tid)
    revoked = _from_ms(txn.get("revocationDate"))
    refunded_minor = None
    if revoked is not None and price is not None:
        share = txn.get("revocationPercentage")
        refunded_minor = price if share is None else price * int(share) // 100_000
    reason = None
    if revoked is not None:
        reason = "family_revoke" if txn.get("revocationType") == "FAMILY_REVOKE" else \
            APPLE_REVOCATION_REASONS.get(txn.get("revocationReason"), "other")
    return NormalisedRecord(
        store="apple", store_transaction_id=str(tid), order_id=None,
        purchase_token=None, account_ref=_str(txn.get("appAccountToken")),
        product_id=str(_required("apple", txn, "productId")), quantity=int(txn.get("quantity") or 1),
        price_minor=price, currency=currency, country=alpha2_of_alpha3(txn.get("storefront")),
        purchased_at=_required_time("apple", _from_ms(txn.get("purchaseDate")), "purchaseDate", tid),
        state="refunded" if revoked is not None else "purchased", refunded_at=revoked, refund_reason=reason,
        refunded_minor=refunded_minor, raw=txn,
    )


@cache
def alpha2_of_alpha3(code: str | None) -> str | None:
    if not code:
        return None
    country = pycountry.countries.get(alpha_3=str(code).upper())
    return country.alpha_2 if country else None


# -- Google -----------------------------------------------------------------------------------------------------
def google_record(purchase: dict[str, Any] | None, order: dict[str, Any] | None = None,
                  voided: dict[str, Any] | None = None, *, product_id: str | None = None,
                  purchase_token: str | None = None) -> NormalisedRecord:
    """A ProductPurchase, the Orders API's Order (price, state) and a voided purchase, any of them missing."""
    purchase, order, voided = purchase or {}, order or {}, voided or {}
    oid = purchase.get("orderId") or order.get("orderId") or voided.get("orderId")
    if not oid:
        raise StoreBadResponse("google", "Google Play sent a purchase without an orderId")
    line = (order.get("lineItems") or [{}])[0]
    quantity = int(purchase.get("quantity") or (line.get("oneTimePurchaseDetails") or {}).get("quantity") or 1)
    currency, price = _google_price(purchase, order, oid)
    state, refunded_at, reason, refunded_minor = _google_refund(purchase, order, voided, price, quantity)
    bought = _from_ms(purchase.get("purchaseTimeMillis")) or _from_rfc3339(order.get("createTime")) \
        or _from_ms(voided.get("purchaseTimeMillis"))
    raw = {k: v for k, v in (("purchase", purchase), ("order", order), ("voided", voided)) if v}
    return NormalisedRecord(
        store="google", store_transaction_id=str(oid), order_id=str(oid),
        purchase_token=purchase.get("purchaseToken") or order.get("purchaseToken") or voided.get("purchaseToken")
        or purchase_token,
        account_ref=_str(purchase.get("obfuscatedExternalAccountId")),
        product_id=str(purchase.get("productId") or line.get("productId") or product_id or ""),
        quantity=quantity, price_minor=price, currency=currency,
        country=_str(purchase.get("regionCode") or (order.get("buyerAddress") or {}).get("buyerCountry")),
        purchased_at=_required_time("google", bought, "purchaseTimeMillis", oid), state=state,
        refunded_at=refunded_at, refund_reason=reason, refunded_minor=refunded_minor, raw=raw,
    )


def _google_price(purchase: dict[str, Any], order: dict[str, Any], oid: str) -> tuple[str | None, int | None]:
    total = order.get("total")
    if isinstance(total, dict) and total.get("currencyCode"):
        currency = _currency("google", total["currencyCode"])
        return currency, google_money_minor(total, oid)
    currency = _currency("google", purchase.get("priceCurrencyCode"))
    return currency, _convert("google", from_micros, purchase.get("priceAmountMicros"), currency, oid)


def google_money_minor(money: dict[str, Any], oid: str = "") -> int | None:
    """google.type.Money {currencyCode, units (string), nanos} to minor units, exactly."""
    currency = _currency("google", money.get("currencyCode"))
    if currency is None:
        return None
    nanos_total = int(money.get("units") or 0) * 10**9 + int(money.get("nanos") or 0)
    factor = 10 ** (9 - minor_digits(currency))
    if nanos_total % factor:
        raise StoreBadResponse("google", f"Google Play sent {money} for order {oid}: not whole minor units")
    return nanos_total // factor


def _google_refund(purchase: dict[str, Any], order: dict[str, Any], voided: dict[str, Any], price: int | None,
                   quantity: int) -> tuple[str, datetime | None, str | None, int | None]:
    if voided:
        code = voided.get("voidedReason")
        state = "charged_back" if code in GOOGLE_CHARGEBACK_REASONS else "refunded"
        part = voided.get("voidedQuantity")
        refunded = price if price is None or not part or quantity <= 0 else price * int(part) // quantity
        return state, _from_ms(voided.get("voidedTimeMillis")), GOOGLE_VOIDED_REASONS.get(code, "other"), refunded
    if order.get("state") == "PARTIALLY_REFUNDED":
        return _google_partial(order, price)
    order_state = GOOGLE_ORDER_STATES.get(str(order.get("state")))
    if order_state == "refunded":
        event = (order.get("orderHistory") or {}).get("refundEvent") or {}
        details = (event.get("refundDetails") or {}).get("total")
        refunded = google_money_minor(details) if isinstance(details, dict) else price
        reason = str(event.get("refundReason") or "other").lower()
        state = "charged_back" if reason == "chargeback" else "refunded"
        return state, _from_rfc3339(event.get("eventTime") or order.get("lastEventTime")), reason, refunded
    if "purchaseState" in purchase:
        return GOOGLE_PURCHASE_STATES.get(purchase["purchaseState"], "purchased"), None, None, None
    return order_state or "purchased", None, None, None


def _google_partial(order: dict[str, Any], price: int | None) -> tuple[str, datetime | None, str | None, int | None]:
    """A partly refunded order (Order resource, OrderHistory.partialRefundEvents): refunded by the sum of its
    processed partial refunds, at the latest one (not the whole price, as a full refund would be)."""
    events = [e for e in (order.get("orderHistory") or {}).get("partialRefundEvents") or []
              if isinstance(e, dict) and e.get("state", "PROCESSED_SUCCESSFULLY") == "PROCESSED_SUCCESSFULLY"]
    amounts = [google_money_minor(total) for e in events
               if isinstance(total := (e.get("refundDetails") or {}).get("total"), dict)]
    refunded = sum(a for a in amounts if a is not None) if amounts else None
    if refunded is None:
        raise StoreBadResponse("google", f"Google Play sent order {order.get('orderId')} as PARTIALLY_REFUNDED "
                                         "without the amounts of its partial refunds")
    when = max((t for e in events if (t := _from_rfc3339(e.get("processTime") or e.get("createTime")))),
               default=_from_rfc3339(order.get("lastEventTime")))
    return "refunded", when, "partial", refunded


# -- web --------------------------------------------------------------------------------------------------------
def web_record(charge: dict[str, Any], dispute: dict[str, Any] | None = None) -> NormalisedRecord:
    """A charge (amount already in minor units) and, if any, its dispute; a lost dispute is a chargeback."""
    cid = _required("web", charge, "id")
    currency = _currency("web", charge.get("currency"))
    metadata = charge.get("metadata") or {}
    refunds = _refund_list(charge.get("refunds"))
    state = WEB_CHARGE_STATES.get(str(charge.get("status")), "purchased")
    refunded_at = reason = refunded_minor = None
    if dispute and dispute.get("status") == "lost":
        state, refunded_at = "charged_back", _from_s(dispute.get("created"))
        reason, refunded_minor = _str(dispute.get("reason")), _int(dispute.get("amount"))
    elif charge.get("refunded") or (charge.get("amount_refunded") or 0) > 0 or refunds:
        last = max(refunds, key=lambda r: r.get("created") or 0) if refunds else {}
        state, refunded_at, reason = "refunded", _from_s(last.get("created")), _str(last.get("reason"))
        refunded_minor = _int(charge.get("amount_refunded")) or sum(int(r.get("amount") or 0) for r in refunds)
    raw = {"charge": charge, **({"dispute": dispute} if dispute else {})}
    return NormalisedRecord(
        store="web", store_transaction_id=str(cid), order_id=_str(charge.get("payment_intent")),
        purchase_token=None, account_ref=_str(metadata.get("account_id") or charge.get("customer")),
        product_id=str(metadata.get("product_id") or ""), quantity=1, price_minor=_int(charge.get("amount")),
        currency=currency, country=_web_country(charge),
        purchased_at=_required_time("web", _from_s(charge.get("created")), "created", cid), state=state,
        refunded_at=refunded_at, refund_reason=reason, refunded_minor=refunded_minor, raw=raw,
    )


def _refund_list(refunds: Any) -> list[dict[str, Any]]:
    if isinstance(refunds, dict):  # the processor's list object
        refunds = refunds.get("data")
    return [r for r in refunds or [] if isinstance(r, dict)]


def _web_country(charge: dict[str, Any]) -> str | None:
    address = ((charge.get("billing_details") or {}).get("address") or {})
    card = ((charge.get("payment_method_details") or {}).get("card") or {})
    code = charge.get("billing_country") or address.get("country") or card.get("country")
    return str(code).upper() if code else None


def pick_dispute(disputes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of a charge's disputes the one that decides its state: a lost one, else the latest."""
    if not disputes:
        return None
    return max(disputes, key=lambda d: (d.get("status") == "lost", d.get("created") or 0))


# -- shared -----------------------------------------------------------------------------------------------------
def version_of(raw: dict[str, Any]) -> int | None:
    """When the store signed this payload (Apple's signedDate, ms): an older payload never overwrites a newer one."""
    value = raw.get("signedDate")
    return int(value) if isinstance(value, int | float) else None


def _required(store: str, payload: dict[str, Any], key: str) -> Any:
    value = payload.get(key)
    if value in (None, ""):
        raise StoreBadResponse(store, f"{_name(store)} sent a record without {key!r}")
    return value


def _required_time(store: str, value: datetime | None, key: str, ident: Any) -> datetime:
    if value is None:
        raise StoreBadResponse(store, f"{_name(store)} sent {ident} without a valid {key!r}")
    return value


def _currency(store: str, code: Any) -> str | None:
    if not code:
        return None
    try:
        return check_currency(str(code))
    except InvalidInput as exc:
        raise StoreBadResponse(store, f"{_name(store)} sent {exc.message}") from None


def _convert(store: str, fn: Any, value: Any, currency: str | None, ident: Any) -> int | None:
    if value is None or currency is None:
        return None
    try:
        return fn(int(value), currency)
    except (InvalidInput, ValueError) as exc:
        raise StoreBadResponse(store, f"{_name(store)} sent a price for {ident} we cannot convert: {exc}") from None


def _name(store: str) -> str:
    return store_title(store)


def _from_ms(value: Any) -> datetime | None:
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)  # exact, no float


def _from_s(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _from_rfc3339(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None
