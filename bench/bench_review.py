"""Review queue at N purchases: `review.rebuild` (rules, evidence, upsert of the flags, as `r` and `supportdesk
review` run it) vs the floor, in the same run; printed as a ratio of wall times, and this process's CPU time (the
honest number on a shared machine for SQLite, which runs in the process).

The floor is the fastest simple way to find the same flagged purchases: the seven rules as hand-written SQL,
fetched raw, one statement per rule, each the same plan as ours (the per-purchase rules join the few region rows
with their end times by hash, as `review_rules.per_purchase` does, rather than a correlated lookup per purchase).
It writes nothing and builds no evidence, so it is a lower bound. Caches are warm (one untimed pass of each side
first); the sides then alternate order over two rounds (floor first, then ours first) and each side's best round
counts; ours starts from an empty queue each round (a full build, every flag inserted).

Then, with --writer: a second process makes one-row writes (an UPDATE of one account, in its own write
transaction through the app's engine, every 5 ms): alone for 10 s (its own waits on the machine as loaded now),
while the queue is built the old way (`review.build` in one write transaction; skip with --no-old), and while
`rebuild` runs (the rules in a read transaction, the writes in 100-flag chunks). Printed: the writer's waits
p50 / p99 / max, split by what the rebuild was doing when each began (reading; overlapping a chunk's write
transaction; between chunks), the three longest and when; each chunk's lock hold, the checkpoints, the log's size.
The floor on SQLite: the same writer on a bare sqlite3 connection (polling for the lock every millisecond, as the
app does) while bare sqlite3 writes the same rows, made ready first, in the same chunks with the same pauses, a read
snapshot held meanwhile, three rounds: what the writes alone cost a waiting writer on this machine now. (While
ours reads nothing holds a lock, so there the floor is the writer alone.)

Then, with --flags K: K open flags in the queue; the first page (`review.page`, keyset by (score desc, flag_id),
100 rows, and the counts by rule) vs the whole queue as `review.queue` reads it; and the TUI's memory (max RSS
of a process that opens the queue with a Pilot and reads the first page) with --tui.

python bench/bench_review.py [--purchases N] [--pg URL] [--writer [--no-old]] [--flags 50000 [--tui]]
   (the PG database is emptied first; SQLite databases are cached under /tmp/bench-review-cache)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from bench.harness import fresh  # noqa: E402
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
        WITH rs AS (SELECT r.id, r.country, r.valid_from, r.coin_purchase, r.min_age,
                           lead(r.valid_from) OVER (PARTITION BY r.country ORDER BY r.valid_from) AS valid_until
                    FROM regions r)
        SELECT p.purchase_id, p.account_id, p.country, a.country AS home, a.birth_date,
               {ymd_p} AS day, {ymd_b} AS born, rs.id AS region_id, rs.coin_purchase, rs.min_age
        FROM purchases p JOIN accounts a ON a.account_id = p.account_id
        LEFT JOIN rs ON rs.country = p.country AND rs.valid_from <= p.purchased_at
                    AND (rs.valid_until IS NULL OR p.purchased_at < rs.valid_until)
        WHERE p.status IN {charged}
          AND (rs.id IS NULL OR NOT rs.coin_purchase OR a.country <> p.country
               OR (a.birth_date IS NOT NULL AND {ymd_p} - {ymd_b} < rs.min_age * 10000))""",
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


CACHE = Path("/tmp/bench-review-cache")


def prepared(url: str | None, n: int) -> str:
    """A database with N purchases: SQLite copied from the cache (built once), PostgreSQL emptied and loaded."""
    if url is None:
        CACHE.mkdir(exist_ok=True)
        cached, work = CACHE / f"r{n}.db", CACHE / f"work{n}.db"
        if not cached.exists():
            building = CACHE / f"building{n}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{building}{suffix}").unlink(missing_ok=True)
            engine = make_engine(f"sqlite:///{building}")
            ensure_schema(engine)
            populate(engine, n)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            building.rename(cached)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(cached, work)
        return f"sqlite:///{work}"
    fresh(url)
    engine = make_engine(url)
    ensure_schema(engine)
    populate(engine, n)
    engine.dispose()
    return url


def clear_flags(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("DELETE FROM review_flags"))
        conn.commit()


def floor_pass(engine: Engine) -> tuple[dict[str, float], int]:
    times, rows = {}, 0
    with engine.connect() as conn:
        for k, sql in floor_sql(engine.dialect.name).items():
            t0 = time.perf_counter()
            rows += len(conn.execute(text(sql)).all())
            times[k] = time.perf_counter() - t0
    return times, rows


def ours_pass(engine: Engine) -> tuple[float, float, review.BuildResult]:
    clear_flags(engine)
    t0, c0 = time.perf_counter(), time.process_time()
    built = review.rebuild(engine)
    return time.perf_counter() - t0, time.process_time() - c0, built


def run(url: str, n: int) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:  # fresh statistics for both sides
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    floor_pass(engine)  # warm: each side once, untimed
    ours_pass(engine)
    floors: dict[str, list[float]] = {}
    ours: list[tuple[float, float]] = []
    for order in (("floor", "ours"), ("ours", "floor")):
        for side in order:
            if side == "floor":
                times, floor_rows = floor_pass(engine)
                for k, v in times.items():
                    floors.setdefault(k, []).append(v)
            else:
                wall, cpu, built = ours_pass(engine)
                ours.append((wall, cpu))
    floor = sum(min(v) for v in floors.values())
    best = min(ours)
    per_rule = ", ".join(f"{k} {min(v):.2f}" for k, v in floors.items())
    print(f"  {engine.dialect.name:10s} {n:>9,} purchases: ours (rebuild) {best[0]:6.2f} s ({built.raised} flags; "
          f"CPU here {best[1]:5.2f} s), floor {floor:6.2f} s ({floor_rows} rows; {per_rule}), "
          f"ratio {best[0] / floor:4.2f}", flush=True)
    engine.dispose()


def one_row_writes(url: str, stop: Any, out: Any) -> None:
    """Another agent: one-row writes, each in its own write transaction (the app's engine, so the app's busy
    handling), every 5 ms; sends back each one's start (monotonic clock, shared by the processes) and time."""
    writer = make_engine(url)
    with writer.connect():
        pass
    out.put("ready")
    waits = []
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            with writer.execution_options(write=True).begin() as conn:
                conn.execute(text("UPDATE accounts SET diamond_balance = diamond_balance "
                                  "WHERE account_id = 'acc_0000001'"))
        except OperationalError:  # "database is locked" after the busy timeout (30 s): counted as that long a wait
            pass
        waits.append((t0, time.monotonic() - t0))
        time.sleep(0.005)
    writer.dispose()
    out.put(waits)


def spread(waits: list[float]) -> str:
    """p50 / p99 / max of waits in seconds, in ms."""
    w = sorted(waits)
    if not w:
        return "-"
    return (f"p50 {w[len(w) // 2] * 1000:.1f} / p99 {w[min(len(w) - 1, len(w) * 99 // 100)] * 1000:.1f} / "
            f"max {w[-1] * 1000:.1f} ms")


class Watch:
    """What the rebuild does when (wrapping the service's steps from outside, this process only): the read (the
    rules and the plan), each chunk's write transaction (its lock hold, on SQLite from BEGIN IMMEDIATE to COMMIT),
    each checkpoint; and the log's size, every 10 ms (emptied first: its file never shrinks by itself)."""

    def __init__(self, url: str) -> None:
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else None
        self.wal = Path(f"{path}-wal") if path else None
        self.read: tuple[float, float] | None = None
        self.plan: review.Plan | None = None
        self.chunks: list[tuple[float, float]] = []
        self.checkpoints: list[float] = []
        self.wal_max = 0

    def __enter__(self) -> Watch:
        self.saved = review.plan, review.write_chunk, review._checkpoint

        def timed_plan(*args: Any, **kw: Any) -> Any:
            t0 = time.monotonic()
            try:
                self.plan = self.saved[0](*args, **kw)
                return self.plan
            finally:
                self.read = (t0, time.monotonic())

        def timed_chunk(*args: Any, **kw: Any) -> Any:
            t0 = time.monotonic()
            try:
                return self.saved[1](*args, **kw)
            finally:
                self.chunks.append((t0, time.monotonic()))
                self.sample()

        def timed_checkpoint(*args: Any, **kw: Any) -> Any:
            t0 = time.monotonic()
            try:
                return self.saved[2](*args, **kw)
            finally:
                self.checkpoints.append(time.monotonic() - t0)
                self.sample()

        review.plan, review.write_chunk, review._checkpoint = timed_plan, timed_chunk, timed_checkpoint
        self.running = True
        self.sampler = threading.Thread(target=self.sampling, daemon=True)
        self.sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        review.plan, review.write_chunk, review._checkpoint = self.saved
        self.running = False
        self.sampler.join()

    def sampling(self) -> None:
        while self.running:
            self.sample()
            time.sleep(0.01)

    def sample(self) -> None:
        if self.wal is not None and self.wal.exists():
            self.wal_max = max(self.wal_max, self.wal.stat().st_size)

    def where(self, t0: float) -> str:
        """When a wait began, said against the rebuild's steps."""
        if self.read and self.read[0] <= t0 <= self.read[1]:
            return f"{t0 - self.read[0]:.1f} s into the read"
        after = [(t0 - b, i) for i, (_a, b) in enumerate(self.chunks) if b <= t0]
        if after:
            gap, i = min(after)
            return f"{gap * 1000:.0f} ms after chunk {i + 1}"
        return "before the read" if self.read and t0 < self.read[0] else "after the read"

    def split(self, waits: list[tuple[float, float]]) -> dict[str, list[float]]:
        """The writer's waits by what the rebuild was doing when each began: reading, writing a chunk, between."""
        out: dict[str, list[float]] = {"read": [], "chunk": [], "between": []}
        for t0, w in waits:
            if self.read and self.read[0] <= t0 <= self.read[1]:
                out["read"].append(w)
            elif any(a <= t0 + w and t0 <= b for a, b in self.chunks):
                out["chunk"].append(w)  # it overlapped a chunk's write transaction
            else:
                out["between"].append(w)
        return out


def bare_begin(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, trying every millisecond (as the app's engine does; busy_timeout 0)."""
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
        time.sleep(0.001)


def bare_one_row_writes(path: str, stop: Any, out: Any) -> None:
    """The floor's other agent: the same one-row write every 5 ms on a bare sqlite3 connection (WAL, synchronous
    NORMAL), polling for the lock every millisecond."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("PRAGMA synchronous=NORMAL")
    out.put("ready")
    waits = []
    while not stop.is_set():
        t0 = time.monotonic()
        bare_begin(conn)
        conn.execute("UPDATE accounts SET diamond_balance = diamond_balance WHERE account_id = 'acc_0000001'")
        conn.execute("COMMIT")
        waits.append((t0, time.monotonic() - t0))
        time.sleep(0.005)
    conn.close()
    out.put(waits)


def bare_chunks(path: str, engine: Engine, plan: review.Plan, chunk: int = review.CHUNK) -> list[float]:
    """The floor's rebuild writes: the same rows (made ready first), the same chunks and pauses, on bare sqlite3
    connections, a read snapshot held meanwhile (as ours); each chunk's lock hold."""
    rows = review._writes(engine.dialect, plan.new, plan.changed, plan.gone)
    reader = sqlite3.connect(path, isolation_level=None)
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("PRAGMA synchronous=NORMAL")
    reader.execute("BEGIN")
    reader.execute("SELECT flag_id FROM review_flags LIMIT 1").fetchall()
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    holds = []
    for sql, values in rows:
        for start in range(0, len(values), chunk):
            time.sleep(review.GAP)
            t0 = time.monotonic()
            bare_begin(conn)
            conn.executemany(sql, values[start:start + chunk])
            conn.execute("COMMIT")
            holds.append(time.monotonic() - t0)
    reader.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    reader.close()
    conn.close()
    return holds


def bare_floor(url: str, engine: Engine, plan: review.Plan, rounds: int = 3) -> None:
    """The writer's waits against bare sqlite3 doing the rebuild's writes (no rules: the read holds no lock, so
    while ours reads the floor is the writer alone); `rounds` times, from an empty queue each."""
    path = url.removeprefix("sqlite:///")
    waits: list[tuple[float, float]] = []
    holds: list[float] = []
    for _ in range(rounds):
        clear_flags(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        ctx = multiprocessing.get_context("spawn")
        stop, out = ctx.Event(), ctx.Queue()
        writer = ctx.Process(target=bare_one_row_writes, args=(path, stop, out))
        writer.start()
        out.get()
        holds += bare_chunks(path, engine, plan)
        stop.set()
        waits += out.get()
        writer.join()
    print(f"  {'sqlite':10s} floor: a bare sqlite3 writer against bare sqlite3 writing the same "
          f"{len(holds) // rounds} chunks ({rounds} rounds, {len(waits)} writes): {spread([w for _, w in waits])}; "
          f"each chunk held the lock {spread(holds)}; load average "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}", flush=True)


def writer_wait(url: str, n: int, old_way: bool = True) -> None:
    """A one-row writer's waits while the queue is rebuilt: in one write transaction (the old way), then as
    `rebuild` does it; p50 / p99 / max, split by what the rebuild was doing; the chunks' lock holds, the
    checkpoints and the log's size."""
    engine = make_engine(url)

    def during(work: object) -> tuple[list[tuple[float, float]], float]:
        ctx = multiprocessing.get_context("spawn")  # another agent: its own process, its own GIL
        stop, out = ctx.Event(), ctx.Queue()
        writer = ctx.Process(target=one_row_writes, args=(url, stop, out))
        writer.start()
        out.get()  # connected and ready
        t0 = time.perf_counter()
        if callable(work):
            work()
        else:
            time.sleep(10)  # the writer alone: its own waits on this machine now (scheduling, the disk)
        took = time.perf_counter() - t0
        stop.set()
        waits = out.get()
        writer.join()
        return waits, took

    def old() -> None:
        with write_session(engine) as session:
            review.build(session)

    name = f"  {engine.dialect.name:10s} {n:>9,} purchases:"
    alone, _ = during(None)
    print(f"{name} a one-row write alone: {spread([w for _, w in alone])} ({len(alone)} writes)", flush=True)
    if old_way:
        clear_flags(engine)
        one, took = during(old)
        print(f"{name} during build in one transaction: longest {max(w for _, w in one) * 1000:.0f} ms "
              f"({len(one)} writes in {took:.1f} s)", flush=True)
    clear_flags(engine)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    load = Path("/proc/loadavg").read_text().split()[:3]
    with Watch(url) as watch:
        chunked, took = during(lambda: review.rebuild(engine))
    parts = watch.split(chunked)
    holds = [b - a for a, b in watch.chunks]
    print(f"{name} during rebuild ({len(chunked)} writes in {took:.1f} s): {spread([w for _, w in chunked])}; "
          f"while reading {spread(parts['read'])}, behind a chunk {spread(parts['chunk'])}, "
          f"between chunks {spread(parts['between'])}", flush=True)
    longest = sorted(chunked, key=lambda tw: -tw[1])[:3]
    print(f"{name} the longest waits: " + "; ".join(f"{w * 1000:.1f} ms ({watch.where(t0)})" for t0, w in longest),
          flush=True)
    print(f"{name} rebuild: read {watch.read[1] - watch.read[0] if watch.read else 0:.1f} s; {len(holds)} chunks, "
          f"each held the lock {spread(holds)}; {len(watch.checkpoints)} checkpoints, "
          f"{spread(watch.checkpoints)}; log at most {watch.wal_max / 2**20:.1f} MiB; "
          f"load average {' '.join(load)} before, {' '.join(Path('/proc/loadavg').read_text().split()[:3])} after",
          flush=True)
    if engine.dialect.name == "sqlite" and watch.plan is not None:
        bare_floor(url, engine, watch.plan)
    engine.dispose()


def plant_flags(engine: Engine, k: int) -> None:
    """K open flags with evidence the size the rules write (velocity: six purchases)."""
    purchase = {"purchase_id": "pur_00000001", "store": "web", "store_transaction_id": "ch_00000001",
                "product_id": "coins_70", "coins": 70, "price_minor": 99, "currency": "USD", "country": "US",
                "purchased_at": "2026-01-01T00:00:00Z", "status": "completed", "usd_minor": 99}
    evidence = {"purchases": [purchase] * 6, "count": 6, "usd_minor": 594, "window_hours": 24,
                "limits": {"purchases": 5, "usd_minor": 50000}, "without_rate": []}
    table = review.ReviewFlag.__table__
    clear_flags(engine)
    with engine.begin() as conn:
        rows = [{"flag_id": f"flg_bench_{i:07d}", "rule": "velocity", "account_id": f"acc_{i % 1000:07d}",
                 "purchase_id": None, "score": 40 + i % 50, "evidence": evidence, "status": "open",
                 "created_at": T0} for i in range(k)]
        for start in range(0, k, 5000):
            conn.execute(table.insert(), rows[start:start + 5000])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # What autovacuum does after a bulk insert (PostgreSQL): visibility map and statistics, so the counts
        # are an index-only scan.
        conn.exec_driver_sql("ANALYZE" if engine.dialect.name == "sqlite" else "VACUUM ANALYZE review_flags")


def queue_pages(url: str, k: int, tui: bool) -> None:
    from supportdesk.db.engine import read_session

    engine = make_engine(url)
    plant_flags(engine, k)
    best = {}
    for name, work in (("page", lambda s: (review.page(s), review.counts(s))), ("whole", review.queue)):
        for _ in range(3 if name == "page" else 1):  # the page first: the whole queue leaves a heap to collect
            t0 = time.perf_counter()
            with read_session(engine) as s:
                result = work(s)
            best[name] = min(best.get(name, 1e9), time.perf_counter() - t0)
    count = len(result)
    del result
    with read_session(engine) as s:
        page = review.page(s)
        last = page[-1]
        t0 = time.perf_counter()
        review.page(s, after=(last["score"], last["flag_id"]))
        second = time.perf_counter() - t0
    print(f"  {engine.dialect.name:10s} {k:>9,} open flags: first page + counts {best['page'] * 1000:6.1f} ms, next "
          f"page {second * 1000:5.1f} ms; the whole queue as review.queue reads it {best['whole']:5.2f} s "
          f"({count} flags)", flush=True)
    if tui:
        out = subprocess.run([sys.executable, __file__, "--tui-rss", url], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
        print(f"  {engine.dialect.name:10s} {k:>9,} open flags: TUI {out.stdout.strip() or out.stderr[-500:]}",
              flush=True)
    engine.dispose()


def tui_rss(url: str) -> None:
    """Open the review queue in the app (a Pilot at 80x24), wait for the first page; print time and max RSS."""
    import asyncio

    from supportdesk.cli.context import AppContext
    from supportdesk.config import Settings
    from supportdesk.tui.app import SupportDeskApp
    from supportdesk.tui.screens.review import ReviewScreen

    state = AppContext(_settings=Settings(database_url=url, actor="bench"))
    app = SupportDeskApp(state)

    async def main() -> float:
        async with app.run_test(size=(80, 24)) as pilot:
            t0 = time.perf_counter()
            app.action_review_queue()
            while not (isinstance(app.screen, ReviewScreen) and app.screen.flags):
                await pilot.pause(0.01)
            took = time.perf_counter() - t0
            await pilot.press(*["down"] * 150)  # into the second page
            await app.workers.wait_for_complete()
            await pilot.pause()
            return took

    took = asyncio.run(main())
    # VmHWM, not ru_maxrss: that one keeps the forking parent's size across exec.
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    rss = int(hwm.split()[1]) / 1024
    print(f"open to first page {took * 1000:.0f} ms, max RSS {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--pg", help="a PostgreSQL database URL (emptied first)")
    parser.add_argument("--sizes", default="both", choices=("both", "small", "large"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-build", action="store_true", help="skip ours vs the floor")
    parser.add_argument("--writer", action="store_true", help="measure a one-row writer's wait during a rebuild")
    parser.add_argument("--no-old", action="store_true", help="with --writer: skip the old one-transaction build")
    parser.add_argument("--flags", type=int, help="measure the queue's first page with this many open flags")
    parser.add_argument("--tui", action="store_true", help="with --flags: the TUI's memory too")
    parser.add_argument("--tui-rss", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tui_rss:
        tui_rss(args.tui_rss)
        return
    sizes = {"both": (args.purchases // 10, args.purchases), "small": (args.purchases // 10,),
             "large": (args.purchases,)}[args.sizes]
    targets = ([] if args.no_sqlite else [None]) + ([args.pg] if args.pg else [])
    for target in targets:
        for n in sizes:
            url = prepared(target, n)
            if not args.no_build:
                run(url, n)
            if args.writer:
                writer_wait(url, n, old_way=not args.no_old)
            if args.flags:
                queue_pages(url, args.flags, args.tui)


if __name__ == "__main__":
    main()
