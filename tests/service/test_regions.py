"""Region lookups on SQLite and PostgreSQL: a VN-style suspension, promotions, names and codes, bad input, and the
verdict on each purchase in the account's story."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportdesk.db.engine import read_session
from supportdesk.db.models import Purchase
from supportdesk.errors import InvalidInput, NotFound
from supportdesk.services import lookup
from supportdesk.services.importer import run_import
from supportdesk.services.regions import availability_at_purchase, region
from tests.service.factories import account, minimal, write_dataset

SUSPENDED = "2026-07-01T00:00:00Z"


def vn_region(valid_from: str, **over: object) -> dict[str, object]:
    row = {"country": "VN", "currency": "VND", "coin_purchase": True, "gifting": True, "cashout": True,
           "min_age": 18, "stores": ["apple", "google"], "valid_from": valid_from}
    row.update(over)
    return row


def vn_price(store: str, product: str, coins: int, minor: int, start: str, end: str | None = None,
             bonus: int | None = None) -> dict[str, object]:
    row = {"country": "VN", "store": store, "product_id": product, "coins": coins, "price_minor": minor,
           "currency": "VND", "valid_from": start, "valid_to": end}
    if bonus is not None:
        row["bonus_coins"] = bonus
    return row


def vn_purchase(pid: str, store: str, at: str) -> dict[str, object]:
    return {"purchase_id": pid, "account_id": "acc_0009", "store": store, "store_transaction_id": f"txn_{pid}",
            "product_id": "coins_70", "coins": 70, "price_minor": 25000, "currency": "VND", "country": "VN",
            "purchased_at": at, "status": "completed"}


@pytest.fixture
def loaded(engine, tmp_path):
    data = minimal()
    data["regions"] += [
        vn_region("2024-01-01T00:00:00Z"),
        vn_region(SUSPENDED, coin_purchase=False, note="Coin sales suspended by local regulation"),
        {"country": "JP", "currency": "JPY", "coin_purchase": True, "gifting": True, "cashout": False,
         "min_age": 18, "stores": ["apple", "google", "web"], "valid_from": "2024-01-01T00:00:00Z"},
    ]
    data["price_points"] += [
        vn_price("apple", "coins_70", 70, 25000, "2024-01-01T00:00:00Z"),
        vn_price("apple", "coins_700", 700, 249000, "2024-01-01T00:00:00Z"),
        vn_price("apple", "coins_700", 700, 249000, "2026-06-20T00:00:00Z", "2026-06-27T00:00:00Z", bonus=140),
        vn_price("google", "coins_70", 70, 26000, "2024-01-01T00:00:00Z", "2026-06-01T00:00:00Z"),
        vn_price("google", "coins_70", 70, 27000, "2026-06-01T00:00:00Z"),
        {"country": "JP", "store": "web", "product_id": "coins_70", "coins": 70, "price_minor": 160,
         "currency": "JPY", "valid_from": "2024-01-01T00:00:00Z", "valid_to": None},
    ]
    data["accounts"].append(account(9, handle="@minh", country="VN", birth_date="2008-06-30"))
    data["purchases"] += [
        vn_purchase("pur_vn_before", "apple", "2026-06-30T23:59:59Z"),
        vn_purchase("pur_vn_after", "google", "2026-07-02T10:00:00Z"),
        vn_purchase("pur_vn_web", "web", "2026-06-15T10:00:00Z"),
    ]
    run_import(engine, write_dataset(tmp_path / "ds", data))
    return engine


def look(engine, country: str, at: str | None = None) -> dict:
    with read_session(engine) as s:
        return region(s, country, at)


def test_vn_available_the_day_before_the_suspension_not_the_day_after(loaded):
    before, after = look(loaded, "VN", "2026-06-30"), look(loaded, "VN", "2026-07-02")
    assert before["available"] is True and before["allows"]["buy_coins"] is True
    assert before["in_force"]["valid_from"] == datetime(2024, 1, 1, tzinfo=UTC)
    assert after["available"] is False and after["rule"] == "buy_coins_off"
    assert after["in_force"]["note"] == "Coin sales suspended by local regulation"
    assert after["allows"] == {"buy_coins": False, "send_gifts": True, "cash_out": True}
    assert look(loaded, "VN", SUSPENDED)["available"] is False  # exactly at valid_from: the new row


def test_history_lists_every_row_and_what_changed(loaded):
    hist = look(loaded, "VN", "2026-07-02")["history"]
    assert [h["in_force"] for h in hist] == [False, True]
    assert hist[1]["changes"][0] == {"field": "coin_purchase", "from": True, "to": False}


def test_prices_in_force_with_a_promotion_and_zero_decimal_money(loaded):
    promo = look(loaded, "VN", "2026-06-21")["prices"]
    assert [(p["store"], p["product_id"], p["bonus_coins"], p["price"]) for p in promo] == [
        ("apple", "coins_70", 0, "25,000 VND"), ("apple", "coins_700", 0, "249,000 VND"),
        ("apple", "coins_700", 140, "249,000 VND"), ("google", "coins_70", 0, "27,000 VND")]
    bonus = promo[2]
    assert bonus["promotion"] and bonus["valid_to"] == datetime(2026, 6, 27, tzinfo=UTC)
    assert (bonus["price_minor"], bonus["currency"]) == (249000, "VND")
    after = look(loaded, "VN", "2026-06-27")["prices"]  # valid_to is exclusive
    assert not any(p["promotion"] for p in after)
    earlier = look(loaded, "VN", "2026-05-31")["prices"]
    assert [p["price"] for p in earlier if p["store"] == "google"] == ["26,000 VND"]
    jp = look(loaded, "Japan")["prices"]
    assert [(p["price"], p["price_minor"]) for p in jp] == [("160 JPY", 160)]


@pytest.mark.parametrize("text", ["VN", "vn", "VNM", "Vietnam", "viet nam"])
def test_country_by_name_or_code(loaded, text):
    assert look(loaded, text, "2026-06-30")["country"] == "VN"


def test_a_known_country_without_rows_is_unavailable(loaded):
    fr = look(loaded, "France")
    assert (fr["country"], fr["available"], fr["reason"]) == ("FR", False, "no region row: unavailable")
    assert fr["in_force"] is None and fr["prices"] == [] and fr["history"] == []


@pytest.mark.parametrize(("country", "at", "error", "message"), [
    ("XX", None, InvalidInput, "'XX' is not an ISO 3166-1 country code"),
    ("Atlantis", None, NotFound, "no country called 'Atlantis'"),
    ("VN", "yesterday-ish", InvalidInput, "is not a time"),
    ("VN", "2026-13-01", InvalidInput, "is not a time"),
])
def test_bad_input_gets_a_clear_error(loaded, country, at, error, message):
    with pytest.raises(error, match=message):
        look(loaded, country, at)


def test_each_purchase_in_the_story_says_whether_it_was_allowed_then(loaded):
    with read_session(loaded) as s:
        story = lookup.story(s, "@minh")
    verdicts = {p["purchase_id"]: p["region_at_purchase"] for p in story["purchases"]}
    assert verdicts["pur_vn_before"]["allowed"] is True
    assert verdicts["pur_vn_before"]["age_ok"] is True  # 18 on 2026-06-30
    assert (verdicts["pur_vn_after"]["allowed"], verdicts["pur_vn_after"]["rule"]) == (False, "buy_coins_off")
    assert verdicts["pur_vn_web"]["rule"] == "store_not_offered"
    assert verdicts["pur_vn_web"]["age_ok"] is False  # still 17 on 2026-06-15


def test_availability_of_one_purchase_row(loaded):
    with read_session(loaded) as s:
        purchase = s.get(Purchase, "pur_vn_after")
        verdict = availability_at_purchase(s, purchase)
        us = availability_at_purchase(s, s.get(Purchase, "pur_0001"))
    assert verdict["allowed"] is False and verdict["region_from"] == datetime(2026, 7, 1, tzinfo=UTC)
    assert us["allowed"] is True and us["rule"] == "allowed" and us["age_ok"] is None
