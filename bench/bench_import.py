"""Import of N ledger entries through `run_import` vs a raw floor in the same run (same rows, same schema).

The dataset: N ledger entries (purchase credits) of --accounts accounts, each account with one purchase. The
floors load the same three files (accounts, purchases, ledger), in that order. Floor on SQLite: json.loads +
sqlite3 executemany into the same tables in one transaction, foreign keys off. On PostgreSQL (--pg URL):
json.loads + psycopg COPY into logged tables with the same columns, defaults, indexes and unique constraints as
accounts, purchases and ledger_entries (`LIKE ... INCLUDING ALL`), without foreign keys or triggers. Two more are
printed beside it: the same COPYs into tables that also have the foreign keys to the floor's accounts ("floor +
FK"), and into ones with those keys and the tables' own triggers ("floor + FK + guards": the role guards, which
keep a transition table of each statement's rows): what the schema makes any writer of these tables pay. Each side
starts just after a CHECKPOINT. Prints seconds, the ratios (ours / floor) and the CPU seconds of this process and
of its server backend; with --rounds R, ours and the floors alternate R times.
python bench/bench_import.py [--entries N] [--pg URL] [--engine sqlite|postgresql] [--rounds R]

With --into N: a small import (10 accounts, 10 purchases, 10 ledger entries) into a database that already holds
N accounts, purchases and ledger entries (built once and cached: SQLite under /tmp/bench-import-cache, PostgreSQL
in the --pg database, which is emptied first), in a fresh process: its wall time and peak memory (VmHWM), vs the
same import into an empty database. The checks must look up this import's keys, not load the database's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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

FILES = (("accounts", "accounts.jsonl"), ("purchases", "purchases.jsonl"), ("ledger_entries", "ledger.jsonl"))


def _rows(path: Path) -> tuple[list[str], list[list[object]]]:
    """The file's columns (its first line's keys) and its rows, json.loads per line."""
    with path.open("rb") as fh:
        rows = [json.loads(line) for line in fh]
    columns = list(rows[0]) if rows else []
    return columns, [[d.get(c) for c in columns] for d in rows]


def floor_sqlite(url: str, app: Path) -> float:
    engine = make_engine(url)
    ensure_schema(engine)
    raw = engine.raw_connection()
    start = time.perf_counter()
    cur = raw.cursor()
    cur.execute("PRAGMA foreign_keys=OFF")  # no FK checks: a true floor
    cur.execute("BEGIN")
    for table, name in FILES:
        columns, rows = _rows(app / name)
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        rows)
    raw.commit()
    elapsed = time.perf_counter() - start
    raw.close()
    engine.dispose()
    return elapsed


class Cpu:
    """CPU seconds of this process and of one PostgreSQL backend (read from /proc: the server is on this machine),
    so a run on a loaded machine can be compared by work done as well as by wall time."""

    def __init__(self, backend: int) -> None:
        self.backend = backend
        self.client, self.server = time.process_time(), self._server()

    def _server(self) -> float:
        stat = Path(f"/proc/{self.backend}/stat")
        if not stat.exists():
            return float("nan")
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def spent(self) -> str:
        return f"CPU {time.process_time() - self.client:.1f} s here + {self._server() - self.server:.1f} s server"


def floor_pg(url: str, app: Path, fk: bool = False, guards: bool = False) -> float:
    engine = make_engine(url)
    ensure_schema(engine)
    raw = engine.raw_connection()
    cur = raw.cursor()
    # The same columns and indexes in logged tables like ours, without foreign keys or triggers: the floor.
    for table, _ in FILES:
        cur.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
        if fk and table != "accounts":  # the foreign keys purchases and ledger_entries have, to the floor's accounts
            cur.execute(f"ALTER TABLE floor_{table} ADD FOREIGN KEY (account_id) REFERENCES floor_accounts (account_id)")
        if guards:  # and the table's own triggers (the role guards of migration 0013, the append-only ones)
            cur.execute("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                        (table,))
            for (definition,) in cur.fetchall():
                cur.execute(definition.replace(f" ON public.{table} ", f" ON floor_{table} ")
                            .replace(f" ON {table} ", f" ON floor_{table} "))
    raw.commit()
    _checkpoint(cur)
    cur.execute("SELECT pg_backend_pid()")
    cpu = Cpu(cur.fetchone()[0])
    start = time.perf_counter()
    for table, name in FILES:
        with (app / name).open("rb") as fh:
            columns = list(json.loads(fh.readline() or b"{}"))
            fh.seek(0)
            with cur.copy(f"COPY floor_{table} ({', '.join(columns)}) FROM STDIN") as copy:
                for line in fh:
                    d = json.loads(line)
                    copy.write_row([d.get(c) for c in columns])
    raw.commit()
    elapsed = time.perf_counter() - start
    SPENT[f"floor{' + FK' if fk else ''}{' + guards' if guards else ''}"] = cpu.spent()
    for table, _ in reversed(FILES):
        cur.execute(f"DROP TABLE floor_{table}")
    raw.commit()
    raw.close()
    engine.dispose()
    return elapsed


SPENT: dict[str, str] = {}  # the CPU each PostgreSQL run spent, by name


def _checkpoint(cur: object) -> None:
    """Every side starts just after a checkpoint. A million entries write more WAL than max_wal_size (1 GB by
    default), so checkpoints come during each run; without this, where they fell decided the ratio (1.15 to 1.64
    for the same code in one series)."""
    cur.execute("CHECKPOINT")  # type: ignore[attr-defined]


def ours(url: str, root: Path) -> float:
    fresh(url)
    engine = make_engine(url)
    ensure_schema(engine)
    cpu = None
    if url.startswith("postgres"):
        engine.dispose()  # one pooled connection from here on: the one the import checks out
        with engine.connect() as conn:
            _checkpoint(conn.connection.dbapi_connection.cursor())
            cpu = Cpu(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    start = time.perf_counter()
    run_import(engine, root)
    elapsed = time.perf_counter() - start
    if cpu:
        SPENT["ours"] = cpu.spent()
    engine.dispose()
    return elapsed


CACHE = Path("/tmp/bench-import-cache")


def small(root: Path, tag: str) -> Path:
    """Ten new accounts, each with a purchase and its credit (ids unique per run: `tag`)."""
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    t = "2026-06-02T12:00:00Z"
    for name in ("regions.jsonl", "price_points.jsonl", "gifts.jsonl"):
        (app / name).write_text("")
    rows = {"accounts": [], "purchases": [], "ledger": []}
    for i in range(10):
        acc, pur = f"acc_{tag}_{i}", f"pur_{tag}_{i}"
        rows["accounts"].append({"account_id": acc, "handle": f"@s{tag}{i}", "email": f"s{tag}{i}@example.com",
                                 "country": "US", "kind": "viewer", "status": "active", "created_at": t,
                                 "coin_balance": 0, "diamond_balance": 0})
        rows["purchases"].append({"purchase_id": pur, "account_id": acc, "store": "web",
                                  "store_transaction_id": f"ch_{tag}_{i}", "product_id": "coins_70", "coins": 70,
                                  "price_minor": 99, "currency": "USD", "country": "US", "purchased_at": t,
                                  "status": "completed"})
        rows["ledger"].append({"entry_id": f"le_{tag}_{i}", "account_id": acc, "asset": "coin", "amount": 70,
                               "kind": "purchase", "ref": pur, "at": t, "actor": "system"})
    for name, items in rows.items():
        (app / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    return root


def big(target: str | None, n: int) -> str:
    """A database holding n accounts, purchases and ledger entries (imported once; SQLite cached)."""
    if target is None:
        CACHE.mkdir(exist_ok=True)
        db = CACHE / f"big{n}.db"
        if db.exists():
            return f"sqlite:///{db}"
        building = CACHE / f"building{n}.db"
        url = f"sqlite:///{building}"
    else:
        fresh(target)
        url = target
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp) / "ds", accounts=n, entries=n)
        engine = make_engine(url)
        ensure_schema(engine)
        start = time.perf_counter()
        run_import(engine, root)
        print(f"  (built the {n:,}-row database in {time.perf_counter() - start:.0f} s)", flush=True)
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:  # VACUUM: no transaction
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)" if target is None else "VACUUM ANALYZE")
        engine.dispose()
    if target is None:
        building.rename(CACHE / f"big{n}.db")
        return f"sqlite:///{CACHE / f'big{n}.db'}"
    return url


def into(url: str) -> str:
    """In a fresh process: the small import into `url`; its seconds and peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        root = small(Path(tmp) / "ds", f"{time.time_ns() % 10**12}")
        out = subprocess.run([sys.executable, __file__, "--child", url, str(root)], capture_output=True, text=True)
        return out.stdout.strip() or out.stderr.strip()[-400:]


def child(url: str, root: str) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    start = time.perf_counter()
    run_import(engine, Path(root))
    took = time.perf_counter() - start
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(f"{took:.2f} s, peak {int(hwm.split()[1]) / 1024:.0f} MiB")


def small_into_big(n: int, pg: str | None, engines: list[str]) -> None:
    for target in [*([None] if "sqlite" in engines else []), *([pg] if pg and "postgresql" in engines else [])]:
        engine_name = "sqlite" if target is None else "postgres"
        with tempfile.TemporaryDirectory() as tmp:
            empty = f"sqlite:///{tmp}/empty.db" if target is None else target
            if target is not None:
                fresh(target)
            first = into(empty)
        url = big(target, n)
        print(f"{engine_name:8s} 30 rows into a {n:,}-account database: {into(url)}; "
              f"again: {into(url)}; into an empty one: {first}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--pg", help="a PostgreSQL database URL to measure on too (emptied first)")
    parser.add_argument("--into", type=int, help="measure a 30-row import into a database of this many accounts")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), help="only this engine (default: both)")
    parser.add_argument("--rounds", type=int, default=1, help="ours and the floor, alternating, this many times")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    engines = [args.engine] if args.engine else ["sqlite", "postgresql"]
    if args.child:
        child(*args.child)
        return
    if args.into:
        small_into_big(args.into, args.pg, engines)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp) / "ds", accounts=args.accounts, entries=args.entries)
        app = root / "app"
        for _ in range(args.rounds):
            if "sqlite" in engines:
                Path(f"{tmp}/ours.db").unlink(missing_ok=True)
                Path(f"{tmp}/floor.db").unlink(missing_ok=True)
                t_ours = ours(f"sqlite:///{tmp}/ours.db", root)
                t_floor = floor_sqlite(f"sqlite:///{tmp}/floor.db", app)
                print(f"sqlite  import {args.entries:,} ledger entries: ours {t_ours:.1f} s, "
                      f"floor (json.loads + executemany of the three files) {t_floor:.1f} s, ratio {t_ours / t_floor:.2f}", flush=True)
            if args.pg and "postgresql" in engines:
                t_ours = ours(args.pg, root)
                t_floor = floor_pg(args.pg, app)
                t_fk = floor_pg(args.pg, app, fk=True)
                t_schema = floor_pg(args.pg, app, fk=True, guards=True)
                print(f"postgres import {args.entries:,} ledger entries: ours {t_ours:.1f} s, "
                      f"floor (json.loads + COPY of the three files) {t_floor:.1f} s, ratio {t_ours / t_floor:.2f}; "
                      f"floor + FK {t_fk:.1f} s, ratio {t_ours / t_fk:.2f}; floor + FK + guards {t_schema:.1f} s, "
                      f"ratio {t_ours / t_schema:.2f} (load {_load()})", flush=True)
                print("  " + "; ".join(f"{name}: {spent}" for name, spent in SPENT.items()), flush=True)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
