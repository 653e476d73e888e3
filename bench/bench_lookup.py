"""Account lookup by each key an agent pastes: `lookup.resolve` vs the fastest simple SELECT doing the same work.

python bench/bench_lookup.py [--accounts 100000 1000000] [--pg URL] [--samples 2000] [--runs 2]

The databases come from `bench/built.py` (the `write_scaled` dataset with N accounts and about 0.9 N purchases),
built once and cached under /tmp/supportdesk-bench (1M accounts: about 10 minutes on SQLite, longer on PostgreSQL).
The sampled keys (seeded) are read from the dataset's files: account id, handle, email, purchase id and store
transaction id (Apple, Google and web ones as they come).
- ours: `lookup.resolve(session, text)` on one read session held for all lookups (as batch mode and a TUI worker
  hold one): the query is parsed, its likeliest key's statement runs, the account's summary comes back as a dict.
- floor: the same SELECT by hand on one raw driver connection of the same engine (its connect settings) inside
  one read transaction held for all lookups, as ours holds one (on SQLite a `BEGIN`; without it every SELECT
  would take and drop its own read snapshot, which costs the floor about a microsecond): the same eight account
  columns, the same predicate on the same index (`lower(handle) = lower(?)`, `lower(email)`), and for purchase
  and transaction ids the same join through purchases; the cursor's rows fetched. The floor is told the key; it
  leaves out what ours adds: parsing the query (which key it could be), and for keys that may name several
  accounts (email, store ids) the check that only one does (ours takes up to six rows, unordered, and runs its
  `ORDER BY account_id LIMIT 5` only when it must name several).
Each key runs the whole sample once per side untimed (warm caches), then `--runs` rounds of both sides, the side
that goes first alternating (ours, floor; floor, ours; ...); the fastest run of each side is compared, every run
is printed. Wall time and this process's CPU time are printed for both engines: on SQLite all the work happens in
this process, so on a shared machine (other jobs preempting this one) CPU is the steadier figure; PostgreSQL's work
is in the server, so there only wall time says anything about the whole, and the client CPU is the part that ours
can add beside the driver.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.built import built, dataset  # noqa: E402
from supportdesk.db.engine import make_engine, read_session  # noqa: E402
from supportdesk.services import lookup  # noqa: E402

COLUMNS = ", ".join(f"a.{name}" for name in lookup.SUMMARY)
VIA_PURCHASES = f"SELECT {COLUMNS} FROM accounts a JOIN purchases p ON p.account_id = a.account_id WHERE "
FLOOR = {  # key -> the SELECT with one parameter {p}
    "account_id": f"SELECT {COLUMNS} FROM accounts a WHERE a.account_id = {{p}}",
    "handle": f"SELECT {COLUMNS} FROM accounts a WHERE lower(a.handle) = lower({{p}})",
    "email": f"SELECT {COLUMNS} FROM accounts a WHERE lower(a.email) = lower({{p}})",
    "purchase_id": VIA_PURCHASES + "p.purchase_id = {p}",
    "store_transaction_id": VIA_PURCHASES + "p.store_transaction_id = {p}",
}


def sample(root: Path, n: int) -> dict[str, list[tuple[str, str]]]:
    """key -> (text, the account id it names), n of each, from random lines of the dataset's files."""
    def pick(name: str, keys: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
        path = root / "app" / name
        with path.open() as fh:
            total = sum(1 for _ in fh)
        chosen = sorted(random.Random(f"{name}-{n}").sample(range(total), min(n, total)))
        rows, wanted = [], iter(chosen)
        target = next(wanted, None)
        with path.open() as fh:
            for i, line in enumerate(fh):
                if i == target:
                    rows.append(json.loads(line))
                    target = next(wanted, None)
        random.Random(1).shuffle(rows)
        return {key: [(row[key], row["account_id"]) for row in rows] for key in keys}

    return {**pick("accounts.jsonl", ("account_id", "handle", "email")),
            **pick("purchases.jsonl", ("purchase_id", "store_transaction_id"))}


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """(wall, CPU of this process) seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - t0, time.process_time() - c0


def figures(label: str, mine: list[float], base: list[float], per: int) -> str:
    o, f = min(mine) / per * 1e6, min(base) / per * 1e6
    return (f"{label}: ours {o:6.1f} us floor {f:6.1f} us ratio {o / f:4.2f} (runs ours "
            f"{'/'.join(f'{t / per * 1e6:.0f}' for t in mine)}, floor {'/'.join(f'{t / per * 1e6:.0f}' for t in base)})")


def measure(url: str, accounts: int, samples: int, runs: int) -> list[str]:
    engine = make_engine(url)
    name = engine.dialect.name
    keys = sample(dataset(accounts), samples)
    param = "?" if name == "sqlite" else "%s"
    raw = engine.raw_connection()
    cur = raw.cursor()
    if name == "sqlite":  # the engine's connections run in autocommit and begin their own transactions
        cur.execute("BEGIN")
    lines = []
    with read_session(engine) as session:
        for key, pairs in keys.items():
            sql = FLOOR[key].format(p=param)

            def ours(pairs: list[tuple[str, str]] = pairs) -> None:
                for text, account_id in pairs:
                    assert lookup.resolve(session, text)["account_id"] == account_id

            def floor(pairs: list[tuple[str, str]] = pairs, sql: str = sql) -> None:
                for text, account_id in pairs:
                    cur.execute(sql, (text,))
                    assert cur.fetchall()[0][0] == account_id

            ours(), floor()  # warm: pages in the cache, statements prepared, nothing timed
            mine, base = [], []
            for i in range(runs):
                if i % 2:
                    base.append(timed(floor))
                    mine.append(timed(ours))
                else:
                    mine.append(timed(ours))
                    base.append(timed(floor))
            per = len(pairs)
            line = (f"{name:10s} {accounts:>9,} {key:20s} " + figures("wall", [w for w, _ in mine], [w for w, _ in base], per))
            # All of SQLite's work is in this process: its CPU time is the steadier figure. On PostgreSQL this
            # process's CPU is the client's share only (the driver and ours), what ours can add to the server's.
            line += "   " + figures("CPU" if name == "sqlite" else "client CPU", [c for _, c in mine],
                                    [c for _, c in base], per)
            print(line, flush=True)
            lines.append(line)
    raw.close()
    engine.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--pg", help="a PostgreSQL URL: databases supportdesk_bench_<N> are made beside it")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in args.engines:
        if kind == "postgresql" and not args.pg:
            continue
        for n in args.accounts:
            measure(built(kind, n, args.pg), n, args.samples, args.runs)


if __name__ == "__main__":
    main()
