"""Opening one account with a long history: `desk.accounts.story` (what `supportdesk account` and the TUI load: its
session and the typed result included) vs the same
reads done the simplest fast way, raw SQL on a raw DBAPI connection, in the same run; and the TUI from
`open_account` to idle (story loaded, the visible tab filled) vs a bare Textual app filling one table with the same
page of rows.

The screen opens with the story without the ledger sum (cached balances), then checks the ledger (sum and count per
asset, drift) in the background: each is measured, and the whole story as `account --json` reads it.
The floor reads what the story shows: the account; the newest page of the ledger;
the newest purchases (with the region rows their verdicts need), gifts sent and received, cashouts, tickets,
refunds, flags; the last status change and the store records for the summary; the sum and count per asset. Each statement is the obvious
indexed query (same columns, same order, same limits); the two alternate, warm, several rounds, median.

python bench/bench_account.py [--entries 200000] [--pg URL] [--rounds 15]
    --pg: a server URL (like SUPPORTDESK_TEST_PG_URL); a fresh database is made on it for the run and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, make_url, text  # noqa: E402

from supportdesk.db.engine import make_engine, normalise_url, read_session  # noqa: E402
from supportdesk.db.schema import ensure_schema  # noqa: E402
from supportdesk.desk import Desk  # noqa: E402
from supportdesk.desk.accounts import AccountStory, LedgerCheck  # noqa: E402
from supportdesk.desk.context import AppContext  # noqa: E402
from supportdesk.services import lookup  # noqa: E402
from supportdesk.services.importer import run_import  # noqa: E402

T = "2026-06-01T12:00:00Z"
BIG = "acc_big"
CREATORS = 20
OTHERS = 2000  # other accounts, each with a purchase and its entry, so the big one is not the whole table

CHECK = "SELECT asset, coalesce(sum(amount), 0), count(*) FROM ledger_entries WHERE account_id = {p} GROUP BY asset"
FLOOR = [  # what the screen opens with: {p} is the driver's placeholder (the ledger sum is CHECK, measured apart)
    ("SELECT * FROM accounts WHERE account_id = {p}", 1),
    ("SELECT * FROM ledger_entries WHERE account_id = {p} ORDER BY seq DESC LIMIT 201", 1),
    ("SELECT * FROM purchases WHERE account_id = {p} ORDER BY purchased_at DESC LIMIT 500", 1),
    ("SELECT * FROM regions WHERE country IN (SELECT DISTINCT country FROM purchases WHERE account_id = {p})", 1),
    ("SELECT * FROM gift_events WHERE sender_id = {p} ORDER BY at DESC LIMIT 500", 1),
    ("SELECT * FROM gift_events WHERE creator_id = {p} ORDER BY at DESC LIMIT 500", 1),
    ("SELECT * FROM cashouts WHERE creator_id = {p} ORDER BY at DESC LIMIT 500", 1),
    ("SELECT * FROM tickets WHERE account_id = {p} ORDER BY created_at DESC LIMIT 500", 1),
    ("SELECT r.* FROM refunds r JOIN purchases p ON p.purchase_id = r.purchase_id WHERE p.account_id = {p} "
     "LIMIT 500", 1),
    ("SELECT * FROM review_flags WHERE account_id = {p} ORDER BY score DESC, flag_id", 1),
    ("SELECT * FROM audit_log WHERE target = {p} AND action = 'account.status' ORDER BY seq DESC LIMIT 1", 1),
    ("SELECT store_transaction_id, state, raw FROM store_records WHERE account_id = {p}", 1),
]


def write(root: Path, entries: int) -> Path:
    """@big: a few purchases and then gifts, `entries` ledger entries in all; creators receive the gifts."""
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "regions.jsonl").write_text(json.dumps({
        "country": "US", "currency": "USD", "coin_purchase": True, "gifting": True, "cashout": True,
        "min_age": 18, "stores": ["apple", "google", "web"], "valid_from": "2024-01-01T00:00:00Z"}) + "\n")
    (app / "price_points.jsonl").write_text("")
    (app / "gifts.jsonl").write_text(json.dumps({"gift_id": "rose", "name": "Rose", "coins": 1, "diamonds": 0}) + "\n")
    purchases = max(1, entries // 100)
    gifts = entries - purchases
    acc = {"country": "US", "status": "active", "created_at": T, "birth_date": "1990-01-01"}
    with (app / "accounts.jsonl").open("w") as fh:
        fh.write(json.dumps({"account_id": BIG, "handle": "@big", "email": "big@example.com", "kind": "viewer",
                             "coin_balance": purchases * 7000 - gifts, "diamond_balance": 0, **acc}) + "\n")
        for c in range(CREATORS):
            fh.write(json.dumps({"account_id": f"acc_cr{c:03d}", "handle": f"@creator{c}", "kind": "creator",
                                 "email": f"cr{c}@example.com", "coin_balance": 0,
                                 "diamond_balance": len(range(c, gifts, CREATORS)), **acc}) + "\n")
        for i in range(OTHERS):
            fh.write(json.dumps({"account_id": f"acc_{i:06d}", "handle": f"@fan{i}", "email": f"f{i}@example.com",
                                 "kind": "viewer", "coin_balance": 70, "diamond_balance": 0, **acc}) + "\n")
    with (app / "purchases.jsonl").open("w") as fh:
        for i in range(purchases):
            fh.write(json.dumps({
                "purchase_id": f"pur_b{i:07d}", "account_id": BIG, "store": "web", "store_transaction_id": f"ch_b{i:07d}",
                "product_id": "coins_7000", "coins": 7000, "price_minor": 9999, "currency": "USD", "country": "US",
                "purchased_at": f"2026-05-{1 + i % 28:02d}T10:00:00Z", "status": "completed"}) + "\n")
        for i in range(OTHERS):
            fh.write(json.dumps({
                "purchase_id": f"pur_{i:07d}", "account_id": f"acc_{i:06d}", "store": "web",
                "store_transaction_id": f"ch_{i:07d}", "product_id": "coins_70", "coins": 70, "price_minor": 99,
                "currency": "USD", "country": "US", "purchased_at": T, "status": "completed"}) + "\n")
    with (app / "ledger.jsonl").open("w") as fh, (app / "gift_events.jsonl").open("w") as ev:
        def entry(eid: str, account: str, asset: str, amount: int, kind: str, ref: str, at: str) -> None:
            fh.write(json.dumps({"entry_id": eid, "account_id": account, "asset": asset, "amount": amount,
                                 "kind": kind, "ref": ref, "at": at, "actor": "system"}) + "\n")

        for i in range(purchases):
            entry(f"le_p{i:08d}", BIG, "coin", 7000, "purchase", f"pur_b{i:07d}", "2026-05-01T10:00:00Z")
        for i in range(OTHERS):
            entry(f"le_o{i:08d}", f"acc_{i:06d}", "coin", 70, "purchase", f"pur_{i:07d}", T)
        for i in range(gifts):
            at = f"2026-05-{1 + (i * 28) // gifts:02d}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z"
            creator = f"acc_cr{i % CREATORS:03d}"
            ev.write(json.dumps({"event_id": f"ev_{i:08d}", "sender_id": BIG, "creator_id": creator,
                                 "gift_id": "rose", "quantity": 1, "coins": 1, "diamonds": 1, "at": at}) + "\n")
            entry(f"le_s{i:08d}", BIG, "coin", -1, "gift_sent", f"ev_{i:08d}", at)
            entry(f"le_r{i:08d}", creator, "diamond", 1, "gift_received", f"ev_{i:08d}", at)
    return root


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def measure(url: str, root: Path, rounds: int) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    t0 = time.perf_counter()
    run_import(engine, root)
    name = engine.dialect.name
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if name == "postgresql" else "ANALYZE"))
    with read_session(engine) as session:
        total = session.execute(text("SELECT count(*) FROM ledger_entries WHERE account_id = :a"), {"a": BIG}).scalar()
    print(f"{name}: imported in {time.perf_counter() - t0:.1f} s; @big has {total:,} ledger entries")
    param = "?" if name == "sqlite" else "%s"

    ctx = AppContext(db_url=url)
    ctx.engine = engine  # type: ignore[misc]
    accounts = Desk(ctx).accounts  # what the CLI and the TUI call: the typed story, its session included

    def opened() -> AccountStory:
        return accounts.story(BIG, check_ledger=False)

    def checked() -> LedgerCheck:
        return accounts.ledger_check(BIG)

    def whole() -> AccountStory:
        return accounts.story(BIG)

    story = whole()
    assert len(story.ledger) == lookup.LEDGER_PAGE and story.ledger_total == total
    for label, ours, statements in (("story (opens the screen)", opened, FLOOR),
                                    ("ledger check (after it)", checked, [(CHECK, 1)]),
                                    ("story --json (both)", whole, [*FLOOR, (CHECK, 1)])):
        o, f = pair(engine, ours, statements, param, rounds)
        print(f"  {label:26s} ours {o:7.1f} ms  floor {f:6.1f} ms  ratio {o / f:4.2f}  (median of {rounds})")
    tui(engine, rounds=max(3, rounds // 3))
    engine.dispose()


def pair(engine, ours, statements, param: str, rounds: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Ours and the raw floor, alternating, warm (the first pair is dropped): medians in ms."""
    raw = engine.raw_connection()
    mine, floor = [], []
    for i in range(rounds * 2 + 2):
        if i % 2 == 0:
            cur = raw.cursor()
            start = time.perf_counter()
            for sql, _ in statements:
                cur.execute(sql.format(p=param), (BIG,))
                cur.fetchall()
            floor.append(time.perf_counter() - start)
            raw.rollback()
        else:
            start = time.perf_counter()
            ours()
            mine.append(time.perf_counter() - start)
    raw.close()
    return median_ms(mine[1:]), median_ms(floor[1:])


def tui(engine, rounds: int) -> None:  # type: ignore[no-untyped-def]
    """From `open_account` to idle (the story loaded, the visible tab filled, the ledger checked), wall and CPU,
    vs two floors, the same rows given (no database): a bare app filling one DataTable, and a bare app pushing a
    screen with the account screen's widget tree (three lines, six tabs of tables, the side panel of two tables,
    a footer) and filling its first table. Each app freezes its start-up heap out of the collector as ours does."""
    import gc

    from textual.app import App, ComposeResult
    from textual.containers import Horizontal, Vertical
    from textual.screen import Screen
    from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

    from supportdesk.config import Settings
    from supportdesk.tui.app import SupportDeskApp

    def fill(table: DataTable[str], rows: int) -> None:
        table.add_columns(*(f"c{i}" for i in range(10)))
        for r in range(rows):
            table.add_row(*(f"r{r}c{i}" for i in range(10)))

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

        def on_mount(self) -> None:
            gc.freeze()

    class Tree(Screen[None]):
        def __init__(self, rows: int) -> None:
            super().__init__()
            self.rows = rows

        def compose(self) -> ComposeResult:
            with Vertical():
                yield Static("@big acc_big active US viewer big@example.com")
                yield Static("coins ledger checking…\ndiamonds ledger checking…")
                yield Static("no flags or refunds · spent 199,980.00 USD")
                with Horizontal():
                    with TabbedContent():
                        for name in ("purchases", "ledger", "gifts", "cashouts", "tickets", "summary"):
                            with TabPane(name.title(), id=name):
                                yield DataTable(id=f"{name}-table")
                    with Vertical():
                        yield Static("status active")
                        yield DataTable()
                        yield DataTable()
                        yield Static("h hold · l release · x reject")
            yield Footer(compact=True)

        def on_mount(self) -> None:
            tabs = self.query_one(TabbedContent)
            tabs.hide_tab("cashouts")
            tabs.hide_tab("summary")
            fill(self.query_one("#purchases-table", DataTable), self.rows)

    async def ours() -> tuple[float, float, float]:
        """(shown: the story on screen with the visible tab filled, idle: the ledger checked too, CPU to idle)."""
        state = AppContext(_settings=Settings(database_url=str(engine.url), actor="bench"))
        state.engine = engine  # type: ignore[misc]
        app = SupportDeskApp(state)
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            start, cpu = time.perf_counter(), time.process_time()
            app.open_account(BIG)
            shown = None
            while (story := getattr(app.screen, "story", None)) is None or story.ledger_total is None:
                if story is not None and shown is None:
                    shown = time.perf_counter() - start
                await pilot.pause(0.001)
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            idle = time.perf_counter() - start
            return shown or idle, idle, time.process_time() - cpu

    async def bare(rows: int, tree: bool) -> tuple[float, float]:
        app = Bare()
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            start, cpu = time.perf_counter(), time.process_time()
            if tree:
                await app.push_screen(Tree(rows))
            else:
                fill(app.query_one(DataTable), rows)
            await pilot.pause()
            return time.perf_counter() - start, time.process_time() - cpu

    with read_session(engine) as session:
        rows = len(lookup.story(session, BIG)["purchases"])
    shown: list[float] = []
    idle: list[float] = []
    cpu: list[float] = []
    floor: list[float] = []
    floor_cpu: list[float] = []
    tree: list[float] = []
    tree_cpu: list[float] = []
    for _ in range(rounds):
        for wall, spent, is_tree in ((floor, floor_cpu, False), (tree, tree_cpu, True)):
            w, c = asyncio.run(bare(rows, is_tree))
            wall.append(w)
            spent.append(c)
        s, i, c = asyncio.run(ours())
        shown.append(s)
        idle.append(i)
        cpu.append(c)
    f, t = median_ms(floor), median_ms(tree)
    print(f"  TUI open→shown {median_ms(shown):7.1f} ms, →idle {median_ms(idle):7.1f} ms (CPU {median_ms(cpu):6.1f} ms); "
          f"a bare app filling a table of {rows} rows {f:6.1f} ms (CPU {median_ms(floor_cpu):6.1f} ms), the same "
          f"widget tree {t:6.1f} ms (CPU {median_ms(tree_cpu):6.1f} ms); ratio (idle) {median_ms(idle) / f:4.2f}, "
          f"to the tree {median_ms(idle) / t:4.2f}, CPU to the tree {median_ms(cpu) / median_ms(tree_cpu):4.2f}  "
          f"(median of {rounds})")


def pg_database(server: str) -> tuple[str, str]:
    name = f"bench_account_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(normalise_url(server)).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False), name


def drop(server: str, name: str) -> None:
    admin = create_engine(make_url(normalise_url(server)).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--pg", help="PostgreSQL server URL; a database is created on it and dropped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp) / "ds", args.entries)
        measure(f"sqlite:///{tmp}/account.db", root, args.rounds)
        if args.pg:
            url, name = pg_database(args.pg)
            try:
                measure(url, root, args.rounds)
            finally:
                drop(args.pg, name)


if __name__ == "__main__":
    main()
