"""Scaled databases built once and kept under /tmp for benchmarks that only read (building 1M accounts takes minutes).

`built(kind, accounts, pg)` returns the URL of a database holding `write_scaled(accounts=N, ledger_entries=N)`:
N accounts (one in ten a creator), about 0.9 N purchases and 0.9 N ledger entries. SQLite files live in CACHE;
PostgreSQL gets one database per size beside the one in the URL (`supportdesk_bench_<N>`). A database is reused
while its marker file names the schema head it was built at; delete CACHE (and drop the PG databases) to rebuild.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import make_url

from supportdesk.dataset.scaled import write_scaled
from supportdesk.db.engine import make_engine
from supportdesk.db.schema import ensure_schema, head_revision
from supportdesk.services.importer import run_import

CACHE = Path("/tmp/supportdesk-bench")
NOW = "2026-06-01T12:00:00+00:00"


def dataset(accounts: int) -> Path:
    root = CACHE / f"scaled-{accounts}"
    done = root / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        write_scaled(root, accounts, accounts=accounts, seed=7, now=datetime.fromisoformat(NOW))
        done.write_text("ok\n")
    return root


def url_for(kind: str, accounts: int, pg: str | None) -> str:
    if kind == "sqlite":
        return f"sqlite:///{CACHE}/lookup-{accounts}.db"
    assert pg, "a PostgreSQL URL is needed"
    return make_url(pg).set(database=f"supportdesk_bench_{accounts}").render_as_string(hide_password=False)


def built(kind: str, accounts: int, pg: str | None = None) -> str:
    """The URL of a database with the scaled dataset at `accounts`, imported now unless the marker says it is."""
    CACHE.mkdir(exist_ok=True)
    url = url_for(kind, accounts, pg)
    marker = CACHE / f"lookup-{accounts}.{kind}.ok"
    head = head_revision()
    if marker.exists() and marker.read_text().strip() == head:
        return url
    root = dataset(accounts)
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{CACHE}/lookup-{accounts}.db{suffix}").unlink(missing_ok=True)
    else:
        _recreate_pg(pg or "", f"supportdesk_bench_{accounts}")
    engine = make_engine(url)
    ensure_schema(engine)
    start = time.perf_counter()
    run_import(engine, root)
    if kind == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"built {kind} at {accounts:,} accounts in {time.perf_counter() - start:.0f} s (cached: {url})",
          file=sys.stderr)
    marker.write_text(head + "\n")
    return url


def _recreate_pg(pg: str, name: str) -> None:
    engine = make_engine(pg).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()


if __name__ == "__main__":  # python bench/built.py N [PG_URL]: build ahead of a benchmark run
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    size, pg_url = int(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else None)
    built("sqlite", size)
    if pg_url:
        built("postgresql", size, pg_url)
