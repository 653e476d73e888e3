"""Reconcile at N store records: `reconcile.find` vs hand-written SQL (the same checks as anti-joins and
GROUP BYs, fetched raw) in the same run; and peak Python memory at N/10 and N to show it stays flat.

python bench/bench_reconcile.py [--records N] [--pg URL]   (the PG database must be empty)
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text  # noqa: E402

from bench.harness import at_two_sizes  # noqa: E402
from supportdesk.db.engine import make_engine, read_session  # noqa: E402
from supportdesk.db.schema import ensure_schema  # noqa: E402
from supportdesk.services.reconcile import Scope, find  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNTS = 10_000

FLOOR = {
    "missing_purchase": """SELECT sr.* FROM store_records sr WHERE sr.state = 'purchased' AND NOT EXISTS (
        SELECT 1 FROM purchases p WHERE p.store = sr.store AND p.store_transaction_id = sr.store_transaction_id)
        AND sr.price_minor > 0 AND EXISTS (SELECT 1 FROM price_points pp WHERE pp.country = sr.country
          AND pp.store = sr.store AND pp.product_id = sr.product_id AND pp.valid_from <= sr.purchased_at
          AND (pp.valid_to IS NULL OR sr.purchased_at < pp.valid_to)
          AND pp.price_minor = sr.price_minor AND pp.currency = sr.currency)""",
    "uncredited_purchase": """SELECT p.* FROM purchases p WHERE p.status = 'completed' AND NOT EXISTS (
        SELECT 1 FROM ledger_entries l WHERE l.ref = p.purchase_id AND l.kind = 'purchase')""",
    "duplicate_credit": """SELECT l.ref, l.account_id, count(*), sum(l.amount) FROM ledger_entries l
        WHERE l.kind = 'purchase' AND l.ref IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM ledger_entries r WHERE r.reverses = l.entry_id) GROUP BY l.ref, l.account_id HAVING count(*) > 1""",
    # A purchase still completed with no clawback, or one taken back with its coins clawed so far (a refund that
    # grew at the store after its clawback: the comparison with the store's share is the caller's).
    "unapplied_refund": """SELECT sr.*, p.*, (SELECT coalesce(-sum(l.amount), 0) FROM ledger_entries l
        WHERE l.ref = p.purchase_id AND l.kind = 'refund_clawback' AND l.asset = 'coin'
        AND l.account_id = p.account_id) FROM store_records sr JOIN purchases p ON p.store = sr.store
        AND p.store_transaction_id = sr.store_transaction_id WHERE sr.state IN ('refunded', 'charged_back')
        AND ((p.status = 'completed' AND NOT EXISTS (SELECT 1 FROM ledger_entries l WHERE l.ref = p.purchase_id
        AND l.kind = 'refund_clawback')) OR (p.status IN ('refunded', 'revoked', 'charged_back') AND (EXISTS (
        SELECT 1 FROM ledger_entries l WHERE l.ref = p.purchase_id AND l.kind = 'refund_clawback') OR EXISTS (
        SELECT 1 FROM refunds r WHERE r.purchase_id = p.purchase_id AND r.status = 'succeeded'))))""",
    "balance_drift": """SELECT a.account_id, a.coin_balance, coalesce(s.total, 0) FROM accounts a LEFT JOIN (
        SELECT account_id, sum(amount) AS total FROM ledger_entries WHERE asset = 'coin' GROUP BY account_id) s
        ON s.account_id = a.account_id WHERE a.coin_balance <> coalesce(s.total, 0)""",
    "balance_drift_diamond": """SELECT a.account_id, a.diamond_balance, coalesce(s.total, 0) FROM accounts a LEFT JOIN (
        SELECT account_id, sum(amount) AS total FROM ledger_entries WHERE asset = 'diamond' GROUP BY account_id) s
        ON s.account_id = a.account_id WHERE a.diamond_balance <> coalesce(s.total, 0)""",
    "amount_mismatch": """SELECT sr.*, p.purchase_id FROM store_records sr LEFT JOIN purchases p
        ON p.store = sr.store AND p.store_transaction_id = sr.store_transaction_id
        WHERE sr.state IN ('purchased', 'refunded', 'charged_back') AND (
          (p.purchase_id IS NOT NULL AND sr.price_minor IS NOT NULL AND (sr.price_minor <= 0 OR (
            EXISTS (SELECT 1 FROM price_points pp WHERE pp.country = sr.country AND pp.store = sr.store
              AND pp.product_id = sr.product_id AND pp.valid_from <= sr.purchased_at
              AND (pp.valid_to IS NULL OR sr.purchased_at < pp.valid_to))
            AND NOT EXISTS (SELECT 1 FROM price_points pp WHERE pp.country = sr.country AND pp.store = sr.store
              AND pp.product_id = sr.product_id AND pp.valid_from <= sr.purchased_at
              AND (pp.valid_to IS NULL OR sr.purchased_at < pp.valid_to)
              AND pp.price_minor = sr.price_minor AND pp.currency = sr.currency))))
          OR (p.purchase_id IS NULL AND sr.state = 'purchased' AND NOT (sr.price_minor > 0 AND EXISTS (
            SELECT 1 FROM price_points pp WHERE pp.country = sr.country AND pp.store = sr.store
              AND pp.product_id = sr.product_id AND pp.valid_from <= sr.purchased_at
              AND (pp.valid_to IS NULL OR sr.purchased_at < pp.valid_to)
              AND pp.price_minor = sr.price_minor AND pp.currency = sr.currency))))""",
    "wrong_credit_amount": """SELECT p.*, l.* FROM purchases p JOIN ledger_entries l ON l.ref = p.purchase_id
        AND l.account_id = p.account_id AND l.kind = 'purchase'
        WHERE l.amount <> p.coins AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.reverses = l.entry_id)""",
    "misdirected_credit": """SELECT p.*, l.* FROM purchases p JOIN ledger_entries l ON l.ref = p.purchase_id
        AND l.account_id <> p.account_id AND l.kind = 'purchase'
        WHERE NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.reverses = l.entry_id)""",
}


def populate(engine: Engine, n: int) -> None:
    """N purchases, N store records, N credits; every 1000th purchase is uncredited, refunded or mispriced."""
    sqlite = engine.dialect.name == "sqlite"

    def stamp(i: int) -> object:
        at = T0 + timedelta(seconds=i)
        return at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at

    raw = engine.raw_connection()
    cur = raw.cursor()
    q = "?" if sqlite else "%s"

    def many(sql: str, rows: object) -> None:
        cur.executemany(sql.replace("?", q), rows)

    many("INSERT INTO price_points (country, store, product_id, coins, price_minor, currency, valid_from, bonus_coins)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [("US", "web", "coins_70", 70, 99, "USD", stamp(-10**7), 0)])
    many("INSERT INTO accounts (account_id, handle, email, country, kind, status, created_at, coin_balance,"
         " diamond_balance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
         [(f"acc_{a:06d}", f"@b{a}", f"b{a}@x.io", "US", "viewer", "active", stamp(0),
           70 * len(range(a, n, ACCOUNTS)), 0) for a in range(ACCOUNTS)])
    many("INSERT INTO purchases (purchase_id, account_id, store, store_transaction_id, product_id, coins,"
         " price_minor, currency, country, purchased_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
         ((f"pur_{i:08d}", f"acc_{i % ACCOUNTS:06d}", "web", f"ch_{i:08d}", "coins_70", 70, 99, "USD", "US",
           stamp(i), "completed") for i in range(n)))
    many("INSERT INTO ledger_entries (entry_id, account_id, asset, amount, kind, ref, at, actor)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
         ((f"le_{i:08d}", f"acc_{i % ACCOUNTS:06d}", "coin", 70, "purchase", f"pur_{i:08d}", stamp(i), "system")
          for i in range(n) if i % 1000 != 1))
    many("INSERT INTO store_records (store, store_transaction_id, account_id, product_id, quantity, price_minor,"
         " currency, country, purchased_at, state, raw, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
         (("web", f"ch_{i:08d}", f"acc_{i % ACCOUNTS:06d}", "coins_70", 1, 149 if i % 1000 == 3 else 99, "USD", "US",
           stamp(i), "refunded" if i % 1000 == 2 else "purchased", "{}", stamp(i)) for i in range(n)))
    raw.commit()
    raw.close()


def run(url: str, n: int) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    populate(engine, n)
    with engine.connect() as conn:  # fresh statistics for both sides
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    t0 = time.perf_counter()
    with engine.connect() as conn:
        floor_rows = sum(len(conn.execute(text(sql)).all()) for sql in FLOOR.values())
    floor = time.perf_counter() - t0
    tracemalloc.start()
    t0 = time.perf_counter()
    with read_session(engine) as session:
        ours_rows = sum(1 for _ in find(session, Scope()))
    ours = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {engine.dialect.name:10s} {n:>9,} store records: ours {ours:6.2f} s ({ours_rows} findings), "
          f"SQL floor {floor:6.2f} s ({floor_rows} rows), ratio {ours / floor:4.2f}, peak {peak / 2**20:5.1f} MiB")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pg", help="a PostgreSQL database URL (emptied first)")
    args = parser.parse_args()
    at_two_sizes(run, args.records, args.pg)


if __name__ == "__main__":
    main()
