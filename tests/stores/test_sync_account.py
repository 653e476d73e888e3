"""stores sync for one account: the stores are asked about that customer only (SQLite, and PostgreSQL when
SUPPORTDESK_TEST_PG_URL is set), against the sync tests' emulator (tests/stores/store_data.py).

acc_0 (Apple token A, customer cus_0) bought Apple 3000000000001 200 days ago, beyond Apple's 180-day
notification history, and we never recorded it: only its customer's history finds it. acc_1 (token B, cus_1)
has a web charge we never recorded (ch_4, no account in its metadata). acc_2 has no Apple purchase; acc_3's
purchases are partly unknown to the stores. Google's notifications are global: a sync of any account consumes
them all (and stores what they carry, whoever it belongs to), so they are never lost to a full sync.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select
from typer.testing import CliRunner

from supportdesk.config import Settings
from supportdesk.db.engine import make_engine, write_session
from supportdesk.db.models import Purchase
from supportdesk.db.schema import ensure_schema
from supportdesk.emulator.server import EmulatorHandle
from supportdesk.errors import NotFound
from supportdesk.stores.sync import SyncResult
from tests.emulator.emulator_support import LOCAL, set_faults
from tests.stores.store_data import store_keys
from tests.stores.test_cli import app
from tests.stores.test_sync import run, seed, table

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")]
UNRECORDED_APPLE = ("apple", "3000000000001")  # acc_0's, 200 days old


def seed_without_unrecorded(engine: Engine) -> None:
    seed(engine)
    with write_session(engine) as session:
        purchase = session.exec(select(Purchase).where(
            Purchase.store == UNRECORDED_APPLE[0], Purchase.store_transaction_id == UNRECORDED_APPLE[1])).one()
        session.delete(purchase)


@pytest.fixture
def db(engine: Engine) -> Engine:
    seed_without_unrecorded(engine)
    return engine


@pytest.fixture
def settings(sync_emulator: EmulatorHandle) -> Settings:
    return Settings(stores=tomllib.loads(sync_emulator.config_path.read_text(encoding="utf-8"))["stores"])


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """HTTP requests sent to each store (the first path segment: apple, google or web), by every client."""
    counts: Counter[str] = Counter()
    send = httpx.Client.send

    def counting(self: httpx.Client, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        counts[request.url.path.strip("/").split("/")[0]] += 1
        return send(self, request, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", counting)
    return counts


def by_account(engine: Engine) -> dict[str | None, Counter[str]]:
    out: dict[str | None, Counter[str]] = {}
    for (store, _tid), row in table(engine).items():
        out.setdefault(row["account_id"], Counter())[store] += 1
    return out


def changed(result: SyncResult) -> dict[str, tuple[int, int]]:
    return {store: (c.inserted, c.updated) for store, c in result.synced.items()}


def test_one_account_asks_only_about_that_customer(db: Engine, settings: Settings, requests: Counter[str],
                                                    sync_emulator: EmulatorHandle) -> None:
    result = run(db, settings, account_id="acc_0")
    assert result.failed == {} and result.to_json()["account_id"] == "acc_0"
    # Apple: one history page and one refund-history page; web: the customer's charges and one disputed charge's
    # disputes. Google: notifications, the voided list, then acc_0's one order outside it.
    assert (requests["apple"], requests["web"]) == (2, 2)
    assert by_account(db) == {
        "acc_0": Counter(apple=3, google=2, web=2),
        "acc_2": Counter(google=1), "acc_3": Counter(google=1),  # delivered by Google's (global) notifications
    }
    assert ("apple", "3000000000001") in table(db) and table(db)[UNRECORDED_APPLE]["account_id"] == "acc_0"
    counts = result.to_json()["synced"]
    assert {s: (c["fetched"], c["not_found"]) for s, c in counts.items()} == {
        "apple": (3, 0), "google": (4, 0), "web": (2, 0)}
    assert counts["google"]["acknowledged"] == 4

    per_account = sum(requests.values())
    requests.clear()
    LOCAL.post(f"{sync_emulator.base_url}/_emulator/reset").raise_for_status()  # Google's notifications again
    run(db, settings)
    assert sum(requests.values()) > per_account and requests["apple"] > 2 and requests["web"] > 2


def test_a_full_sync_cannot_see_what_the_customers_history_shows(db: Engine, settings: Settings) -> None:
    run(db, settings)
    assert UNRECORDED_APPLE not in table(db)  # beyond the notification history, and not ours to look up
    before = table(db)
    result = run(db, settings, account_id="acc_0")
    assert changed(result) == {"apple": (1, 0), "google": (0, 0), "web": (0, 0)}
    after = table(db)
    assert set(after) - set(before) == {UNRECORDED_APPLE}
    assert {k: after[k] for k in before} == before  # not one row rewritten
    assert after[UNRECORDED_APPLE]["state"] == "purchased" and after[UNRECORDED_APPLE]["price_minor"] == 99


def test_a_web_charge_we_never_recorded_is_found_by_customer(db: Engine, settings: Settings) -> None:
    run(db, settings, account_id="acc_1", stores=["web"])
    rows = table(db)
    assert set(rows) == {("web", "ch_1"), ("web", "ch_4")}
    assert (rows[("web", "ch_4")]["account_id"], rows[("web", "ch_4")]["account_ref"]) == ("acc_1", "cus_1")
    # cus_2's charge ch_5 names acc_3 in its metadata: acc_3's, not acc_2's.
    run(db, settings, account_id="acc_2", stores=["web"])
    assert {k for k, r in table(db).items() if r["account_id"] == "acc_2"} == {("web", "ch_2")}
    assert table(db)[("web", "ch_2")]["state"] == "charged_back"  # its lost dispute, asked by charge


def test_second_run_and_a_full_sync_afterwards_change_nothing(db: Engine, settings: Settings,
                                                              tmp_path: Path,
                                                              sync_emulator: EmulatorHandle) -> None:
    run(db, settings, account_id="acc_0")
    first = table(db)
    again = run(db, settings, account_id="acc_0")
    assert changed(again) == {"apple": (0, 0), "google": (0, 0), "web": (0, 0)}
    assert table(db) == first  # fetched_at included: not one row was rewritten

    full = run(db, settings)
    assert all(updated == 0 for _inserted, updated in changed(full).values())
    after = table(db)
    assert {k: after[k] for k in first} == first
    assert set(after) == store_keys()

    # The same rows, normalised the same way, as a full sync alone writes (and the one only acc_0's sync found).
    LOCAL.post(f"{sync_emulator.base_url}/_emulator/reset").raise_for_status()
    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    ensure_schema(alone)
    seed_without_unrecorded(alone)
    run(alone, settings)
    assert set(table(alone)) == store_keys() - {UNRECORDED_APPLE}
    assert {k: comparable(v) for k, v in table(alone).items()} == {
        k: comparable(v) for k, v in after.items() if k != UNRECORDED_APPLE}
    alone.dispose()


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """A row without when it was fetched and when Apple signed it (re-signed on every fetch)."""
    raw = {k: v for k, v in row["raw"].items() if k != "signedDate"}
    return {k: v for k, v in row.items() if k != "fetched_at"} | {"raw": raw}


def test_what_the_stores_do_not_know_is_counted_or_skipped(db: Engine, settings: Settings) -> None:
    acc_3 = run(db, settings, account_id="acc_3").to_json()["synced"]
    assert {s: c["not_found"] for s, c in acc_3.items()} == {"apple": 1, "google": 1, "web": 1}
    assert table(db)[("web", "ch_5")]["account_id"] == "acc_3"  # another customer's id, looked up as ours
    acc_2 = run(db, settings, account_id="acc_2", stores=["apple"]).to_json()["synced"]["apple"]
    assert acc_2["fetched"] == 0 and "nothing to ask Apple about" in acc_2["skipped"]
    assert "skipped" not in acc_3["apple"]


def test_unknown_account_is_refused(db: Engine, settings: Settings) -> None:
    with pytest.raises(NotFound):
        run(db, settings, account_id="acc_nobody")


def test_a_failing_store_writes_nothing_and_the_others_complete(db: Engine, settings: Settings,
                                                                sync_emulator: EmulatorHandle) -> None:
    set_faults(sync_emulator, "apple:500")
    result = run(db, settings, account_id="acc_0")
    assert list(result.failed) == ["apple"] and result.failed["apple"]["code"] == "store_unavailable"
    assert {k[0] for k in table(db)} == {"google", "web"}
    set_faults(sync_emulator)
    assert run(db, settings, account_id="acc_0").failed == {}
    assert by_account(db)["acc_0"]["apple"] == 3


def test_cli_resolves_the_account_query(db: Engine, db_url: str, sync_emulator: EmulatorHandle) -> None:
    def cli(*args: str) -> Any:
        return CliRunner().invoke(app, ["--config", str(sync_emulator.config_path), "--db", db_url, *args])

    result = cli("stores", "sync", "--since", "500d", "--account", "@fan0", "--store", "apple", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["account_id"] == "acc_0" and body["synced"]["apple"]["inserted"] == 3
    human = cli("stores", "sync", "--since", "500d", "--account", "fan2@example.com", "--store", "apple")
    assert human.exit_code == 0, human.output
    assert "of acc_2" in human.stderr and "apple skipped" in human.stderr
    missing = cli("stores", "sync", "--account", "@nobody", "--json")
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"]["code"] == "not_found"
