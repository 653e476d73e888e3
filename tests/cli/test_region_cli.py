"""`supportdesk region`: the formats.md keys under --json, a human view that fits 80 columns, clear errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from supportdesk.cli.main import app
from tests.service.factories import minimal, write_dataset

runner = CliRunner()


@pytest.fixture
def imported(db_url, tmp_path):
    data = minimal()
    data["regions"] += [
        {"country": "VN", "currency": "VND", "coin_purchase": True, "gifting": True, "cashout": True, "min_age": 18,
         "stores": ["apple", "google"], "valid_from": "2024-01-01T00:00:00Z"},
        {"country": "VN", "currency": "VND", "coin_purchase": False, "gifting": True, "cashout": True, "min_age": 18,
         "stores": ["apple", "google"], "valid_from": "2026-07-01T00:00:00Z",
         "note": "Coin sales suspended by local regulation"},
    ]
    data["price_points"] += [
        {"country": "VN", "store": "apple", "product_id": "coins_17500", "coins": 17500, "price_minor": 6249000,
         "currency": "VND", "valid_from": "2024-01-01T00:00:00Z", "valid_to": None},
        {"country": "VN", "store": "web", "product_id": "coins_700", "coins": 700, "price_minor": 249000,
         "currency": "VND", "valid_from": "2026-06-20T00:00:00Z", "valid_to": "2026-06-27T00:00:00Z",
         "bonus_coins": 140},
    ]
    result = runner.invoke(app, ["--db", db_url, "import", str(write_dataset(tmp_path / "ds", data)), "--json"])
    assert result.exit_code == 0, result.output
    return db_url


def region(db_url: str, *args: str):
    return runner.invoke(app, ["--db", db_url, "region", *args], env={"COLUMNS": "80"})


def test_json_has_the_contract_keys_and_the_suspension(imported):
    before = json.loads(region(imported, "VN", "--at", "2026-06-21", "--json").stdout)
    after = json.loads(region(imported, "viet nam", "--at", "2026-07-02T00:00:00Z", "--json").stdout)
    assert set(before) >= {"country", "in_force", "available", "prices", "history"}
    assert (before["country"], before["available"], after["available"]) == ("VN", True, False)
    assert after["in_force"]["valid_from"] == "2026-07-01T00:00:00Z"
    promo = next(p for p in before["prices"] if p["promotion"])
    assert promo == {"store": "web", "product_id": "coins_700", "coins": 700, "bonus_coins": 140,
                     "price_minor": 249000, "currency": "VND", "price": "249,000 VND",
                     "valid_from": "2026-06-20T00:00:00Z", "valid_to": "2026-06-27T00:00:00Z", "promotion": True,
                     "store_offered": False}
    assert [h["in_force"] for h in after["history"]] == [False, True]


def test_human_view_fits_80_columns(imported):
    result = region(imported, "VNM", "--at", "2026-06-21")
    assert result.exit_code == 0
    text = result.stderr
    assert "Vietnam (VN, VNM)" in text and "available" in text and "6,249,000 VND" in text and "+140" in text
    assert "2026-07-01" in text and "buy coins yes -> no" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert result.stdout == ""  # human text goes to stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["XX"], "invalid_input", "'XX' is not an ISO 3166-1 country code"),
    (["Atlantis"], "not_found", "no country called 'Atlantis'"),
    (["VN", "--at", "last tuesday"], "invalid_input", "'last tuesday' is not a time"),
])
def test_bad_input_exits_1_with_error_json(imported, args, code, message):
    result = region(imported, *args, "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == code and message in error["message"]


def test_known_country_without_rows(imported):
    body = json.loads(region(imported, "France", "--json").stdout)
    assert (body["country"], body["available"], body["reason"]) == ("FR", False, "no region row: unavailable")
