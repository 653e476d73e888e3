"""Lookup by every key an agent may paste, and clear errors for the rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import StoreRecord
from supportdesk.errors import InvalidInput, NotFound
from supportdesk.services import lookup
from supportdesk.services.importer import run_import
from tests.service.factories import account, minimal, write_dataset


@pytest.fixture
def loaded(engine, tmp_path):
    data = minimal()
    data["accounts"].append(account(7, handle="@ana_b", email="ana@example.com", apple_app_account_token="tok-1"))
    run_import(engine, write_dataset(tmp_path / "ds", data))
    with write_session(engine) as s:  # an Apple record whose order id is only known to the store
        s.add(StoreRecord(store="apple", store_transaction_id="2000000123456", order_id="MK7Q2L9",
                          account_id="acc_0007", account_ref="tok-1", product_id="coins_70", purchased_at=datetime.now(UTC),
                          state="purchased", raw={}, fetched_at=datetime.now(UTC)))
    return engine


@pytest.mark.parametrize(
    ("query", "account_id"),
    [
        ("@ana_b", "acc_0007"), ("ana@example.com", "acc_0007"), ("acc_0007", "acc_0007"),
        ("pur_0001", "acc_0000"), ("ch_abc123", "acc_0000"), ("2000000123456", "acc_0007"),
        ("MK7Q2L9", "acc_0007"), ("T-1001", "acc_0000"), ("  @user2 ", "acc_0002"),
    ],
)
def test_story_by_every_key(loaded, query, account_id):
    with read_session(loaded) as s:
        story = lookup.story(s, query)
    assert story["account"]["account_id"] == account_id
    assert set(story) >= {"account", "balances", "purchases", "ledger", "gifts", "cashouts", "tickets"}


def test_story_of_a_purchaser(loaded):
    with read_session(loaded) as s:
        story = lookup.story(s, "@user0")
    assert [p["purchase_id"] for p in story["purchases"]] == ["pur_0001"]
    assert [e["entry_id"] for e in story["ledger"]] == ["le_0001"]
    assert [t["ticket_id"] for t in story["tickets"]] == ["T-1001"]
    assert story["balances"]["coin"] == {"ledger": 70, "cached": 70, "drift": 0}


def test_search_by_handle_prefix(loaded):
    with read_session(loaded) as s:
        found = lookup.search(s, "@user")["accounts"]
        without_at = lookup.search(s, "ana")["accounts"]
    assert [a["handle"] for a in found] == ["@user0", "@user1", "@user2"]
    assert [a["account_id"] for a in without_at] == ["acc_0007"]


def test_search_treats_like_wildcards_literally(loaded):
    with read_session(loaded) as s:
        assert lookup.search(s, "@ana%")["accounts"] == []


@pytest.mark.parametrize("query", ["", "   ", "two words", "x" * 321, "acc\x00", "@a b"])
def test_malformed_queries(loaded, query):
    with read_session(loaded) as s, pytest.raises(InvalidInput):
        lookup.story(s, query)


@pytest.mark.parametrize("query", ["@nobody", "acc_zzzz", "ch_doesnotexist", "nobody@example.com", "acc_!!", "pur_",
                                   "GPA.12-3", "T-abc"])
def test_unknown_queries(loaded, query):
    with read_session(loaded) as s, pytest.raises(NotFound, match="no account matches"):
        lookup.story(s, query)
