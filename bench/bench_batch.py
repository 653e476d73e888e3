"""`supportdesk search --stdin`: 1,000 lookups in one process vs 1,000 one-shot `search --json` processes.

python bench/bench_batch.py [--accounts 300] [--queries 1000] [--oneshots 20] [--pg URL]  (the PG database is emptied)

The dataset is `python -m supportdesk.dataset` output, imported with the CLI. The queries cycle through the keys an
agent pastes (account id, handle, email, purchase id, store transaction id), in a shuffled order.
- ours: the whole `search --stdin` process (interpreter start, imports, schema check included), wall clock.
- floor: the same queries as raw indexed SELECTs of the same account columns (joined through purchases for the
  purchase keys) on one sqlite3/psycopg connection in this process, warm (run once untimed first).
- start: the same process with an empty stdin (interpreter, imports, engine and schema check), to split the two.
- one-shot: `--oneshots` separate `search Q --json` processes, timed and scaled to the query count.
Every process runs with cached bytecode (under /tmp/supportdesk-bench/pycache), as an installed package has.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import fresh  # noqa: E402
from supportdesk.db.engine import make_engine  # noqa: E402

COLUMNS = "a.account_id, a.handle, a.email, a.country, a.kind, a.status, a.coin_balance, a.diamond_balance"
FLOOR = {  # key -> the raw SELECT with one parameter {p}
    "account_id": f"SELECT {COLUMNS} FROM accounts a WHERE a.account_id = {{p}}",
    "handle": f"SELECT {COLUMNS} FROM accounts a WHERE lower(a.handle) = lower({{p}})",
    "email": f"SELECT {COLUMNS} FROM accounts a WHERE lower(a.email) = lower({{p}})",
    "purchase_id": f"SELECT {COLUMNS} FROM accounts a JOIN purchases p ON p.account_id = a.account_id "
                   "WHERE p.purchase_id = {p}",
    "store_transaction_id": f"SELECT {COLUMNS} FROM accounts a JOIN purchases p ON p.account_id = a.account_id "
                            "WHERE p.store_transaction_id = {p}",
}


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(ROOT),
           "PYTHONPYCACHEPREFIX": "/tmp/supportdesk-bench/pycache"}  # cached bytecode, as an installed package has
    return subprocess.run([sys.executable, "-m", "supportdesk.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, check=True)


def queries(dataset: Path, n: int) -> list[tuple[str, str]]:
    """(key, text) pairs cycling through the keys, shuffled."""
    def rows(name: str) -> list[dict[str, str]]:
        return [json.loads(line) for line in (dataset / "app" / name).read_text().splitlines() if line.strip()]

    accounts, purchases = rows("accounts.jsonl"), rows("purchases.jsonl")
    rng = random.Random(1)
    keys = list(FLOOR)
    out = []
    for i in range(n):
        key = keys[i % len(keys)]
        row = rng.choice(purchases if key in ("purchase_id", "store_transaction_id") else accounts)
        out.append((key, row[key]))
    rng.shuffle(out)
    return out


def floor(url: str, pairs: list[tuple[str, str]]) -> float:
    engine = make_engine(url)
    raw = engine.raw_connection()
    cur = raw.cursor()
    param = "?" if engine.dialect.name == "sqlite" else "%s"
    best = float("inf")
    for _ in range(2):  # the first run warms the cache; the faster one counts
        t0 = time.perf_counter()
        for key, text in pairs:
            cur.execute(FLOOR[key].format(p=param), (text,))
            assert cur.fetchall()
        best = min(best, time.perf_counter() - t0)
    raw.close()
    engine.dispose()
    return best


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ours(url: str, pairs: list[tuple[str, str]]) -> tuple[float, float]:
    """(wall, CPU) seconds of the whole `search --stdin` process."""
    t0, c0 = time.perf_counter(), children_cpu()
    done = cli("--db", url, "search", "--stdin", stdin="".join(f"{text}\n" for _, text in pairs))
    took, cpu = time.perf_counter() - t0, children_cpu() - c0
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(pairs) and all(a.get("accounts") for a in answers), "a query found nothing"
    return took, cpu


def oneshots(url: str, pairs: list[tuple[str, str]], count: int) -> float:
    t0 = time.perf_counter()
    for _, text in pairs[:count]:
        cli("--db", url, "search", text, "--json")
    return (time.perf_counter() - t0) / count * len(pairs)


def measure(url: str, dataset: Path, n: int, count: int) -> None:
    fresh(url)
    cli("--db", url, "import", str(dataset), "--json")
    pairs = queries(dataset, n)
    cli("--db", url, "search", pairs[0][1], "--json")  # a warm file cache for every run
    base = floor(url, pairs)
    (first, first_cpu), (second, second_cpu) = ours(url, pairs), ours(url, pairs)
    mine, mine_cpu = min(first, second), min(first_cpu, second_cpu)
    t0, c0 = time.perf_counter(), children_cpu()
    cli("--db", url, "search", "--stdin", stdin="")  # the start alone: interpreter, imports, schema check
    start, start_cpu = time.perf_counter() - t0, children_cpu() - c0
    shots = oneshots(url, pairs, count)
    name = url.split(":", 1)[0]
    print(f"{name}: {n:,} lookups  ours (one process, start included) {mine:.2f} s (runs {first:.2f}, {second:.2f})"
          f"  floor {base:.3f} s  ratio {mine / base:.0f}x")
    print(f"{name}: of which the start (empty batch) {start:.2f} s; the lookups {mine - start:.2f} s"
          f" = {(mine - start) / base:.0f}x the floor")
    print(f"{name}: CPU time (steadier on a shared machine): the batch {mine_cpu:.2f} s (runs {first_cpu:.2f}, "
          f"{second_cpu:.2f}), the start alone {start_cpu:.2f} s")
    print(f"{name}: {n:,} one-shot processes (from {count}) {shots:.0f} s  = {shots / mine:.0f}x ours")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--oneshots", type=int, default=20)
    parser.add_argument("--pg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "ds"
        subprocess.run([sys.executable, "-m", "supportdesk.dataset", "--out", str(dataset), "--accounts",
                        str(args.accounts)], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        measure(f"sqlite:///{tmp}/batch.db", dataset, args.queries, args.oneshots)
        if args.pg:
            measure(args.pg, dataset, args.queries, args.oneshots)


if __name__ == "__main__":
    main()
