"""`supportdesk refund`: the window counted to --ticket, and refusals of override and amounts that write nothing."""

from __future__ import annotations

import json

import pytest

from tests.cli import test_goodwill_cli
from tests.cli.test_goodwill_cli import run, written

imported, agent = test_goodwill_cli.imported, test_goodwill_cli.agent


@pytest.fixture
def sqlite_db(imported):
    if imported.startswith("postgres"):
        pytest.skip("refusals before any write: one engine is enough (the services run on both)")
    return imported


def test_the_window_counts_to_the_tickets_creation_and_the_json_only_gains_fields(sqlite_db):
    today = json.loads(run(sqlite_db, "refund", "pur_0001", "--json").stdout)
    worked = json.loads(run(sqlite_db, "refund", "pur_0001", "--ticket", "T-1001", "--json").stdout)
    assert {"decision", "purchase", "clawback"} <= set(today)
    assert {"outcome", "rule", "explanation", "refund_minor", "currency", "coins_clawback", "claws_back_diamonds",
            "consumption"} <= set(today["decision"])
    assert (today["decision"]["rule"], today["decision"]["overridable"]) == ("web.window", True)
    assert today["decision"]["counted"]["basis"] == "now"
    assert (worked["decision"]["rule"], worked["decision"]["counted"]["basis"]) == ("web.full", "ticket")
    partial = json.loads(run(sqlite_db, "refund", "pur_0001", "--ticket", "T-1001", "--amount", "50", "--json").stdout)
    assert (partial["decision"]["refund_minor"], partial["decision"]["coins_clawback"]) == (50, 70 * 50 // 99)


@pytest.mark.parametrize(("args", "code", "words"), [
    (("--override", "--reason", "outside the window but fair"), "forbidden", "needs the lead role"),
    (("--ticket", "T-1001", "--amount", "100", "--reason", "part"), "invalid_input", "more than the 0.99 USD"),
    (("--ticket", "T-1001", "--amount", "0", "--reason", "part"), "invalid_input", "more than 0"),
    (("--override", "--reason", "   "), "invalid_input", "--override needs --reason"),
])
def test_refusals_write_nothing(sqlite_db, agent, args, code, words):
    before = written(sqlite_db)
    out = run(sqlite_db, "refund", "pur_0001", "--apply", *args, "--yes", "--json", config=agent)
    assert out.exit_code == 1, out.output
    error = json.loads(out.stdout)["error"]
    assert error["code"] == code and words in error["message"]
    assert written(sqlite_db) == before


def test_home_lists_open_tickets_flags_and_stores(sqlite_db):
    out = run(sqlite_db, "home", "--json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert [t["ticket_id"] for t in body["tickets"]["tickets"]] == ["T-1001"]
    assert body["flags"] == [] and body["reconcile"] == {"synced_at": None, "fix": None}
    human = run(sqlite_db, "home")
    assert human.exit_code == 0 and "T-1001" in human.output
