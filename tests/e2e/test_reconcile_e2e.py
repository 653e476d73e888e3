"""Generate, emulate, import, reconcile, fix, reconcile again: as an agent (or a team lead's script) does."""

from __future__ import annotations

from sqlalchemy import text

from supportdesk.db.engine import make_engine
from tests.e2e.conftest import cli, cli_json


def ledger_rows(db: str) -> int:
    engine = make_engine(db)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar()
    engine.dispose()
    return int(count or 0)


def test_every_planted_anomaly_found_then_fixed_once(emulator, tmp_path):
    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    cli("import", str(emulator.data), db=db)
    body = cli_json("reconcile", "--all", "--lookup-old", db=db, config=emulator.config)
    found = {(f["kind"], f["account_id"]) for f in body["findings"]}
    planted = {(f["kind"], f["account_id"]) for f in emulator.planted["findings"]}
    assert planted <= found, f"missed: {sorted(planted - found)}"
    clean = set(emulator.planted["clean_accounts"])
    assert not [f for f in found if f[1] in clean]
    assert body["summary"]["total"] == len(body["findings"])

    fixed = cli_json("reconcile", "--all", "--offline", "--fix", "--reason", "e2e reconcile", "--yes",
                     db=db, config=emulator.config)
    assert fixed["failed"] == [] and fixed["applied"]
    assert all(a["replayed"] is False for a in fixed["applied"])

    after = cli_json("reconcile", "--all", "--offline", db=db, config=emulator.config)
    assert {f["kind"] for f in after["findings"]} == {"amount_mismatch"}

    rows = ledger_rows(db)
    again = cli_json("reconcile", "--all", "--offline", "--fix", "--reason", "e2e again", "--yes",
                     db=db, config=emulator.config)
    assert again["applied"] == [] and ledger_rows(db) == rows


def test_fix_needs_a_reason(emulator, tmp_path):
    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    done = cli("reconcile", "--all", "--offline", "--fix", "--yes", "--json", db=db, check=False)
    assert done.returncode == 1 and "--reason" in done.stdout


def test_one_store_down_the_others_still_reconcile_and_its_findings_are_stale(emulator, tmp_path):
    import json
    import tomllib

    import httpx

    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    cli("import", str(emulator.data), db=db)
    control = tomllib.loads(emulator.config.read_text())["emulator"]["control_url"]
    httpx.post(f"{control}/faults", json=["web:503"]).raise_for_status()
    try:
        done = cli("reconcile", "--all", "--lookup-old", "--json", db=db, config=emulator.config, check=False)
    finally:
        httpx.delete(f"{control}/faults").raise_for_status()
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads(done.stdout)
    summary = body["summary"]
    assert summary["failed_stores"] == ["web"]
    assert summary["stores"]["web"]["status"] == "failed" and summary["stores"]["web"]["error"]["message"]
    assert summary["stores"]["apple"] == {"status": "ok"} and summary["stores"]["google"] == {"status": "ok"}
    planted = {(f["kind"], f["account_id"]) for f in emulator.planted["findings"] if f.get("store") != "web"}
    found = {(f["kind"], f["account_id"]) for f in body["findings"]}
    assert planted <= found, f"missed: {sorted(planted - found)}"
    assert {f["store"] for f in body["findings"] if f["stale"]} <= {"web"}
    assert all(f["stale"] for f in body["findings"] if f["store"] == "web")

    # The stores that synced moved their cursors; web's did not, so the next run resumes web from the start.
    again = cli_json("reconcile", "--all", db=db, config=emulator.config)
    assert again["summary"]["failed_stores"] == [] and not any(f["stale"] for f in again["findings"])
    cursors = _cursors(db)
    assert set(cursors) == {"apple", "google", "web"} and all(status == "ok" for status, _ in cursors.values())


def _cursors(db: str) -> dict[str, tuple[str, object]]:
    engine = make_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT store, status, synced_until FROM sync_cursors WHERE scope = 'all'")).all()
    engine.dispose()
    return {store: (status, until) for store, status, until in rows}


def test_a_never_charged_purchase_per_store_is_reported(emulator, tmp_path):
    """Our purchase and its credit, with no record at the store (a forged receipt), at each store."""
    from datetime import timedelta

    from supportdesk.db.engine import write_session
    from supportdesk.db.models import LedgerEntry, Purchase
    from tests.e2e.conftest import NOW

    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    cli("import", str(emulator.data), db=db)
    account = emulator.planted["clean_accounts"][0]
    forged = {"apple": "2999999999999", "google": "GPA.0000-0000-0000-99999", "web": "ch_neverCharged0001"}
    engine = make_engine(db)
    with write_session(engine) as session:
        for n, (store, tid) in enumerate(forged.items()):
            session.add(Purchase(purchase_id=f"pur_forged{n}", account_id=account, store=store,
                                 store_transaction_id=tid, product_id="coins_70", coins=70, price_minor=99,
                                 currency="USD", country="US", purchased_at=NOW - timedelta(days=3),
                                 status="completed"))
            session.flush()
            session.add(LedgerEntry(entry_id=f"le_forged{n}", account_id=account, asset="coin", amount=70,
                                    kind="purchase", ref=f"pur_forged{n}", at=NOW - timedelta(days=3),
                                    actor="system"))
    engine.dispose()
    body = cli_json("reconcile", "--all", db=db, config=emulator.config)
    found = {f["store"]: f for f in body["findings"] if f["kind"] == "unknown_to_store"}
    assert {s: f["store_transaction_id"] for s, f in found.items()} == forged
    assert all(f["account_id"] == account and f["coins"] == -70 and f["fixable"] for f in found.values())
    assert all(f["detail"]["store_answers"][s]["answer"] for s, f in found.items())
    assert body["summary"]["by_kind"]["unknown_to_store"] == 3
