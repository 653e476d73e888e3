"""Refunds end to end: the CLI against the running store emulator, each purchase refunded and clawed back once."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from supportdesk.config import load_settings
from supportdesk.db.engine import make_engine
from supportdesk.stores.sync import make_client
from tests.e2e.conftest import NOW, cli, cli_json

APPLY = ("--apply", "--reason", "e2e refund", "--yes")


@pytest.fixture
def db(emulator, tmp_path) -> Iterator[str]:
    """A fresh database with the dataset imported; the emulator's records, faults and keys reset afterwards."""
    url = f"sqlite:///{tmp_path / 'refund.db'}"
    cli("import", str(emulator.data), db=url)
    yield url
    httpx.post(f"{control_url(emulator)}/reset", timeout=10).raise_for_status()


def control_url(emulator: Any) -> str:
    return tomllib.loads(emulator.config.read_text())["emulator"]["control_url"]


def rows(db: str, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(db)
    with engine.connect() as conn:
        out = list(conn.execute(text(sql), params))
    engine.dispose()
    return out


def clawbacks(db: str, purchase_id: str) -> list[int]:
    return [r[0] for r in rows(db, "SELECT amount FROM ledger_entries WHERE ref = :p AND kind = 'refund_clawback' "
                                   "AND asset = 'coin'", p=purchase_id)]


def refundable(db: str, emulator: Any, store: str, days: int) -> dict[str, Any]:
    """A completed purchase of a clean account, young enough for the store's window, that the rules refund."""
    clean = set(emulator.planted["clean_accounts"])
    since = (NOW - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
    found = rows(db, "SELECT purchase_id, account_id FROM purchases WHERE store = :s AND status = 'completed' "
                     "AND purchased_at >= :since ORDER BY purchased_at DESC", s=store, since=since)
    for purchase_id, account_id in found:
        if account_id in clean:
            view = cli_json("refund", purchase_id, db=db, config=emulator.config)
            if view["decision"]["outcome"] == "refund":
                return view
    raise AssertionError(f"the dataset has no refundable {store} purchase")


def client(emulator: Any, store: str) -> Any:
    return make_client(store, load_settings(emulator.config))


def test_web_refund_moves_the_charge_and_the_ledger_once_even_applied_twice(emulator, db):
    view = refundable(db, emulator, "web", 14)
    p, d = view["purchase"], view["decision"]
    assert d["rule"] in ("web.full", "web.partial_unspent")
    first = cli_json("refund", p["purchase_id"], *APPLY, db=db, config=emulator.config)
    assert first["replayed"] is False and first["applied"]["store_call"] == "create_refund"
    web = client(emulator, "web")
    try:
        charge = web.get_charge(p["store_transaction_id"])
        assert charge["amount_refunded"] == d["refund_minor"] and len(charge["refunds"]["data"]) == 1
        again = cli_json("refund", p["purchase_id"], *APPLY, db=db, config=emulator.config)
        assert again["replayed"] is True and again["applied"]["refund_id"] == first["applied"]["refund_id"]
        assert web.get_charge(p["store_transaction_id"])["amount_refunded"] == d["refund_minor"]
    finally:
        web.close()
    assert clawbacks(db, p["purchase_id"]) == [-d["coins_clawback"]]
    after = cli_json("reconcile", "--account", p["account_id"], db=db, config=emulator.config)
    assert after["findings"] == []  # the processor's refund is the one we recorded


def test_google_refund_is_voided_at_google_and_not_clawed_back_twice_by_reconcile(emulator, db):
    view = refundable(db, emulator, "google", 30)
    p = view["purchase"]
    done = cli_json("refund", p["purchase_id"], *APPLY, db=db, config=emulator.config)
    assert done["applied"]["store_call"] == "orders.refund"
    google = client(emulator, "google")
    try:
        voided = google.list_voided_purchases(NOW - timedelta(days=1), NOW)
    finally:
        google.close()
    assert p["store_transaction_id"] in {v["orderId"] for v in voided}
    fixed = cli_json("reconcile", "--account", p["account_id"], "--fix", *APPLY[1:], db=db, config=emulator.config)
    assert [f for f in fixed["findings"] if f["purchase_id"] == p["purchase_id"]] == []
    assert clawbacks(db, p["purchase_id"]) == [-view["decision"]["coins_clawback"]]
    again = cli_json("refund", p["purchase_id"], *APPLY, db=db, config=emulator.config)
    assert again["replayed"] is True  # the same key: the first answer, nothing moved
    denied = cli("refund", p["purchase_id"], *APPLY, "--idempotency-key", "another", "--json", db=db,
                 config=emulator.config, check=False)
    assert denied.returncode == 1 and '"refund_denied"' in denied.stdout and "already refunded" in denied.stdout


def test_apple_is_store_decides_and_an_apple_refund_is_clawed_back_once(emulator, db):
    clean = set(emulator.planted["clean_accounts"])
    purchase_id = next(pid for pid, acc in rows(db, "SELECT purchase_id, account_id FROM purchases WHERE "
                                                    "store = 'apple' AND status = 'completed'") if acc in clean)
    view = cli_json("refund", purchase_id, db=db, config=emulator.config)
    assert view["decision"]["outcome"] == "store_decides" and "Apple" in view["decision"]["explanation"]
    assert view["decision"]["consumption"]["refund_preference"] in ("GRANT_FULL", "GRANT_PRORATED", "DECLINE")
    applied = cli_json("refund", purchase_id, *APPLY, db=db, config=emulator.config)
    assert applied["applied"]["store_call"] is None  # Apple did not ask: nothing to send, nothing moved
    revoked = next(f for f in emulator.planted["findings"] if f["kind"] == "unapplied_refund" and f["store"] == "apple")
    first = cli_json("reconcile", "--account", revoked["account_id"], "--fix", *APPLY[1:], db=db,
                     config=emulator.config)
    assert [a["kind"] for a in first["applied"] if a["purchase_id"] == revoked["purchase_id"]] == ["unapplied_refund"]
    again = cli_json("reconcile", "--account", revoked["account_id"], "--fix", *APPLY[1:], db=db,
                     config=emulator.config)
    assert again["applied"] == []
    assert len(clawbacks(db, revoked["purchase_id"])) == 1
    status = rows(db, "SELECT status FROM purchases WHERE purchase_id = :p", p=revoked["purchase_id"])[0][0]
    assert status == "revoked"
    decided = cli_json("refund", revoked["purchase_id"], db=db, config=emulator.config)
    assert decided["decision"]["rule"] == "any.already_refunded"


def test_store_down_mid_refund_leaves_only_the_request_and_a_retry_completes(emulator, db):
    view = refundable(db, emulator, "web", 14)
    p, d = view["purchase"], view["decision"]
    faults = f"{control_url(emulator)}/faults"
    httpx.post(faults, json=[{"store": "web", "kind": "500", "count": 20}], timeout=10).raise_for_status()
    try:
        failed = cli("refund", p["purchase_id"], *APPLY, "--json", db=db, config=emulator.config, check=False)
    finally:
        httpx.delete(faults, timeout=10).raise_for_status()
    assert failed.returncode == 1 and '"store_unavailable"' in failed.stdout and "stays requested" in failed.stdout
    assert rows(db, "SELECT status FROM refunds WHERE purchase_id = :p", p=p["purchase_id"]) == [("requested",)]
    assert clawbacks(db, p["purchase_id"]) == []
    assert rows(db, "SELECT status FROM purchases WHERE purchase_id = :p", p=p["purchase_id"]) == [("completed",)]
    done = cli_json("refund", p["purchase_id"], *APPLY, db=db, config=emulator.config)
    assert done["decision"]["rule"] == "any.refund_in_progress" and done["replayed"] is False
    web = client(emulator, "web")
    try:
        assert web.get_charge(p["store_transaction_id"])["amount_refunded"] == d["refund_minor"]
    finally:
        web.close()
    assert clawbacks(db, p["purchase_id"]) == [-d["coins_clawback"]]


def test_a_partial_refund_then_the_processor_refunds_the_rest_and_reconcile_claws_the_rest_once(emulator, db):
    """An agent refunds part of a web charge; the processor then refunds the rest (a second refund on the same
    charge, as its Refunds API allows): sync and reconcile find the coins of the second part still on the
    account, with what was clawed back already, and the fix claws back that part once."""
    view = refundable(db, emulator, "web", 14)
    p, d = view["purchase"], view["decision"]
    part = max(d["refund_minor"] // 3, 1)
    first = cli_json("refund", p["purchase_id"], "--amount", str(part), *APPLY, db=db, config=emulator.config)
    ours = first["applied"]["coins_clawed"]
    assert clawbacks(db, p["purchase_id"]) == [-ours]
    web = client(emulator, "web")
    try:
        web.create_refund(p["store_transaction_id"], idempotency_key="e2e-processor-rest")  # the rest, by the processor
        assert web.get_charge(p["store_transaction_id"])["amount_refunded"] == p["price_minor"]
    finally:
        web.close()
    found = cli_json("reconcile", "--account", p["account_id"], db=db, config=emulator.config)["findings"]
    (grown,) = [f for f in found if f["purchase_id"] == p["purchase_id"]]
    assert grown["kind"] == "unapplied_refund" and grown["detail"]["clawed"] == ours and grown["fixable"]
    assert grown["coins"] == ours - p["coins"]  # all the coins, less what our partial refund took back
    fixed = cli_json("reconcile", "--account", p["account_id"], "--fix", "--reason", "e2e rest", "--yes",
                     db=db, config=emulator.config)
    assert [a["idempotency_key"] for a in fixed["applied"]] == [grown["idempotency_key"]]
    assert sorted(clawbacks(db, p["purchase_id"])) == sorted([-ours, grown["coins"]])
    again = cli_json("reconcile", "--account", p["account_id"], "--fix", "--reason", "e2e again", "--yes",
                     db=db, config=emulator.config)
    assert again["findings"] == [] and again["applied"] == []
