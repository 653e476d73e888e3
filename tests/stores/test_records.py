from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportdesk.stores.errors import StoreBadResponse
from supportdesk.stores.records import (
    apple_record,
    google_money_minor,
    google_record,
    pick_dispute,
    web_record,
)
from tests.stores.signing import T0_MS, transaction


@pytest.mark.parametrize(("price", "currency", "minor"), [
    (990, "USD", 99), (160000, "JPY", 160), (1500000, "KRW", 1500), (25000000, "VND", 25000), (1990, "BHD", 1990),
])
def test_apple_milliunits_convert_exactly(price: int, currency: str, minor: int) -> None:
    rec = apple_record(transaction(price=price, currency=currency))
    assert (rec.price_minor, rec.currency) == (minor, currency)


def test_apple_fields_and_alpha3_storefront() -> None:
    rec = apple_record(transaction("42", storefront="KOR", quantity=2, appAccountToken="ABC"))
    assert rec.store == "apple" and rec.store_transaction_id == "42"
    assert rec.country == "KR" and rec.quantity == 2 and rec.account_ref == "ABC"
    assert rec.purchased_at == datetime(2026, 9, 1, 12, tzinfo=UTC)
    assert rec.state == "purchased" and rec.refunded_at is None and rec.refunded_minor is None


def test_apple_partial_refund_uses_revocation_percentage() -> None:
    rec = apple_record(transaction(price=9990, revocationDate=T0_MS + 5000, revocationReason=1,
                                   revocationType="REFUND_PRORATED", revocationPercentage=33333))
    assert rec.state == "refunded" and rec.refund_reason == "app_issue"
    assert rec.refunded_minor == 999 * 33333 // 100000  # 332: rounded down to the minor unit
    assert rec.refunded_at == datetime(2026, 9, 1, 12, 0, 5, tzinfo=UTC)


def test_apple_full_refund_without_percentage() -> None:
    rec = apple_record(transaction(revocationDate=T0_MS + 1, revocationReason=0))
    assert (rec.state, rec.refunded_minor, rec.refund_reason) == ("refunded", 99, "other")
    assert rec.refunded_at is not None and rec.refunded_at.microsecond == 1000  # milliseconds kept exactly


def test_apple_price_that_is_not_whole_minor_units_is_a_bad_response() -> None:
    with pytest.raises(StoreBadResponse, match="cannot convert"):
        apple_record(transaction(price=1005, currency="JPY"))


def test_apple_payload_without_transaction_id_is_a_bad_response() -> None:
    with pytest.raises(StoreBadResponse, match="transactionId"):
        apple_record(transaction(transactionId=None))


def purchase(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "orderId": "GPA.1", "purchaseToken": "tok", "productId": "coins_350", "purchaseTimeMillis": str(T0_MS),
        "purchaseState": 0, "quantity": 1, "regionCode": "JP", "obfuscatedExternalAccountId": "acc_1",
        "priceAmountMicros": 610000000, "priceCurrencyCode": "JPY",
    }
    row.update(over)
    return row


def test_google_micros_convert_exactly_for_zero_decimal_currencies() -> None:
    rec = google_record(purchase())
    assert (rec.price_minor, rec.currency, rec.country, rec.account_ref) == (610, "JPY", "JP", "acc_1")
    assert google_record(purchase(priceAmountMicros=4990000, priceCurrencyCode="usd")).price_minor == 499
    assert google_record(purchase(priceAmountMicros=39000000000, priceCurrencyCode="VND")).price_minor == 39000


def test_google_order_money_wins_and_converts_units_and_nanos() -> None:
    order = {"orderId": "GPA.1", "state": "PROCESSED", "total": {"currencyCode": "KRW", "units": "6500",
                                                                  "nanos": 0}}
    assert google_record(purchase(), order).price_minor == 6500
    assert google_money_minor({"currencyCode": "EUR", "units": "4", "nanos": 990000000}) == 499
    with pytest.raises(StoreBadResponse):
        google_money_minor({"currencyCode": "JPY", "units": "1", "nanos": 500000000})


def test_google_states() -> None:
    assert google_record(purchase(purchaseState=2)).state == "pending"
    assert google_record(purchase(purchaseState=1)).state == "canceled"
    refunded = google_record(purchase(), {"orderId": "GPA.1", "state": "REFUNDED", "orderHistory": {
        "refundEvent": {"eventTime": "2026-09-02T00:00:00Z", "refundReason": "OTHER"}}})
    assert (refunded.state, refunded.refund_reason, refunded.refunded_minor) == ("refunded", "other", 610)
    chargeback = google_record(purchase(), {"orderId": "GPA.1", "state": "REFUNDED", "orderHistory": {
        "refundEvent": {"eventTime": "2026-09-02T00:00:00Z", "refundReason": "CHARGEBACK"}}})
    assert chargeback.state == "charged_back"


def test_google_partial_void_uses_voided_quantity() -> None:
    voided = {"orderId": "GPA.1", "voidedTimeMillis": str(T0_MS + 3_600_000), "voidedReason": 1,
              "voidedQuantity": 1}
    rec = google_record(purchase(quantity=3, priceAmountMicros=1830000000), None, voided)
    assert (rec.state, rec.refund_reason, rec.refunded_minor) == ("refunded", "remorse", 610)
    assert rec.refunded_at == datetime(2026, 9, 1, 13, tzinfo=UTC)


def test_google_chargeback_void() -> None:
    rec = google_record(purchase(), None, {"orderId": "GPA.1", "voidedTimeMillis": str(T0_MS), "voidedReason": 7})
    assert (rec.state, rec.refund_reason, rec.refunded_minor) == ("charged_back", "chargeback", 610)


def charge(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "ch_1", "amount": 1200, "currency": "jpy", "customer": "cus_9", "created": T0_MS // 1000,
        "status": "succeeded", "refunded": False, "amount_refunded": 0, "billing_country": "jp",
        "metadata": {"account_id": "acc_1", "product_id": "coins_70"},
    }
    row.update(over)
    return row


def test_web_amount_is_minor_already_and_currency_upper_cased() -> None:
    rec = web_record(charge())
    assert (rec.price_minor, rec.currency, rec.country, rec.account_ref, rec.product_id) == (
        1200, "JPY", "JP", "acc_1", "coins_70")
    assert rec.state == "purchased"
    assert web_record(charge(metadata={})).account_ref == "cus_9"


def test_web_partial_refund() -> None:
    refunds = {"object": "list", "data": [{"id": "re_1", "amount": 400, "created": T0_MS // 1000 + 60,
                                           "reason": "requested_by_customer"}]}
    rec = web_record(charge(amount_refunded=400, refunds=refunds))
    assert (rec.state, rec.refunded_minor, rec.refund_reason) == ("refunded", 400, "requested_by_customer")
    assert rec.refunded_at == datetime(2026, 9, 1, 12, 1, tzinfo=UTC)


def test_web_lost_dispute_is_a_chargeback_and_won_changes_nothing() -> None:
    lost = {"id": "dp_1", "charge": "ch_1", "amount": 1200, "status": "lost", "reason": "fraudulent",
            "created": T0_MS // 1000 + 86400}
    won = dict(lost, id="dp_2", status="won", created=T0_MS // 1000 + 99999)
    assert pick_dispute([won, lost]) == lost
    rec = web_record(charge(disputed=True), pick_dispute([won, lost]))
    assert (rec.state, rec.refund_reason, rec.refunded_minor) == ("charged_back", "fraudulent", 1200)
    assert rec.raw["dispute"]["id"] == "dp_1"
    assert web_record(charge(disputed=True), won).state == "purchased"
