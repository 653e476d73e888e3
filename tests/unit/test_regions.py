"""Regions in force, price points in force, availability, age, history and country names: pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportdesk.domain import regions as rg
from supportdesk.domain.money import format_money
from supportdesk.errors import InvalidInput, NotFound

T = datetime(2026, 7, 1, tzinfo=UTC)  # the suspension
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def region(valid_from: datetime, **over: object) -> rg.RegionRow:
    values: dict[str, object] = dict(country="VN", currency="VND", coin_purchase=True, gifting=True, cashout=True,
                                     min_age=18, stores=("apple", "google"), valid_from=valid_from, note=None)
    values.update(over)
    return rg.RegionRow(**values)  # type: ignore[arg-type]


def price(valid_from: datetime, valid_to: datetime | None = None, **over: object) -> rg.PriceRow:
    values: dict[str, object] = dict(country="VN", store="apple", product_id="coins_70", coins=70, price_minor=25000,
                                     currency="VND", valid_from=valid_from, valid_to=valid_to, bonus_coins=0)
    values.update(over)
    return rg.PriceRow(**values)  # type: ignore[arg-type]


VN = [region(datetime(2024, 1, 1, tzinfo=UTC)),
      region(T, coin_purchase=False, note="Coin sales suspended by local regulation")]


# --- region in force ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("at", "coin_purchase"), [
    (T - DAY, True), (T - SECOND, True), (T, False), (T + DAY, False),
])
def test_the_row_in_force_changes_exactly_at_valid_from(at, coin_purchase):
    row = rg.region_in_force(VN, at)
    assert row is not None and row.coin_purchase is coin_purchase


def test_before_the_first_row_nothing_is_in_force():
    assert rg.region_in_force(VN, datetime(2023, 12, 31, tzinfo=UTC)) is None
    verdict = rg.action_verdict("VN", VN, datetime(2023, 12, 31, tzinfo=UTC))
    assert (verdict.allowed, verdict.rule) == (False, "no_region_row")
    assert "the first starts 2024-01-01" in verdict.reason


def test_a_country_without_rows_is_unavailable():
    assert rg.action_verdict("FR", [], T) == rg.Verdict(False, "no_region_row", "no region row: unavailable")


@given(st.lists(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
                unique=True, max_size=8),
       st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2031, 1, 1), timezones=st.just(UTC)))
def test_in_force_is_the_latest_row_not_after_t(starts, at):
    rows = [region(s, min_age=i) for i, s in enumerate(starts)]
    got = rg.region_in_force(rows, at)
    earlier = [s for s in starts if s <= at]
    assert (got.valid_from if got else None) == (max(earlier) if earlier else None)


# --- verdicts ----------------------------------------------------------------------------------------------------

def test_suspension_day_before_and_after():
    before = rg.action_verdict("VN", VN, T - DAY, "buy_coins", "apple")
    after = rg.action_verdict("VN", VN, T + DAY, "buy_coins", "apple")
    assert (before.allowed, before.rule) == (True, "allowed")
    assert (after.allowed, after.rule) == (False, "buy_coins_off")
    assert after.reason == "buy coins: not allowed in VN since 2026-07-01: Coin sales suspended by local regulation"


def test_a_store_the_region_does_not_offer():
    verdict = rg.action_verdict("VN", VN, T - DAY, "buy_coins", "web")
    assert (verdict.allowed, verdict.rule) == (False, "store_not_offered")
    assert "only apple, google" in verdict.reason


def test_gifts_and_cashout_follow_their_own_flags():
    rows = [region(T, gifting=False)]
    assert rg.action_verdict("VN", rows, T, "send_gifts").rule == "send_gifts_off"
    assert rg.action_verdict("VN", rows, T, "cash_out").allowed
    assert rg.allows(rows[0]) == {"buy_coins": True, "send_gifts": False, "cash_out": True}
    assert rg.allows(None) == {"buy_coins": False, "send_gifts": False, "cash_out": False}
    with pytest.raises(InvalidInput):
        rg.action_verdict("VN", rows, T, "teleport")


@pytest.mark.parametrize(("birth", "on", "age"), [
    (date(2008, 7, 1), date(2026, 7, 1), 18), (date(2008, 7, 2), date(2026, 7, 1), 17),
    (date(2008, 2, 29), date(2026, 2, 28), 17), (date(2008, 2, 29), date(2026, 3, 1), 18),
])
def test_age_in_whole_years(birth, on, age):
    assert rg.age_on(birth, on) == age


def test_age_check_uses_the_min_age_in_force():
    korea = region(T, country="KR", min_age=19)
    at = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert rg.age_verdict(korea, date(2007, 7, 2), at).rule == "underage"  # 18 is not enough in KR
    assert rg.age_verdict(korea, date(2007, 7, 1), at).rule == "age_ok"
    assert rg.age_verdict(korea, None, at).rule == "age_unknown"


# --- price points ------------------------------------------------------------------------------------------------

def test_valid_to_is_exclusive_and_valid_from_inclusive():
    end = T + 7 * DAY
    row = price(T, end)
    assert not row.in_force(T - SECOND)
    assert row.in_force(T) and row.in_force(end - SECOND)
    assert not row.in_force(end)
    assert price(T).in_force(T + 1000 * DAY)  # open


def test_a_promotion_overlaps_its_base_row_only_inside_its_window():
    base = price(datetime(2024, 1, 1, tzinfo=UTC))
    promo = price(T, T + 7 * DAY, bonus_coins=14)
    other = price(datetime(2024, 1, 1, tzinfo=UTC), product_id="coins_350", coins=350, price_minor=125000)
    assert rg.prices_in_force([promo, other, base], T + DAY) == [base, promo, other]  # by bundle, base first
    assert rg.prices_in_force([promo, other, base], T + 7 * DAY) == [base, other]
    assert promo.promotion and not base.promotion


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=0, max_value=10_000_000), st.integers(min_value=-2000, max_value=2000))
def test_in_force_means_from_inclusive_to_exclusive(start, seconds, offset):
    row = price(start, start + timedelta(seconds=seconds))
    at = start + timedelta(seconds=offset)
    assert row.in_force(at) == (0 <= offset < seconds)


@pytest.mark.parametrize(("minor", "currency", "text"), [
    (25000, "VND", "25,000 VND"), (6249000, "VND", "6,249,000 VND"), (160, "JPY", "160 JPY"),
    (1400, "KRW", "1,400 KRW"), (99, "USD", "0.99 USD"), (1234, "BHD", "1.234 BHD"),
])
def test_zero_decimal_currencies_are_whole_units(minor, currency, text):
    assert format_money(minor, currency) == text


# --- history -----------------------------------------------------------------------------------------------------

def test_history_names_what_changed_and_which_row_is_in_force():
    rows = [*VN, region(T + 30 * DAY, stores=("apple",), min_age=19)]
    hist = rg.history(reversed(rows), T + DAY)
    assert [h["valid_from"] for h in hist] == sorted(r.valid_from for r in rows)
    assert [h["in_force"] for h in hist] == [False, True, False]
    assert hist[0]["changes"] == [] and hist[0]["summary"].startswith("first row: buy coins yes")
    assert hist[1]["changes"] == [{"field": "coin_purchase", "from": True, "to": False},
                                  {"field": "note", "from": None, "to": "Coin sales suspended by local regulation"}]
    assert {c["field"] for c in hist[2]["changes"]} == {"coin_purchase", "min_age", "stores", "note"}
    assert "stores apple google -> apple" in hist[2]["summary"]


# --- countries ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["VN", "vn", "VNM", "vnm", "Vietnam", "viet nam", "Viet Nam", "  VIETNAM ",
                                  "Socialist Republic of Viet Nam"])
def test_vietnam_by_code_or_name(text):
    assert rg.resolve_country(text).code == "VN"


@pytest.mark.parametrize(("text", "code"), [("Georgia", "GE"), ("Congo", "CG"), ("south korea", "KR"),
                                            ("cote d'ivoire", "CI"), ("Côte d’Ivoire", "CI"), ("usa", "US")])
def test_names_with_near_neighbours(text, code):
    assert rg.resolve_country(text).code == code


@pytest.mark.parametrize(("text", "error", "message"), [
    ("XX", InvalidInput, "'XX' is not an ISO 3166-1 country code"),
    ("qqq", InvalidInput, "'QQQ' is not an ISO 3166-1 country code"),
    ("V1", InvalidInput, "is not a country code or name"),
    ("", InvalidInput, "give a country code"),
    ("x" * 200, InvalidInput, "is not a country code or name"),
    ("DROP TABLE;", InvalidInput, "is not a country code or name"),
    ("Atlantis", NotFound, "no country called 'Atlantis'"),
    ("Korea", InvalidInput, "matches several countries: North Korea (KP), South Korea (KR)"),
])
def test_bad_countries_are_named(text, error, message):
    with pytest.raises(error) as caught:
        rg.resolve_country(text)
    assert message in caught.value.message


def test_picker_search_puts_codes_then_name_prefixes_first():
    assert [c.code for c in rg.search_countries("vn")][:1] == ["VN"]
    assert [c.code for c in rg.search_countries("viet")] == ["VN"]
    assert {"KR", "KP"} <= {c.code for c in rg.search_countries("kor")}
    assert len(rg.search_countries("", limit=300)) == 249
    assert rg.search_countries("Atlantis") == []


def test_region_rules_import_no_sql_and_the_service_no_screen_or_http():
    import subprocess
    import sys

    code = ("import sys, supportdesk.domain.regions\n"
            "sql = [m for m in sys.modules if m.startswith(('sqlalchemy', 'sqlmodel'))]\n"
            "import supportdesk.services.regions\n"
            "ui = [m for m in sys.modules if m.split('.')[0] in ('textual', 'httpx', 'stripe', 'google')]\n"
            "print(sql, ui)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] []"
