"""`supportdesk purchase`: the documented --json keys, a human view in major units, a clear error for no purchase."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from supportdesk.cli.main import app
from tests.service.test_purchase_detail import refunded  # noqa: F401 - the fixture

runner = CliRunner()
KEYS = {"purchase", "store_record", "refund", "notifications", "consumption", "ledger", "flags", "audit", "region",
        "decision", "timeline"}


def purchase(db_url: str, *args: str):
    return runner.invoke(app, ["--db", db_url, "purchase", *args], env={"COLUMNS": "80"})


def test_json_keys_and_timeline(refunded, db_url):  # noqa: F811
    result = purchase(db_url, "ch_abc123", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == KEYS
    assert body["purchase"]["purchase_id"] == "pur_0001" and body["purchase"]["price_minor"] == 99
    assert body["timeline"][0] == {"at": "2026-10-01T12:00:00.000000Z", "source": "ours",
                                   "event": "purchase 70 coins, refunded", "ref": "pur_0001",
                                   "amount_minor": 99, "currency": "USD"}
    assert [e["at"] for e in body["timeline"]] == sorted(e["at"] for e in body["timeline"])


def test_human_view_in_major_units(refunded, db_url):  # noqa: F811
    result = purchase(db_url, "pur_0001")
    assert result.exit_code == 0, result.output
    text = result.stderr
    assert "pur_0001" in text and "0.99 USD" in text and "timeline" in text
    assert "web refunded (requested_by_customer)" in text and "refund_abuse open" in text
    assert all(len(line) <= 80 for line in text.splitlines() if "timeline" not in line)


def test_no_such_purchase_is_one_error(refunded, db_url):  # noqa: F811
    result = purchase(db_url, "pur_nope", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "not_found"
