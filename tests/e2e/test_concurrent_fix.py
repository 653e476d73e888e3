"""Four processes run `reconcile --all --fix` at once on one PostgreSQL database: each fix is posted once."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from sqlalchemy import text

from supportdesk.db.engine import make_engine
from tests.conftest import PG_URL
from tests.e2e.conftest import CLI, cli, cli_json

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs SUPPORTDESK_TEST_PG_URL")


@pytest.fixture
def pg_db(tmp_path, pg_template):
    from tests.conftest import drop_database, new_database_url

    url, name = new_database_url("postgresql", tmp_path, pg_template)
    yield url
    drop_database(name)


def test_four_processes_fix_everything_exactly_once(emulator, pg_db):
    cli("import", str(emulator.data), db=pg_db)
    before = cli_json("reconcile", "--all", db=pg_db, config=emulator.config)  # syncs the store records once
    fixable = [f for f in before["findings"] if f["fixable"]]
    env = {**os.environ, "SUPPORTDESK_ACTOR": "racer"}
    args = [*CLI, "--db", pg_db, "--config", str(emulator.config), "reconcile", "--all", "--offline", "--fix",
            "--reason", "race", "--yes", "--json"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(4)]
    outputs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o.get("failed") for o in outputs]
    firsts: dict[str, int] = {}
    for out in outputs:
        for applied in out["applied"]:
            firsts[applied["idempotency_key"]] = firsts.get(applied["idempotency_key"], 0) + (not applied["replayed"])
    assert len(firsts) == len(fixable) and set(firsts.values()) == {1}
    engine = make_engine(pg_db)
    with engine.connect() as conn:
        dupes = conn.execute(text(
            "SELECT ref, kind, count(*) FROM ledger_entries WHERE actor = 'racer' "
            "GROUP BY ref, kind, reverses HAVING count(*) > 1")).all()
        drift = conn.execute(text(
            "SELECT count(*) FROM accounts a WHERE a.coin_balance <> "
            "(SELECT coalesce(sum(amount), 0) FROM ledger_entries l WHERE l.account_id = a.account_id AND asset = 'coin')"
        )).scalar()
    engine.dispose()
    assert dupes == [] and drift == 0
    after = cli_json("reconcile", "--all", "--offline", db=pg_db, config=emulator.config)
    assert {f["kind"] for f in after["findings"]} == {"amount_mismatch"}
