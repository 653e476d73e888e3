"""Import believes nothing it can check: references, amounts, changed content, text, handles in any case."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from supportdesk.dataset.generate import generate
from supportdesk.db import models as m
from supportdesk.db.engine import read_session
from supportdesk.db.tables import table_of
from supportdesk.errors import ImportFailed
from supportdesk.services import audit, import_audit, importer
from supportdesk.services.import_checks import missing
from supportdesk.services.importer import run_import
from tests.conftest import FIXTURES
from tests.service.factories import T0, account, minimal, write_dataset
from tests.service.test_import import counts

PURCHASE = minimal()["purchases"][0]
CREDIT = minimal()["ledger"][0]


def purchase(i: int, **over):
    return {**PURCHASE, "purchase_id": f"pur_{i:04d}", "store_transaction_id": f"ch_{i}", **over}


def entry(i: int, **over):
    return {**CREDIT, "entry_id": f"le_{i:04d}", **over}


def refused(engine, tmp_path, data, expected: str) -> list[str]:
    before = counts(engine)
    with pytest.raises(ImportFailed) as info:
        run_import(engine, write_dataset(tmp_path / "bad", data))
    assert counts(engine) == before, "nothing is written"
    assert any(expected in line for line in info.value.details), info.value.details
    return info.value.details


def with_rows(**files) -> dict:
    data = minimal()
    for name, rows in files.items():
        data[name] = data[name] + rows
    return data


# 1. References and meaning of ledger entries ---------------------------------------------------------------------

LEDGER_CASES = {
    "credit of a purchase nowhere": (
        [entry(2, ref="pur_9999")], "ledger.jsonl:2: ref: unknown purchase 'pur_9999'"),
    "purchase credit without ref": ([entry(2, ref=None)], "ledger.jsonl:2: ref: a purchase credit must name"),
    "credit on another account": (
        [entry(2, account_id="acc_0001")], "ledger.jsonl:2: ref: purchase 'pur_0001' belongs to acc_0000, not acc_0001"),
    "credit of other coins": ([entry(2, amount=100_350)], "ledger.jsonl:2: amount: purchase 'pur_0001' credits 70"),
    "purchase of diamonds": ([entry(2, asset="diamond")], "ledger.jsonl:2: (line): a purchase moves coins"),
    "cashout of coins": ([entry(2, kind="cashout", asset="coin", amount=-5, ref=None)], "a cashout moves diamonds"),
    "gift received in coins": ([entry(2, kind="gift_received", amount=5, ref=None)], "a gift_received moves diamonds"),
    "reversal of nothing": ([entry(2, kind="reversal", amount=-70, ref="le_9999")],
                            "ledger.jsonl:2: ref: unknown ledger entry 'le_9999'"),
    "reversal of more": ([entry(2, kind="reversal", amount=-71, ref="le_0001")],
                         "ledger.jsonl:2: amount: reverses more than entry 'le_0001'"),
    "reversals adding up to more": (
        [entry(2, kind="reversal", amount=-50, ref="le_0001"), entry(3, kind="reversal", amount=-50, ref="le_0001")],
        "ledger.jsonl:3: amount: reverses more than entry 'le_0001' moved (+70, -50 reversed already)"),
    "reversal with the same sign": ([entry(2, kind="reversal", amount=70, ref="le_0001")], "must have the opposite sign"),
    "reversal on another account": ([entry(2, kind="reversal", amount=-70, ref="le_0001", account_id="acc_0001")],
                                    "entry 'le_0001' moved coins of acc_0000, not coins of acc_0001"),
    "reversal of another asset": ([entry(2, kind="reversal", asset="diamond", amount=-70, ref="le_0001")],
                                  "not diamonds of acc_0000"),
    "clawback of more than bought": ([entry(2, kind="refund_clawback", amount=-71)],
                                     "a clawback of 71 coins is more than purchase 'pur_0001' credited"),
}


@pytest.mark.parametrize("case", list(LEDGER_CASES))
def test_ledger_entries_must_mean_what_they_say(engine, tmp_path, case):
    rows, expected = LEDGER_CASES[case]
    refused(engine, tmp_path, with_rows(ledger=rows), expected)


def test_credit_of_a_purchase_already_in_the_database_and_its_reversal(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "one", minimal()))
    later = minimal()
    later["purchases"] = [purchase(2)]
    later["ledger"] = [entry(2, ref="pur_0002"), entry(3, ref="pur_0001", kind="refund_clawback", amount=-70),
                       entry(4, kind="reversal", amount=-70, ref="le_0002"),
                       entry(5, kind="reversal", amount=-70, ref="pur_0002", reverses="le_0001")]
    result = run_import(engine, write_dataset(tmp_path / "two", later))
    assert result.imported["ledger.jsonl"] == 4
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT entry_id, reverses FROM ledger_entries WHERE kind = 'reversal'")).all()
    assert sorted(rows) == [("le_0004", "le_0002"), ("le_0005", "le_0001")]


def test_promotion_bonus_is_credited_only_inside_the_promotion(engine, tmp_path):
    data = minimal()
    promo = {**data["price_points"][0], "valid_from": "2026-09-30T00:00:00Z", "valid_to": "2026-10-07T00:00:00Z",
             "bonus_coins": 14}
    data["price_points"].append(promo)
    data["ledger"] = [entry(1, amount=84)]  # T0 is inside the promotion: 70 + 14
    data["accounts"][0]["coin_balance"] = 84
    assert run_import(engine, write_dataset(tmp_path / "ok", data)).imported["ledger.jsonl"] == 1
    late = {**purchase(2), "purchased_at": "2026-10-08T00:00:00Z"}
    refused(engine, tmp_path, with_rows(purchases=[late], ledger=[entry(2, ref="pur_0002", amount=84)]),
            "ledger.jsonl:2: amount: purchase 'pur_0002' credits 70 coins, not 84")


# 2. The same id with other content ----------------------------------------------------------------------------

def test_each_batch_is_checked_against_the_batches_written_before_it(engine, tmp_path, monkeypatch):
    """Batches of two lines: a reversal finds the entry and the reversals an earlier batch wrote, a duplicate the
    line of an earlier batch; a blank and a broken line inside a group of lines are taken line by line."""
    monkeypatch.setattr(importer, "CHUNK", 2)
    lines = [entry(1), entry(2, kind="reversal", amount=-30, ref="le_0001"), None,
             entry(4, kind="reversal", amount=-30, ref="le_0001"), entry(5, kind="reversal", amount=-30, ref="le_0001"),
             "{bad", entry(1)]
    data = minimal()
    data.pop("ledger")
    raw = "".join((json.dumps(x) if isinstance(x, dict) else x or "") + "\n" for x in lines)
    before = counts(engine)
    with pytest.raises(ImportFailed) as info:
        run_import(engine, write_dataset(tmp_path / "ds", data, raw={"ledger": raw}))
    assert counts(engine) == before
    expected = ["app/ledger.jsonl:5: amount: reverses more than entry 'le_0001' moved (+70, -60 reversed already)",
                "app/ledger.jsonl:6: (line): not valid JSON",
                "app/ledger.jsonl:7: entry_id: duplicate 'le_0001' (line 1 has the same content)"]
    assert len(info.value.details) == len(expected)
    assert all(d.startswith(e) for d, e in zip(info.value.details, expected, strict=True)), info.value.details


def test_a_store_transaction_of_the_batch_before_is_a_duplicate(engine, tmp_path, monkeypatch):
    """Batches of two: the third purchase repeats the first one's store transaction. On PostgreSQL the first batch
    is still being written (or not yet) when the second is looked up, so only what the check remembers finds it."""
    monkeypatch.setattr(importer, "CHUNK", 2)
    data = with_rows(purchases=[purchase(2), purchase(3, store_transaction_id=PURCHASE["store_transaction_id"])])
    refused(engine, tmp_path, data,
            f"purchases.jsonl:3: store_transaction_id: {PURCHASE['store_transaction_id']!r} is already recorded for web")


def test_credits_checked_in_the_server_name_each_wrong_line(engine, tmp_path, monkeypatch):
    """A batch of credits where one purchase is credited right on one line and wrongly on another (its account,
    then its coins), beside a clawback of it: each wrong line is named, and the right ones pass."""
    monkeypatch.setattr(importer, "CHUNK", 4)
    data = minimal()
    data["ledger"] = [entry(1), entry(2, account_id="acc_0001"), entry(3, amount=7),
                      entry(4, kind="refund_clawback", amount=-70)]
    details = refused(engine, tmp_path, data, "ledger.jsonl:2: ref: purchase 'pur_0001' belongs to acc_0000")
    assert [d.split(":")[1] for d in details] == ["2", "3"], details
    assert "ledger.jsonl:3: amount: purchase 'pur_0001' credits 70 coins, not 7" in details[1]


def test_an_import_in_many_batches_is_what_audit_verify_finds(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 2)
    data = with_rows(ledger=[entry(2, kind="reversal", amount=-30, ref="le_0001"), entry(3, kind="grant", amount=5,
                                                                                            ref=None, reason="tab\there")])
    assert run_import(engine, write_dataset(tmp_path / "ds", data)).imported["ledger.jsonl"] == 3
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT entry_id, reverses, reason FROM ledger_entries ORDER BY seq")).all()
    assert rows == [("le_0001", None, None), ("le_0002", "le_0001", None), ("le_0003", None, "tab\there")]
    with read_session(engine) as s:
        assert audit.verify(s).verified
        assert import_audit.imported_mismatch(s) is None


def test_progress_moves_every_group_of_lines_as_they_are_checked(engine, tmp_path, monkeypatch):
    """Progress comes once per GROUP lines, after those lines were validated (not when the batch is read), with
    the bytes up to that line."""
    monkeypatch.setattr(importer, "CHUNK", 4)
    monkeypatch.setattr(importer, "GROUP", 2)
    data = with_rows(ledger=[entry(i, kind="grant", amount=i, ref=None, reason="r") for i in range(2, 8)])
    root = write_dataset(tmp_path / "ds", data)
    lines = (root / "app" / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    checked: list[int] = []
    parse = importer._FileImport._parse_group

    def counting(self, first, group):
        parse(self, first, group)
        if self.label == "app/ledger.jsonl":
            checked.append(first + len(group) - 1)

    monkeypatch.setattr(importer._FileImport, "_parse_group", counting)
    seen = []

    def progress(label, done, total):
        if label == "app/ledger.jsonl":
            seen.append((done, total, checked[-1] if checked else 0))

    run_import(engine, root, progress)
    total = sum(map(len, lines))
    assert seen == [(sum(map(len, lines[:n])), total, n) for n in (2, 4, 6)] + [(total, total, 7)]


def test_same_id_other_content_within_a_file_names_both_lines_and_the_fields(engine, tmp_path):
    details = refused(engine, tmp_path, with_rows(ledger=[entry(1, amount=35, at="2026-10-02T00:00:00Z")]),
                      "ledger.jsonl:2: entry_id: duplicate 'le_0001' (line 1 has other content:")
    assert "amount 70 -> 35" in details[0] and "at 2026-10-01T12:00:00Z -> 2026-10-02T00:00:00Z" in details[0]


def test_reimport_with_changed_content_is_an_error_naming_the_fields(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "one", minimal()))
    changed = minimal()
    changed["purchases"][0] = {**PURCHASE, "coins": 700, "price_minor": 999}
    changed["ledger"][0] = {**CREDIT, "amount": 700}
    details = refused(engine, tmp_path, changed, "purchases.jsonl:1: purchase_id: 'pur_0001' is already in the "
                                                 "database with other content: coins 70 -> 700; price_minor 99 -> 999")
    assert any("ledger.jsonl:1: entry_id: 'le_0001' is already in the database" in d for d in details)


def test_identical_reimport_is_a_no_op_whatever_the_timestamp_spelling(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "one", minimal()))
    again = minimal()
    again["ledger"][0]["at"] = "2026-10-01T14:00:00.000+02:00"  # the same instant
    again["regions"][0]["valid_from"] = "2024-01-01T01:00:00+01:00"
    again["accounts"][0]["coin_balance"] = 0  # the cached balance is the app's to change after import
    result = run_import(engine, write_dataset(tmp_path / "two", again))
    assert sum(result.imported.values()) == 0
    assert result.already_present["ledger.jsonl"] == result.already_present["regions.jsonl"] == 1


@pytest.mark.parametrize("extra", [', "amount": 7000}', ',"amount"\t: 7000}', ', "amount" :7000, "x": {"a": 1}}',
                                   ', "note": "an unknown key", "amount": 7000}'])
def test_duplicate_json_keys_are_an_error(engine, tmp_path, extra):
    line = json.dumps(CREDIT)[:-1] + extra + "\n"
    data = minimal()
    data.pop("ledger")
    before = counts(engine)
    with pytest.raises(ImportFailed) as info:
        run_import(engine, write_dataset(tmp_path / "ds", data, raw={"ledger": line}))
    assert "app/ledger.jsonl:1: amount: appears more than once in the object" in info.value.details
    assert counts(engine) == before


def test_nested_objects_and_quoted_colons_are_not_duplicates(engine, tmp_path):
    data = minimal()
    data["ledger"][0] = {**CREDIT, "reason": 'he said "x": twice', "meta": {"a": 1, "b": {"a": 2}}}
    assert run_import(engine, write_dataset(tmp_path / "ds", data)).imported["ledger.jsonl"] == 1


# 3. Text hygiene ------------------------------------------------------------------------------------------------

TEXT_CASES = {
    "NUL in a ticket body": ("tickets", {"body": "hi\x00there"}, "tickets.jsonl:1: body: contains a NUL character"),
    "NUL in an email": ("accounts", {"email": "a\x00@example.com"}, "accounts.jsonl:1: email: contains a NUL character"),
    "escape in a handle": ("accounts", {"handle": "@ana\x1b[2J"}, "accounts.jsonl:1: handle: contains a control "
                                                                   "character (U+001B"),
    "bidi override in a handle": ("accounts", {"handle": "@ana\u202egnp"}, "handle: contains a bidi override (U+202E"),
    "C1 control in a store id": ("purchases", {"store_transaction_id": "ch_\x9b1"},
                                 "purchases.jsonl:1: store_transaction_id: contains a control character (U+009B"),
    "isolate in an actor": ("ledger", {"actor": "ana\u2066"}, "ledger.jsonl:1: actor: contains a bidi override"),
    "huge body": ("tickets", {"body": "x" * 20_001}, "tickets.jsonl:1: body: String should have at most 20000"),
    "huge reason": ("ledger", {"reason": "x" * 2001}, "ledger.jsonl:1: reason: String should have at most 2000"),
    "long subject": ("tickets", {"subject": "x" * 501}, "tickets.jsonl:1: subject: String should have at most 500"),
    "gold": ("purchases", {"currency": "XAU"}, "purchases.jsonl:1: currency: 'XAU' is not money"),
    "no currency": ("purchases", {"currency": "XXX"}, "purchases.jsonl:1: currency: 'XXX' is not money"),
    "test currency": ("purchases", {"currency": "XTS"}, "'XTS' is not money"),
    "year 1": ("ledger", {"at": "0001-01-01T00:00:00+01:00"}, "ledger.jsonl:1: at: '0001-01-01T00:00:00+01:00' is outside the years 2000..2100"),
    "year 9999": ("purchases", {"purchased_at": "9999-12-31T23:59:59Z"}, "purchased_at: '9999-12-31T23:59:59Z' is outside the years"),
    "birth in year 1": ("accounts", {"birth_date": "0001-01-01"}, "accounts.jsonl:1: birth_date: year 1 is outside"),
}


@pytest.mark.parametrize("case", list(TEXT_CASES))
def test_text_that_is_not_data_is_refused_on_both_engines(engine, tmp_path, case):
    name, over, expected = TEXT_CASES[case]
    data = minimal()
    data[name][0] = {**data[name][0], **over}
    details = refused(engine, tmp_path, data, expected)
    assert all(len(d) < 400 for d in details), "an offending value is cut short, never echoed whole"


def test_west_african_francs_are_money(engine, tmp_path):
    data = minimal()
    data["purchases"][0]["currency"] = "XOF"
    assert run_import(engine, write_dataset(tmp_path / "ds", data)).imported["purchases.jsonl"] == 1


# 4. Handles unique whatever their case -------------------------------------------------------------------------

def test_handles_differing_in_case_within_a_file(engine, tmp_path):
    refused(engine, tmp_path, with_rows(accounts=[account(7, handle="@USER1")]),
            "accounts.jsonl:4: handle: '@USER1' is already taken on line 2")


def test_handles_differing_in_case_against_the_database(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "one", minimal()))
    later = minimal()
    later["accounts"] = [account(7, handle="@User2")]
    refused(engine, tmp_path, later, "accounts.jsonl:1: handle: '@User2' is already taken by '@user2' (acc_0002) "
                                     "in the database")


def test_the_database_refuses_a_handle_differing_in_case(engine, tmp_path):
    run_import(engine, write_dataset(tmp_path / "one", minimal()))
    with pytest.raises(Exception, match="(?i)unique"), engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (account_id, handle, email, country, kind, status, created_at, "
                          "coin_balance, diamond_balance) VALUES ('acc_x', '@USER0', 'x@example.com', 'US', "
                          "'viewer', 'active', :t, 0, 0)"), {"t": T0})


# Generated datasets still import cleanly, twice -------------------------------------------------------------------

@pytest.mark.parametrize("source", ["generated", "fixture"])
def test_generated_and_fixture_datasets_import_without_errors_twice(engine, tmp_path, source):
    root = FIXTURES / "small" if source == "fixture" else tmp_path / "gen"
    if source == "generated":
        generate(root, seed=5, accounts=300, now=None)
    first = run_import(engine, root)
    assert first.imported["ledger.jsonl"] > 0
    second = run_import(engine, root)
    assert sum(second.imported.values()) == 0
    assert second.already_present == {k: v for k, v in first.imported.items() if v}


def test_upgrade_to_unique_handles_names_the_accounts_to_rename(engine):
    from alembic import command

    from supportdesk.db.schema import alembic_config, upgrade
    from supportdesk.errors import Conflict

    command.downgrade(alembic_config(engine), "0002")
    with engine.begin() as conn:
        for i, handle in enumerate(("@Ana", "@ana")):
            conn.execute(text("INSERT INTO accounts (account_id, handle, email, country, kind, status, created_at, "
                              "coin_balance, diamond_balance) VALUES (:a, :h, 'x@example.com', 'US', 'viewer', "
                              "'active', :t, 0, 0)"), {"a": f"acc_{i}", "h": handle, "t": T0})
    with pytest.raises(Conflict, match="@ana \\(2 accounts\\)"):
        upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET handle = '@ana2' WHERE account_id = 'acc_1'"))
    upgrade(engine, "0003")


def test_lookups_take_any_text_as_a_value(engine, tmp_path):
    """The lookups pass their values as one array literal: quotes, backslashes, braces or NULL are values."""
    run_import(engine, write_dataset(tmp_path / "ds", minimal()))
    odd = {'a"b', "c\\d", "NULL", "{x}", "a,b", " sp ", "é", '\\"'}
    with engine.connect() as conn:
        assert missing(conn, table_of(m.Account).c.account_id, odd | {"acc_0000", "acc_0001"}) == odd
