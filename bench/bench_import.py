"""Import of N ledger entries through `run_import` vs a raw floor in the same run (same rows, same schema).

Floor on SQLite: json.loads + sqlite3 executemany in one transaction. On PostgreSQL (--pg URL): json.loads +
psycopg COPY. Prints seconds and the ratio (ours / floor).  python bench/bench_import.py [--entries N] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import fresh  # noqa: E402
from bench.synthetic import write  # noqa: E402
from supportdesk.db.engine import make_engine  # noqa: E402
from supportdesk.db.schema import ensure_schema  # noqa: E402
from supportdesk.services.importer import run_import  # noqa: E402

COLS = ("entry_id", "account_id", "asset", "amount", "kind", "ref", "at", "actor", "reason")


def floor_sqlite(url: str, ledger: Path) -> float:
    engine = make_engine(url)
    ensure_schema(engine)
    raw = engine.raw_connection()
    start = time.perf_counter()
    cur = raw.cursor()
    cur.execute("PRAGMA foreign_keys=OFF")  # no FK checks: a true floor
    cur.execute("BEGIN")
    rows = []
    with ledger.open("rb") as fh:
        for line in fh:
            d = json.loads(line)
            rows.append(tuple(d.get(c) for c in COLS))
    cur.executemany(f"INSERT INTO ledger_entries ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})", rows)
    raw.commit()
    elapsed = time.perf_counter() - start
    raw.close()
    engine.dispose()
    return elapsed


def floor_pg(url: str, ledger: Path) -> float:
    engine = make_engine(url)
    ensure_schema(engine)
    raw = engine.raw_connection()
    start = time.perf_counter()
    cur = raw.cursor()
    # The same columns and indexes in a logged table like ours, without foreign keys or triggers: the floor.
    cur.execute("CREATE TABLE floor_ledger (LIKE ledger_entries INCLUDING ALL)")
    with cur.copy(f"COPY floor_ledger ({', '.join(COLS)}) FROM STDIN") as copy, ledger.open("rb") as fh:
        for line in fh:
            d = json.loads(line)
            copy.write_row([d.get(c) for c in COLS])
    raw.commit()
    elapsed = time.perf_counter() - start
    cur.execute("DROP TABLE floor_ledger")
    raw.commit()
    raw.close()
    engine.dispose()
    return elapsed


def ours(url: str, root: Path) -> float:
    fresh(url)
    engine = make_engine(url)
    ensure_schema(engine)
    start = time.perf_counter()
    run_import(engine, root)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--pg", help="a PostgreSQL database URL to measure on too (emptied first)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp) / "ds", accounts=args.accounts, entries=args.entries)
        ledger = root / "app" / "ledger.jsonl"
        t_ours = ours(f"sqlite:///{tmp}/ours.db", root)
        t_floor = floor_sqlite(f"sqlite:///{tmp}/floor.db", ledger)
        print(f"sqlite  import {args.entries:,} ledger entries: ours {t_ours:.1f} s, "
              f"floor (json.loads + executemany) {t_floor:.1f} s, ratio {t_ours / t_floor:.2f}")
        if args.pg:
            t_ours = ours(args.pg, root)
            t_floor = floor_pg(args.pg, ledger)
            print(f"postgres import {args.entries:,} ledger entries: ours {t_ours:.1f} s, "
                  f"floor (json.loads + COPY) {t_floor:.1f} s, ratio {t_ours / t_floor:.2f}")


if __name__ == "__main__":
    main()
