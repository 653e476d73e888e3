"""Lookup searches every key a query could be (a prefix only orders them), handles in any case, on their index;
two accounts under one key are an error for actions and both listed by search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, StoreRecord
from supportdesk.errors import Ambiguous
from supportdesk.services import lookup
from supportdesk.services.importer import run_import
from tests.service.factories import account, minimal, write_dataset

NOW = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def loaded(engine, tmp_path):
    data = minimal()
    data["accounts"] += [
        account(10, handle="@emma_plays", email="acc_fan@example.com"),
        account(11, handle="@pur_chase", email="ch_bob@example.com"),
        account(12, handle="@T-1001", email="gpa.fan@example.com"),
    ]
    run_import(engine, write_dataset(tmp_path / "ds", data))
    with write_session(engine) as s:
        s.add(StoreRecord(store="apple", store_transaction_id="2000000999", order_id="T-shirt-42", account_id="acc_0011",
                          product_id="coins_70", purchased_at=NOW, state="purchased", raw={}, fetched_at=NOW))
    return engine


def add_twin(engine) -> None:
    """Handles that differ only in case: possible in databases imported before import refused them (and before
    migration 0003 made the index unique, which this puts back as it was)."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_accounts_handle_lower"))
        conn.execute(text("CREATE INDEX ix_accounts_handle_lower ON accounts (lower(handle))"))
    with write_session(engine) as s:
        s.add(Account(account_id="acc_twin", handle="@EMMA_PLAYS", email="other@example.com", country="US",
                      kind="viewer", status="active", created_at=NOW, coin_balance=0, diamond_balance=0))


@pytest.mark.parametrize(("query", "account_id"), [
    ("acc_fan@example.com", "acc_0010"), ("ch_bob@example.com", "acc_0011"), ("GPA.fan@example.com", "acc_0012"),
    ("@pur_chase", "acc_0011"), ("pur_chase", "acc_0011"), ("T-shirt-42", "acc_0011"), ("@T-1001", "acc_0012"),
    ("T-1001", "acc_0000"), ("t-1001", "acc_0000"), ("ACC_FAN@EXAMPLE.COM", "acc_0010"),
])
def test_queries_shaped_like_another_key_are_found(loaded, query, account_id):
    with read_session(loaded) as s:
        assert lookup.resolve_account(s, query).account_id == account_id
        assert account_id in [a["account_id"] for a in lookup.search(s, query)["accounts"]]


@pytest.mark.parametrize("query", ["@Emma", "EMMA", "@EMMA_PLAYS", "emma_P", "@emma_plays"])
def test_handles_are_found_in_any_case(loaded, query):
    with read_session(loaded) as s:
        assert [a["handle"] for a in lookup.search(s, query)["accounts"]] == ["@emma_plays"]
        if query.lower().lstrip("@") == "emma_plays":
            assert lookup.resolve_account(s, query).account_id == "acc_0010"


def test_handle_prefix_is_literal_in_any_case(loaded):
    with read_session(loaded) as s:
        assert lookup.search(s, "@EMMA%")["accounts"] == []
        assert lookup.search(s, "@emma_plays_")["accounts"] == []


@pytest.mark.parametrize("query", ["@emma_plays", "@EMMA_PLAYS", "emma_plays"])
def test_handles_differing_only_in_case_are_ambiguous_for_actions(loaded, query):
    add_twin(loaded)
    with read_session(loaded) as s:
        with pytest.raises(Ambiguous) as caught:
            lookup.resolve_account(s, query)
        found = lookup.search(s, query)["accounts"]
    assert "acc_0010" in caught.value.message and "acc_twin" in caught.value.message
    assert sorted(a["account_id"] for a in found) == ["acc_0010", "acc_twin"]


def test_ambiguous_handle_resolves_by_account_id(loaded):
    add_twin(loaded)
    with read_session(loaded) as s:
        assert lookup.resolve_account(s, "acc_twin").handle == "@EMMA_PLAYS"


def plan(engine, sql: str, args) -> str:
    """The plan of the compiled statement as the lookup runs it, with its values bound."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args))
        conn.execute(text("SET enable_seqscan = off"))  # a tiny table: ask whether the index *can* be used
        return " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", args))


@pytest.mark.parametrize("exact", [True, False])
def test_handle_queries_use_the_lower_handle_index(loaded, exact):
    stmt, values = next((s, v) for key, s, v in lookup._candidates(lookup.parse_query("@Emma"), exact, loaded.dialect)
                        if key == "handle")
    shown = plan(loaded, stmt.sql, stmt.args(values))
    assert "ix_accounts_handle_lower" in shown, shown


@pytest.mark.parametrize("sharing", [1, 2, lookup.AMBIGUOUS_SHOWN + 3])
def test_a_shared_email_names_the_first_accounts_by_id(loaded, sharing):
    """The first look takes a few rows in no order; a second account, or more rows than it takes, and the
    ordered statement names the first AMBIGUOUS_SHOWN by account id."""
    with write_session(loaded) as s:
        for i in range(sharing):
            s.add(Account(account_id=f"acc_share{sharing - i:02d}", handle=f"@share{i}",  # ids added in reverse
                          email="Shared0@X.IO" if i == 0 else "shared0@x.io", country="US", kind="viewer",
                          status="active", created_at=NOW, coin_balance=0, diamond_balance=0))
    with read_session(loaded) as s:
        if sharing == 1:
            assert lookup.resolve(s, "SHARED0@x.io")["account_id"] == "acc_share01"
            return
        with pytest.raises(Ambiguous) as caught:
            lookup.resolve(s, "shared0@X.io")
    ids = [f"acc_share{i:02d}" for i in range(1, sharing + 1)][:lookup.AMBIGUOUS_SHOWN]
    assert [name.split(" (")[1].split(",")[0] for name in caught.value.details] == ids
    assert f"matches {len(ids)} accounts by email" in caught.value.message
