"""Account lookup by each key at N accounts: `lookup.resolve_account` vs the raw indexed SELECT, same run.

python bench/bench_lookup.py [--accounts N] [--pg URL]   (the PG database is emptied first)
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import fresh  # noqa: E402
from bench.synthetic import write  # noqa: E402
from supportdesk.db.engine import make_engine, read_session  # noqa: E402
from supportdesk.db.schema import ensure_schema  # noqa: E402
from supportdesk.services import lookup  # noqa: E402
from supportdesk.services.importer import run_import  # noqa: E402

SAMPLES = 2000
# key -> (query text for account i, the raw floor SQL with one parameter)
KEYS: dict[str, tuple[Callable[[int], str], str]] = {
    "handle": (lambda i: f"@fan{i:08d}", "SELECT account_id FROM accounts WHERE handle = {p}"),
    "email": (lambda i: f"fan{i}@example.com", "SELECT account_id FROM accounts WHERE email = {p}"),
    "account_id": (lambda i: f"acc_{i:08d}", "SELECT account_id FROM accounts WHERE account_id = {p}"),
    "purchase_id": (lambda i: f"pur_{i:08d}", "SELECT account_id FROM purchases WHERE purchase_id = {p}"),
    "store_txn": (lambda i: f"ch_{i:024d}", "SELECT account_id FROM purchases WHERE store_transaction_id = {p}"),
}


def measure(url: str, accounts: int, root: Path) -> None:
    fresh(url)
    engine = make_engine(url)
    ensure_schema(engine)
    start = time.perf_counter()
    run_import(engine, root)
    print(f"{engine.dialect.name}: imported {accounts:,} accounts in {time.perf_counter() - start:.1f} s")
    rng = random.Random(1)
    sample = [rng.randrange(accounts) for _ in range(SAMPLES)]
    param = "?" if engine.dialect.name == "sqlite" else "%s"
    for key, (text_of, sql) in KEYS.items():
        raw = engine.raw_connection()
        cur = raw.cursor()
        t0 = time.perf_counter()
        for i in sample:
            cur.execute(sql.format(p=param), (text_of(i),))
            assert cur.fetchone() is not None
        floor = time.perf_counter() - t0
        raw.close()
        with read_session(engine) as session:
            t0 = time.perf_counter()
            for i in sample:
                assert lookup.resolve_account(session, text_of(i)).account_id == f"acc_{i:08d}"
            ours = time.perf_counter() - t0
        print(f"  {key:12s} ours {ours / SAMPLES * 1e6:7.0f} us/lookup  floor {floor / SAMPLES * 1e6:6.0f} us"
              f"  ratio {ours / floor:5.1f}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--pg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp) / "ds", accounts=args.accounts, entries=0)
        measure(f"sqlite:///{tmp}/lookup.db", args.accounts, root)
        if args.pg:
            measure(args.pg, args.accounts, root)


if __name__ == "__main__":
    main()
