"""`stores sync` of a generated dataset's store folder over real HTTP: exactly the stores' records, idempotent,
and complete after a run interrupted by injected faults."""

from __future__ import annotations

import json
import tomllib

import httpx
from sqlalchemy import text

from supportdesk.db.engine import make_engine
from tests.e2e.conftest import cli, cli_json

SINCE = "2024-01-01T00:00:00Z"


def store_ids(data) -> set[tuple[str, str]]:
    ids = set()
    for store, name, key in (("apple", "apple/transactions.jsonl", "transactionId"),
                             ("google", "google/purchases.jsonl", "orderId"), ("web", "web/charges.jsonl", "id")):
        for line in (data / "store" / name).read_text().splitlines():
            ids.add((store, json.loads(line)[key]))
    return ids


def synced_ids(db: str) -> set[tuple[str, str]]:
    engine = make_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT store, store_transaction_id FROM store_records")).all()
    engine.dispose()
    return {(s, t) for s, t in rows}


def test_sync_is_exact_idempotent_and_resumable(emulator, tmp_path):
    db = f"sqlite:///{tmp_path / 'sync.db'}"
    cli("import", str(emulator.data), db=db)
    control = tomllib.loads(emulator.config.read_text())["emulator"]["control_url"]
    # Interrupted: Google's API fails for good after a few calls, the others complete.
    httpx.post(f"{control}/faults", json=["google:503"]).raise_for_status()
    broken = cli("stores", "sync", "--since", SINCE, "--json", db=db, config=emulator.config, check=False)
    httpx.delete(f"{control}/faults").raise_for_status()
    assert broken.returncode == 1 and "google" in json.loads(broken.stdout)["failed"]
    partial = synced_ids(db)
    assert partial and partial < store_ids(emulator.data)

    first = cli_json("stores", "sync", "--since", SINCE, db=db, config=emulator.config)
    assert synced_ids(db) == store_ids(emulator.data)
    assert first["synced"]["google"]["inserted"] > 0

    again = cli_json("stores", "sync", "--since", SINCE, db=db, config=emulator.config)
    assert all(c["inserted"] == 0 and c["updated"] == 0 for c in again["synced"].values())
    assert synced_ids(db) == store_ids(emulator.data)
