"""Money: ISO 4217 digits, exact store-unit conversion, sane bounds."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportdesk.domain.ledger import Posting, check_posting, may_leave
from supportdesk.domain.money import (
    check_currency,
    format_money,
    from_micros,
    from_milliunits,
    minor_digits,
    to_micros,
    to_milliunits,
)
from supportdesk.errors import InvalidInput


@pytest.mark.parametrize(("code", "digits"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("VND", 0), ("BHD", 3)])
def test_minor_digits_from_iso_4217(code, digits):
    assert minor_digits(code) == digits


@pytest.mark.parametrize(("price", "currency", "minor"), [(990, "USD", 99), (160000, "JPY", 160), (25000000, "VND", 25000)])
def test_apple_milliunits(price, currency, minor):
    assert from_milliunits(price, currency) == minor


@pytest.mark.parametrize(("micros", "currency", "minor"), [(990000, "USD", 99), (1400000000, "KRW", 1400)])
def test_google_micros(micros, currency, minor):
    assert from_micros(micros, currency) == minor


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["USD", "JPY", "KRW", "VND", "EUR", "BHD"]))
def test_round_trip_is_exact(minor, currency):
    assert from_milliunits(to_milliunits(minor, currency), currency) == minor
    assert from_micros(to_micros(minor, currency), currency) == minor


def test_fractional_minor_units_are_refused():
    with pytest.raises(InvalidInput, match="not a whole number"):
        from_milliunits(995, "USD")
    with pytest.raises(InvalidInput, match="not a whole number"):
        from_micros(160500000, "JPY")


@pytest.mark.parametrize("code", ["XYZ", "US", "usdd", "", "12A"])
def test_unknown_currency(code):
    with pytest.raises(InvalidInput):
        check_currency(code)


def test_format_money():
    assert format_money(123456, "USD") == "1,234.56 USD"
    assert format_money(-99, "USD") == "-0.99 USD"
    assert format_money(25000, "VND") == "25,000 VND"


@given(st.integers(min_value=-10**6, max_value=10**6), st.integers(min_value=-10**6, max_value=10**6))
def test_only_clawbacks_may_leave_a_debt(balance, amount):
    if amount == 0:
        return
    kind = "adjustment"
    p = check_posting(Posting("acc_1", "coin", amount, kind))
    assert may_leave(balance + amount, p) == (balance + amount >= 0 or amount > 0)
    claw = Posting("acc_1", "coin", -abs(amount), "refund_clawback")
    assert may_leave(balance - abs(amount), claw)
