"""Import: every broken file is named by file, line and field, and nothing is written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from supportdesk.errors import ImportFailed, InvalidInput
from supportdesk.services.importer import run_import
from tests.service.factories import account, minimal, write_dataset

TABLES = ("regions", "price_points", "gifts", "accounts", "purchases", "ledger_entries", "tickets", "audit_log")


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}


def test_import_twice_changes_nothing(engine, tmp_path):
    ds = write_dataset(tmp_path / "ds", minimal())
    first = run_import(engine, ds)
    before = counts(engine)
    second = run_import(engine, ds)
    assert counts(engine) == before
    assert sum(second.imported.values()) == 0
    assert second.already_present["accounts.jsonl"] == first.imported["accounts.jsonl"] == 3
    assert second.already_present["regions.jsonl"] == 1


def _line(row: dict) -> str:
    return json.dumps(row) + "\n"


BASE = "".join(_line(a) for a in minimal()["accounts"])  # lines 1-3: the good accounts
CASES = {
    "bad json": ("accounts", BASE + '{"account_id": "acc_0001", \n', "accounts.jsonl:4: (line): not valid JSON"),
    "missing field": ("accounts", BASE + _line({k: v for k, v in account(5).items() if k != "email"}),
                      "accounts.jsonl:4: email: is required but missing"),
    "wrong type": ("accounts", BASE + _line(account(5, coin_balance="70")), "accounts.jsonl:4: coin_balance: Input should be a valid integer"),
    "float money": ("accounts", BASE + _line(account(5, coin_balance=7.5)), "accounts.jsonl:4: coin_balance: Input should be a valid integer"),
    "unknown country": ("accounts", BASE + _line(account(5, country="XX")), "accounts.jsonl:4: country: 'XX' is not an ISO 3166-1"),
    "naive time": ("accounts", BASE + _line(account(5, created_at="2026-01-01T00:00:00")), "accounts.jsonl:4: created_at: Input should have timezone"),
    "duplicate id": ("accounts", BASE + _line(account(5)) + _line(account(5, handle="@other")),
                     "accounts.jsonl:5: account_id: duplicate 'acc_0005'"),
    "duplicate handle": ("accounts", BASE + _line(account(5)) + _line(account(6, handle="@user5")),
                         "accounts.jsonl:5: handle: '@user5' is already taken"),
    "duplicate handle in db": ("accounts", BASE + _line(account(6, handle="@user1")),
                               "accounts.jsonl:4: handle: '@user1' is already taken"),
    "bad currency": ("purchases", _line({**minimal()["purchases"][0], "currency": "XYZ"}),
                     "purchases.jsonl:1: currency: unknown currency 'XYZ'"),
    "negative coins": ("purchases", _line({**minimal()["purchases"][0], "coins": -70}),
                       "purchases.jsonl:1: coins: Input should be greater than or equal to 0"),
    "huge price": ("purchases", _line({**minimal()["purchases"][0], "price_minor": 10**15}),
                   "purchases.jsonl:1: price_minor: Input should be less than or equal to"),
    "unknown account": ("ledger", _line({**minimal()["ledger"][0], "account_id": "acc_9999"}),
                        "ledger.jsonl:1: account_id: unknown account 'acc_9999'"),
    "bad ledger sign": ("ledger", _line({**minimal()["ledger"][0], "amount": -70}),
                        "ledger.jsonl:1: (line): a purchase must be positive"),
    "bad kind": ("ledger", _line({**minimal()["ledger"][0], "kind": "magic"}), "ledger.jsonl:1: kind: Input should be"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_file_names_file_line_field_and_writes_nothing(engine, tmp_path, case):
    name, content, expected = CASES[case]
    data = minimal()
    data.pop(name)
    ds = write_dataset(tmp_path / "ds", data, raw={name: content})
    before = counts(engine)
    with pytest.raises(ImportFailed) as info:
        run_import(engine, ds)
    assert "nothing was imported" in info.value.message
    if expected:
        assert any(expected in line for line in info.value.details), info.value.details
    assert counts(engine) == before


def test_errors_are_capped_with_a_count(engine, tmp_path):
    rows = "".join(_line(account(i, country="XX")) for i in range(120))
    data = minimal()
    data.pop("accounts")
    with pytest.raises(ImportFailed) as info:
        run_import(engine, write_dataset(tmp_path / "ds", data, raw={"accounts": rows}))
    assert info.value.details[-1].startswith("... and ")
    assert len(info.value.details) == 51


def test_missing_directory_or_file(engine, tmp_path):
    with pytest.raises(InvalidInput, match="no app/ folder"):
        run_import(engine, tmp_path)
    data = minimal()
    data.pop("ledger")
    with pytest.raises(InvalidInput, match="missing ledger.jsonl"):
        run_import(engine, write_dataset(tmp_path / "ds", data))
    assert counts(engine)["accounts"] == 0
