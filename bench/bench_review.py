"""Review queue at N purchases: `review.build` (rules, evidence, upsert of the flags) vs the same seven rules as
hand-written SQL, fetched raw, in the same run; printed as a ratio of wall times, and this process's CPU time
(the honest number on a shared machine for SQLite, which runs in the process).

python bench/bench_review.py [--purchases N] [--pg URL]   (the PG database must be empty)
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text  # noqa: E402

from bench.harness import at_two_sizes  # noqa: E402
from supportdesk.db.engine import make_engine, write_session  # noqa: E402
from supportdesk.db.schema import ensure_schema  # noqa: E402
from supportdesk.services import review  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PER_ACCOUNT = 10
CHARGED = "('completed', 'refunded', 'revoked', 'voided', 'charged_back')"
MS = {"sqlite": "CAST(round((julianday({}) - 2440587.5) * 86400000.0) AS INTEGER)",
      "postgresql": "CAST(round(date_part('epoch', {}) * 1000) AS BIGINT)"}
YMD = {"sqlite": "CAST(strftime('%Y%m%d', {}) AS INTEGER)",
       "postgresql": "CAST(to_char({} AT TIME ZONE 'UTC', 'YYYYMMDD') AS INTEGER)"}
YMD_DATE = {"sqlite": YMD["sqlite"], "postgresql": "CAST(to_char({}, 'YYYYMMDD') AS INTEGER)"}

FLOOR = {
    "per_purchase": """
        SELECT x.*, r.coin_purchase, r.min_age FROM (
          SELECT p.purchase_id, p.account_id, p.country, a.country AS home, a.birth_date,
                 {ymd_p} AS day, {ymd_b} AS born,
                 (SELECT r.id FROM regions r WHERE r.country = p.country AND r.valid_from <= p.purchased_at
                  ORDER BY r.valid_from DESC LIMIT 1) AS region_id
          FROM purchases p JOIN accounts a ON a.account_id = p.account_id WHERE p.status IN {charged}) x
        LEFT JOIN regions r ON r.id = x.region_id
        WHERE r.id IS NULL OR NOT r.coin_purchase OR x.home <> x.country
           OR (x.birth_date IS NOT NULL AND x.day - x.born < r.min_age * 10000)""",
    "duplicate_charge": """
        SELECT * FROM (SELECT b.purchase_id, b.t,
            lag(b.t) OVER (PARTITION BY b.account_id, b.product_id ORDER BY b.t, b.purchase_id) AS prev_t
          FROM (SELECT p.purchase_id, p.account_id, p.product_id, {ms_p} AS t FROM purchases p
                WHERE p.status IN {charged}) b) d
        WHERE d.prev_t IS NOT NULL AND d.t - d.prev_t <= 120000""",
    "velocity": """
        SELECT * FROM (SELECT b.purchase_id, b.account_id, b.t,
            count(*) OVER w AS n, sum(coalesce(b.usd, 0)) OVER w AS usd
          FROM (SELECT p.purchase_id, p.account_id, {ms_p} AS t,
              CASE WHEN p.country = 'US' AND p.currency = 'USD' THEN p.price_minor ELSE
                p.price_minor * (SELECT u.price_minor FROM price_points u WHERE u.country = 'US' AND u.store = p.store
                  AND u.product_id = p.product_id AND u.valid_from <= p.purchased_at
                  AND (u.valid_to IS NULL OR p.purchased_at < u.valid_to) LIMIT 1)
                / nullif((SELECT l.price_minor FROM price_points l WHERE l.country = p.country AND l.store = p.store
                  AND l.product_id = p.product_id AND l.valid_from <= p.purchased_at
                  AND (l.valid_to IS NULL OR p.purchased_at < l.valid_to) LIMIT 1), 0) END AS usd
              FROM purchases p WHERE p.status IN {charged}) b
          WINDOW w AS (PARTITION BY b.account_id ORDER BY b.t RANGE BETWEEN 86400000 PRECEDING AND CURRENT ROW)) v
        WHERE v.n > 5 OR v.usd > 50000 ORDER BY v.account_id, v.t""",
    "gift_laundering": """
        SELECT x.* FROM (
          SELECT b.purchase_id, b.t, b.bought, g.creator_id, sum(g.coins) AS gifted, min({ms_g}) AS first_gift
          FROM (SELECT p.purchase_id, p.account_id, {ms_p} AS t, sum(p.coins) OVER (PARTITION BY p.account_id
                  ORDER BY {ms_p} RANGE BETWEEN CURRENT ROW AND 86400000 FOLLOWING) AS bought
                FROM purchases p WHERE p.status IN {charged} AND p.account_id IN (
                  SELECT g.sender_id FROM gift_events g JOIN cashouts c ON c.creator_id = g.creator_id)) b
          JOIN gift_events g ON g.sender_id = b.account_id
          WHERE {ms_g} >= b.t AND {ms_g} <= b.t + 86400000
          GROUP BY b.purchase_id, b.t, b.bought, g.creator_id
          HAVING sum(g.coins) * 100 >= b.bought * 80) x
        WHERE EXISTS (SELECT 1 FROM cashouts c WHERE c.creator_id = x.creator_id AND {ms_c} >= x.first_gift
                      AND {ms_c} <= x.t + 604800000)""",
    "refund_abuse": """
        SELECT * FROM (SELECT e.*, count(*) OVER (PARTITION BY e.account_id ORDER BY e.t
                  RANGE BETWEEN 7776000000 PRECEDING AND CURRENT ROW) AS n
                FROM (SELECT p.purchase_id, p.account_id, {ms_l} AS t FROM purchases p
                      JOIN ledger_entries l ON l.ref = p.purchase_id AND l.kind = 'refund_clawback') e) z
        WHERE z.n >= 3 ORDER BY z.account_id, z.t""",
}


def floor_sql(dialect: str) -> dict[str, str]:
    ms, ymd = MS[dialect], YMD[dialect]
    return {k: v.format(ms_p=ms.format("p.purchased_at"), ms_g=ms.format("g.at"), ms_c=ms.format("c.at"),
                        ms_l=ms.format("l.at"), ymd_p=ymd.format("p.purchased_at"),
                        ymd_b=YMD_DATE[dialect].format("a.birth_date"), charged=CHARGED)
            for k, v in FLOOR.items()}


def populate(engine: Engine, n: int) -> None:
    """N purchases, ten per account, three days apart; one account in a thousand per rule breaks it, and one
    in ten gifts 30 hours after each purchase (ordinary gifting the laundering join has to look through)."""
    sqlite = engine.dialect.name == "sqlite"
    accounts = n // PER_ACCOUNT

    def stamp(at: datetime) -> object:
        return at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at

    raw = engine.raw_connection()
    cur = raw.cursor()
    if sqlite:
        cur.execute("BEGIN")  # the engine's connections autocommit otherwise: one transaction per row
    q = "?" if sqlite else "%s"

    def many(sql: str, rows: object) -> None:
        cur.executemany(sql.replace("?", q), rows)

    old = stamp(T0 - timedelta(days=400))
    many("INSERT INTO regions (country, currency, coin_purchase, gifting, cashout, min_age, stores, valid_from)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
         [("US", "USD", True, True, True, 18, '["web"]', old), ("KR", "KRW", True, True, True, 19, '["web"]', old)])
    many("INSERT INTO price_points (country, store, product_id, coins, price_minor, currency, valid_from, bonus_coins)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
         [("US", "web", "coins_70", 70, 99, "USD", old, 0), ("KR", "web", "coins_70", 70, 1400, "KRW", old, 0),
          ("US", "web", "coins_17500", 17500, 24999, "USD", old, 0)])
    many("INSERT INTO gifts (gift_id, name, coins, diamonds) VALUES (?, ?, ?, ?)", [("rose", "Rose", 1, 0)])

    def home(a: int) -> str:
        return "KR" if a % 50 == 1 else "US"

    many("INSERT INTO accounts (account_id, handle, email, country, birth_date, kind, status, created_at,"
         " coin_balance, diamond_balance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
         ((f"acc_{a:07d}", f"@b{a}", f"b{a}@x.io", home(a), "2012-05-05" if a % 1000 == 10 else "1990-01-01",
           "creator" if a % 1000 == 14 else "viewer", "active", stamp(T0), 0, 0) for a in range(accounts)))

    def purchase(i: int) -> tuple[object, ...]:
        a, k = i % accounts, i // accounts
        at = T0 + timedelta(days=3 * k, seconds=a)
        case = a % 1000
        if case == 7 and k == 1:
            at = T0 + timedelta(seconds=a + 60)  # the same bundle again a minute later
        if case == 9:
            at = T0 + timedelta(hours=2 * k, seconds=a)  # ten purchases in 20 hours
        country = {8: "KR", 11: "AR"}.get(case, home(a))
        price, currency = (1400, "KRW") if country == "KR" else (99, "USD")
        product, coins = ("coins_17500", 17500) if case == 15 and k < 3 else ("coins_70", 70)
        if case == 15:
            at = T0 + timedelta(hours=3 * k, seconds=a)
            price = 24999 if k < 3 else price
        return (f"pur_{i:08d}", f"acc_{a:07d}", "web", f"ch_{i:08d}", product, coins, price, currency, country,
                stamp(at), "refunded" if case == 12 and k < 3 else "completed")

    rows = [purchase(i) for i in range(n)]
    many("INSERT INTO purchases (purchase_id, account_id, store, store_transaction_id, product_id, coins,"
         " price_minor, currency, country, purchased_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    many("INSERT INTO ledger_entries (entry_id, account_id, asset, amount, kind, ref, at, actor)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
         ((f"cb_{r[0]}", r[1], "coin", -70, "refund_clawback", r[0], r[9], "system") for r in rows if r[10] == "refunded"))
    gifts = []
    for i, r in enumerate(rows):
        a, k = i % accounts, i // accounts
        at = T0 + timedelta(days=3 * k, seconds=a)
        if a % 1000 == 13 and k == 0:  # all 70 coins to one creator ten minutes after buying
            gifts.append((f"ev_{i:08d}", r[1], f"acc_{a + 1:07d}", "rose", 70, 70, 35, stamp(at + timedelta(minutes=10))))
        elif a % 10 == 0:
            gifts.append((f"ev_{i:08d}", r[1], f"acc_{(a + 4) % accounts:07d}", "rose", 10, 10, 5,
                          stamp(at + timedelta(hours=30))))
    many("INSERT INTO gift_events (event_id, sender_id, creator_id, gift_id, quantity, coins, diamonds, at)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", gifts)
    many("INSERT INTO cashouts (cashout_id, creator_id, diamonds, amount_minor, currency, status, at)"
         " VALUES (?, ?, ?, ?, ?, ?, ?)",
         ((f"co_{a:07d}", f"acc_{a:07d}", 35, 17, "USD", "requested", stamp(T0 + timedelta(days=2)))
          for a in range(14, accounts, 1000)))
    raw.commit()
    raw.close()


def run(url: str, n: int) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    t0 = time.perf_counter()
    populate(engine, n)
    loaded = time.perf_counter() - t0
    with engine.connect() as conn:  # fresh statistics for both sides
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    t0, c0 = time.perf_counter(), time.process_time()
    with engine.connect() as conn:
        floor_rows = {k: len(conn.execute(text(sql)).all()) for k, sql in floor_sql(engine.dialect.name).items()}
    floor, floor_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    with write_session(engine) as session:
        built = review.build(session)
    ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    with write_session(engine) as session:
        review.build(session)
    again = time.perf_counter() - t0
    print(f"  {engine.dialect.name:10s} {n:>9,} purchases (loaded in {loaded:5.1f} s): build {ours:6.2f} s "
          f"({built.raised} flags), rebuild {again:6.2f} s, SQL floor {floor:6.2f} s "
          f"({sum(floor_rows.values())} rows), ratio {ours / floor:4.2f}; this process's CPU: build {ours_cpu:5.2f} s, "
          f"floor {floor_cpu:5.2f} s (SQLite runs in it, PostgreSQL does not)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--pg", help="a PostgreSQL database URL (emptied first)")
    args = parser.parse_args()
    at_two_sizes(run, args.purchases, args.pg)


if __name__ == "__main__":
    main()
