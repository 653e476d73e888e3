"""Sync's Apple account match at N accounts: `upsert._apple_tokens` (appAccountToken -> our account, in any case)
for a batch of 50 records, on the expression index `ix_accounts_apple_token_lower` (migration 0012).

- ours: `_apple_tokens(session, records)` in an open session transaction (as a sync's batch runs it).
- floor: the fastest simple way to do the same work: the 50 tokens lower-cased in Python and matched with
  `lower(apple_app_account_token) IN (?, ... 50 placeholders)` on one raw driver connection of the same engine, in
  an open transaction, on the same index; the rows made a dict.
- context: ours again after DROP INDEX (a scan of every account).
Ours and the floor alternate, 31 times each after one untimed call each (warm); the medians are compared.

python bench/bench_sync_match.py [--accounts N ...] [--pg URL]   (SQLite cached under /tmp/bench-sync-cache; the
PG database is emptied first)
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.harness import fresh  # noqa: E402
from supportdesk.db.engine import make_engine  # noqa: E402
from supportdesk.db.schema import ensure_schema  # noqa: E402
from supportdesk.stores.records import NormalisedRecord  # noqa: E402
from supportdesk.stores.upsert import _apple_tokens  # noqa: E402

CACHE = Path("/tmp/bench-sync-cache")
T = datetime(2026, 6, 1, tzinfo=UTC)


def token(i: int) -> str:
    return str(uuid.UUID(int=i * 7919 + 1))


def populate(engine: Engine, n: int) -> None:
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    cur = raw.cursor()
    if sqlite:
        cur.execute("BEGIN")
    q = "?" if sqlite else "%s"
    at = T.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else T
    sql = ("INSERT INTO accounts (account_id, handle, email, country, kind, status, created_at, coin_balance, "
           f"diamond_balance, apple_app_account_token) VALUES ({', '.join([q] * 10)})")
    for start in range(0, n, 50_000):
        cur.executemany(sql, [(f"acc_{i:08d}", f"@m{i}", f"m{i}@x.io", "US", "viewer", "active", at, 0, 0,
                               token(i).upper() if i % 2 else token(i)) for i in range(start, min(n, start + 50_000))])
    raw.commit()
    cur.execute("ANALYZE")
    raw.commit()
    raw.close()


def prepared(pg: str | None, n: int) -> Engine:
    if pg is None:
        CACHE.mkdir(exist_ok=True)
        db = CACHE / f"match{n}.db"
        fresh_db = not db.exists()
        engine = make_engine(f"sqlite:///{db}")
        ensure_schema(engine)
        if fresh_db:
            populate(engine, n)
        return engine
    fresh(pg)
    engine = make_engine(pg)
    ensure_schema(engine)
    populate(engine, n)
    return engine


def batch(n: int) -> list[NormalisedRecord]:
    return [NormalisedRecord("apple", f"{2000000000 + i}", None, None, token(i * (n // 50)).upper(), "coins_70", 1,
                             99, "USD", "US", T, "purchased", None, None, None, {}) for i in range(50)]


def median(times: list[float]) -> float:
    return sorted(times)[len(times) // 2]


def measure(engine: Engine, records: list[NormalisedRecord], rounds: int, floor: bool = True) -> tuple[float, float]:
    """(ours, floor) median seconds; the floor is 0.0 when not asked for."""
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    cur = raw.cursor()
    if sqlite:  # the engine's SQLite connections run in autocommit: hold a transaction, as ours does
        cur.execute("BEGIN")
    refs = [r.account_ref for r in records if r.store == "apple" and r.account_ref]
    sql = ("SELECT lower(apple_app_account_token), account_id FROM accounts WHERE lower(apple_app_account_token) "
           f"IN ({', '.join(['?' if sqlite else '%s'] * len(set(refs)))})")

    def by_hand() -> dict[str, str]:
        cur.execute(sql, sorted({ref.lower() for ref in refs}))
        return dict(cur.fetchall())

    mine, base = [], []
    with Session(engine) as session:  # as in a sync: the batch's transaction is already open
        assert len(_apple_tokens(session, records)) == 50
        assert not floor or by_hand() == _apple_tokens(session, records)
        for _ in range(rounds):
            t0 = time.perf_counter()
            _apple_tokens(session, records)
            mine.append(time.perf_counter() - t0)
            if floor:
                t0 = time.perf_counter()
                by_hand()
                base.append(time.perf_counter() - t0)
    raw.close()
    return median(mine), median(base) if base else 0.0


def run(pg: str | None, n: int) -> None:
    engine = prepared(pg, n)
    records = batch(n)
    ours, floor = measure(engine, records, 31)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_accounts_apple_token_lower")
    without, _ = measure(engine, records, 5, floor=False)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_accounts_apple_token_lower ON accounts (lower(apple_app_account_token))")
    print(f"  {engine.dialect.name:10s} {n:>9,} accounts: a batch of 50 Apple records matched in ours "
          f"{ours * 1000:6.3f} ms, floor {floor * 1000:6.3f} ms, ratio {ours / floor:4.2f}; without the index "
          f"(a scan) {without * 1000:7.1f} ms", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--pg")
    args = parser.parse_args()
    for target in [None, *([args.pg] if args.pg else [])]:
        for n in args.accounts:
            run(target, n)


if __name__ == "__main__":
    main()
