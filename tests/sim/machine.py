"""The simulation: random sequences of imports, store-side events, syncs, reconcile runs and fixes, refunds, review
decisions, goodwill credits, crashes and concurrent agents; every invariant checked after every step.

In the spirit of TigerBeetle's simulator: the world (tests/sim/world.py) is the independent source of truth, the
service entry points the CLI and the TUI use are driven as they are in production, and faults are injected
between and inside steps. `HOSTILE` adds the inputs that issue 11 found the app trusts blindly.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select, text
from sqlmodel import Session

from supportdesk.db.engine import make_engine, read_session, write_session
from supportdesk.db.models import LedgerEntry, Purchase, ReviewFlag
from supportdesk.db.schema import ensure_schema
from supportdesk.domain.findings import Finding
from supportdesk.domain.ledger import Posting
from supportdesk.errors import ImportFailed, SupportdeskError
from supportdesk.services import ledger, refund_protocol, refunds, review
from supportdesk.services.audit import ActionContext
from supportdesk.services.fixes import apply_fix
from supportdesk.services.importer import run_import
from supportdesk.services.reconcile import ReconcileResult
from supportdesk.stores.upsert import upsert_batch
from tests.conftest import drop_database, new_database_url
from tests.sim import world
from tests.sim.agents import agent, detect, fix
from tests.sim.faults import SimCrash, crash_at_audit, run_together
from tests.sim.invariants import Expectation, check_all, ledger_of, snapshot
from tests.sim.world import NOW, PRODUCTS, Charge, FakeGoogle, FakeWeb, Stores

REFUND_CAUSES = ("remorse", "duplicate", "fraud", "other")
SUMMED = {"missing_purchase", "uncredited_purchase", "duplicate_credit", "unapplied_refund"}
_templates: dict[str, Path] = {}
STATS = os.environ.get("SUPPORTDESK_SIM_STATS")  # a file for a long run's step and check counts


def sqlite_template() -> Path:
    if "sqlite" not in _templates:
        path = Path(tempfile.mkdtemp(prefix="sdsim-tmpl")) / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        ensure_schema(engine)
        engine.dispose()
        _templates["sqlite"] = path
    return _templates["sqlite"]


class Simulation(RuleBasedStateMachine):
    backend = "sqlite"
    pg_template: str | None = None
    HOSTILE = False
    steps = 0
    checks: Any = None  # a Counter shared by the run, for the report

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="sdsim"))
        if self.backend == "sqlite":
            shutil.copy(sqlite_template(), self.tmp / "test.db")
        self.url, self.dbname = new_database_url(self.backend, self.tmp, self.pg_template)
        self.engine = make_engine(self.url)
        self.stores, self.expect = Stores(), Expectation()
        if Simulation.checks is not None:
            self.expect.checks = Simulation.checks
        self.accounts: list[str] = []
        self.n = 0

    def teardown(self) -> None:
        self.engine.dispose()
        drop_database(self.dbname)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def next_id(self) -> int:
        self.n += 1
        return self.n

    # -- imports --------------------------------------------------------------------------------------------------
    @initialize()
    def catalog(self) -> None:
        self.import_rows({"accounts": [], "purchases": [], "ledger": []})

    def import_rows(self, rows: dict[str, list[dict[str, Any]]]) -> bool:
        """Import; a refused import changes nothing."""
        before = snapshot(self.engine)
        path = world.write_dataset(self.tmp / f"ds{self.next_id()}", rows)
        try:
            run_import(self.engine, path)
        except ImportFailed:
            assert snapshot(self.engine) == before, "a refused import changed the database"
            return False
        return True

    def new_charge(self, account_id: str, product: tuple[str, str], days: int, price: int | None = None) -> Charge:
        store, name = product
        listed = world.CATALOG[product][0]
        txn = f"ch_sim{self.next_id()}" if store == "web" else f"GPA.{self.next_id():04d}-0000-0000-00000"
        return self.stores.add(Charge(store, txn, account_id, name, listed if price is None else price,
                                      NOW - timedelta(days=days, hours=self.n % 24)))

    @rule(bought=st.lists(st.tuples(st.sampled_from(PRODUCTS), st.integers(1, 20)), max_size=3),
          drift=st.sampled_from([0, 0, 0, 40]), gift=st.booleans())
    def import_account(self, bought: list[tuple[tuple[str, str], int]], drift: int, gift: bool = False) -> None:
        """A new account with its purchases and their credits, as the app exports them; maybe a drifted balance,
        maybe a gift to a new creator paid with the first bundle's coins."""
        account_id = f"acc_{self.next_id():04d}"
        purchases, credits = [], []
        for product, days in bought:
            c = self.new_charge(account_id, product, days)
            pid = f"pur_sim{self.next_id()}"
            purchases.append(world.purchase_row(pid, c, c.coins or 0))
            credits.append(world.credit_row(f"le_sim{self.next_id()}", account_id, c.coins or 0, pid, c.purchased_at))
        rows: dict[str, list[dict[str, Any]]] = {"accounts": [], "purchases": purchases, "ledger": credits}
        creator = f"acc_{self.next_id():04d}" if gift and credits else None
        if creator:  # a lion (60 coins) an hour after the first purchase: every bundle has at least 70
            gifts = world.gift_rows(f"ev_sim{self.next_id()}", account_id, creator,
                                    self.stores.charges[purchases[0]["store_transaction_id"]].purchased_at
                                    + timedelta(hours=1))
            rows.update(gift_events=gifts["gift_events"], ledger=credits + gifts["ledger"])
            rows["accounts"].append(world.account_row(creator, 0, 30))
        total = sum(r["amount"] for r in rows["ledger"] if r["account_id"] == account_id)
        rows["accounts"].append(world.account_row(account_id, total + drift))
        if self.import_rows(rows):
            self.accounts += [account_id, *([creator] if creator else [])]
            if drift:
                self.expect.drift[(account_id, "coin")] = drift

    @precondition(lambda self: self.HOSTILE)
    @rule(kind=st.sampled_from(["dangling", "over_credit", "misdirected"]), product=st.sampled_from(PRODUCTS),
          days=st.integers(1, 20))
    def import_hostile(self, kind: str, product: tuple[str, str], days: int) -> None:
        """Issue 11 item 1 (a credit naming a purchase not in the data) and import-time meaning (amount, account)."""
        buyer, other = f"acc_{self.next_id():04d}", f"acc_{self.next_id():04d}"
        c = self.new_charge(buyer, product, days)
        pid = f"pur_sim{self.next_id()}"
        coins = c.coins or 0
        purchases = [] if kind == "dangling" else [world.purchase_row(pid, c, coins)]
        amount = coins + 100_000 if kind == "over_credit" else coins
        to = other if kind == "misdirected" else buyer
        credit = world.credit_row(f"le_sim{self.next_id()}", to, amount, pid, c.purchased_at)
        rows = {"accounts": [world.account_row(buyer, amount if to == buyer else 0),
                             world.account_row(other, amount if to == other else 0)],
                "purchases": purchases, "ledger": [credit]}
        if self.import_rows(rows):
            self.accounts += [buyer, other]
            self.expect.charge_of_ref[pid] = c.txn

    # -- the stores ------------------------------------------------------------------------------------------------
    @precondition(lambda self: self.accounts)
    @rule(data=st.data(), product=st.sampled_from(PRODUCTS), days=st.integers(0, 20))
    def store_charge(self, data: st.DataObject, product: tuple[str, str], days: int) -> None:
        """A charge at its listed price that our side never recorded (the app crashed before crediting)."""
        self.new_charge(data.draw(st.sampled_from(self.accounts)), product, days)

    @precondition(lambda self: self.HOSTILE and self.accounts)
    @rule(data=st.data(), product=st.sampled_from(PRODUCTS), price=st.sampled_from([1, 0, -499, 5000]))
    def mispriced_charge(self, data: st.DataObject, product: tuple[str, str], price: int) -> None:
        """Issue 11 item 2: a charge no price point in force allows."""
        self.new_charge(data.draw(st.sampled_from(self.accounts)), product, 2, price=price)

    def open_charges(self) -> list[Charge]:
        return [c for c in self.stores.open() if c.price > 0]

    @precondition(lambda self: self.open_charges())
    @rule(data=st.data(), event=st.sampled_from(["refund", "partial_refund", "dispute_lost", "dispute_won"]))
    def store_event(self, data: st.DataObject, event: str) -> None:
        """The store acts on its own: a refund or void (of a web charge refunded in part before, too: another
        part or the rest), a lost or won dispute."""
        if event.startswith("dispute"):
            c = data.draw(st.sampled_from(self.open_charges()))
            self.stores.dispute(c.txn, lost=event == "dispute_lost")
        else:
            c = data.draw(st.sampled_from([c for c in self.stores.refundable() if c.price > 0]))
            self.stores.refund(c.txn, c.price // 3 if event == "partial_refund" else c.price, "requested_by_customer")

    def partly_refunded(self) -> list[Charge]:
        return [c for c in self.stores.refundable() if c.state == "refunded"]

    @precondition(lambda self: self.partly_refunded())
    @rule(data=st.data(), rest=st.booleans())
    def store_refunds_more(self, data: st.DataObject, rest: bool) -> None:
        """The processor refunds another part of a charge it refunded in part before, or the rest."""
        c = data.draw(st.sampled_from(self.partly_refunded()))
        self.stores.refund(c.txn, c.price if rest else c.price // 3, "requested_by_customer")

    @rule(store=st.sampled_from([None, "web", "google"]))
    def sync(self, store: str | None) -> None:
        """What `supportdesk sync` writes: the stores' changed records, upserted in one batch per store."""
        for name in ("web", "google"):
            if store not in (None, name):
                continue
            batch, charges = [], self.stores.unsynced(name)
            for c in charges:
                try:
                    batch.append(c.record())
                except SupportdeskError:  # the normaliser refused a record the store sent: nothing written
                    continue
            before = ledger_of(self.engine)
            try:
                upsert_batch(self.engine, batch, now=NOW)
            except SupportdeskError:  # a refused batch is rolled back whole
                continue
            assert ledger_of(self.engine) == before, "a sync moved money"
            for c in charges:
                c.synced = c.version

    # -- reconcile -------------------------------------------------------------------------------------------------
    @rule()
    def detect_only(self) -> None:
        before = snapshot(self.engine)
        detect(self.engine)
        assert snapshot(self.engine) == before, "a detection-only reconcile changed the database"

    @rule(lead=st.booleans(), interleave=st.booleans())
    def fix_findings(self, lead: bool, interleave: bool) -> None:
        """Detect, confirm every fixable finding, fix; only what was confirmed may move, by its confirmed amount."""
        confirmed = [f for f in detect(self.engine) if f.fixable]
        before = ledger_of(self.engine)
        if interleave and self.HOSTILE and self.accounts:  # issue 11 item 3: the world moves after the confirmation
            self.new_charge(self.accounts[0], PRODUCTS[0], 1)
            self.sync(None)
        done = fix(self.engine, confirmed, agent("lead" if lead else "agent"))
        self.check_fixed(before, [done], confirmed)
        if not interleave:  # converged: a confirmed fix is done, or the agent was told why not
            failed = {f["idempotency_key"] for f in done.failed}
            left = [f.key for f in detect(self.engine) if f.fixable and f.key in {c.key for c in confirmed}]
            assert set(left) <= failed, f"fixed without a failure, still found: {sorted(set(left) - failed)}"

    def check_fixed(self, before: tuple[Any, ...], results: list[ReconcileResult], confirmed: list[Finding]) -> None:
        keys = {f.key: f for f in confirmed}
        known = {entry_id for entry_id, _ in before}
        moved: dict[str, int] = {}
        with read_session(self.engine) as s:
            for e in s.execute(select(LedgerEntry).order_by(LedgerEntry.seq)).scalars():
                if e.entry_id in known:
                    continue
                key = (e.idempotency_key or "").rsplit("#", 1)[0]
                assert key in keys, f"entry {e.entry_id} ({e.kind} {e.amount}) was never confirmed (key {key!r})"
                if e.asset == "coin":
                    moved[key] = moved.get(key, 0) + e.amount
        for key, amount in moved.items():
            f = keys[key]
            if f.kind in SUMMED:
                assert amount == f.coins, f"{f.kind} {key}: confirmed {f.coins:+,} coins, moved {amount:+,}"
            if f.kind == "unapplied_refund" and "clawed" in f.detail:  # a refund that grew after its clawback
                self.expect.checks["refund_grown_clawed"] += 1
        for result in results:
            for a in result.applied:
                if a["kind"] == "balance_drift":
                    self.expect.drift.pop((a["account_id"], a["asset"]), None)

    # -- refunds, goodwill, review ---------------------------------------------------------------------------------
    def completed(self) -> list[str]:
        with read_session(self.engine) as s:
            return list(s.execute(select(Purchase.purchase_id).where(Purchase.status == "completed",
                                                                     Purchase.store != "apple")
                                  .order_by(Purchase.purchase_id)).scalars())

    def clients(self) -> dict[str, Any]:
        return {"web": FakeWeb(self.stores), "google": FakeGoogle(self.stores)}

    def refund(self, purchase_id: str, cause: str, ctx: ActionContext, key: str | None = None) -> None:
        with read_session(self.engine) as s:
            refunds.decide(s, purchase_id, NOW, cause=cause)
        try:
            refund_protocol.apply(self.engine, purchase_id, ctx, None, self.clients(), now=NOW, cause=cause, key=key)
        except SupportdeskError:  # denied, needs a lead, the store refused or did not answer: all allowed
            pass

    @rule(data=st.data(), cause=st.sampled_from(REFUND_CAUSES), lead=st.booleans())
    def agent_refund(self, data: st.DataObject, cause: str, lead: bool) -> None:
        targets = self.completed()
        if targets:
            self.refund(data.draw(st.sampled_from(targets)), cause, agent("lead" if lead else "agent"))

    @precondition(lambda self: self.accounts)
    @rule(data=st.data(), amount=st.sampled_from([1, 100, 4999, 6000]), lead=st.booleans())
    def goodwill(self, data: st.DataObject, amount: int, lead: bool) -> None:
        account_id = data.draw(st.sampled_from(self.accounts))
        try:
            with write_session(self.engine) as s:
                ledger.post(s, [Posting(account_id, "coin", amount, "grant")], agent("lead" if lead else "agent"),
                            key=f"sim:grant:{self.next_id()}")
        except SupportdeskError:
            pass

    @rule(data=st.data(), action=st.sampled_from(["dismiss", "confirm", "limit", "suspend"]), lead=st.booleans())
    def review_decision(self, data: st.DataObject, action: str, lead: bool) -> None:
        before = ledger_of(self.engine)
        with write_session(self.engine) as s:
            review.build(s)
        with read_session(self.engine) as s:
            flags = list(s.execute(select(ReviewFlag.flag_id).where(ReviewFlag.status == "open")
                                   .order_by(ReviewFlag.flag_id)).scalars())
        if flags:
            try:
                with write_session(self.engine) as s:
                    review.act(s, data.draw(st.sampled_from(flags)), action, agent("lead" if lead else "agent"))
            except SupportdeskError:
                pass
        assert ledger_of(self.engine) == before, "a review decision moved money"

    @precondition(lambda self: self.accounts)
    @rule(data=st.data())
    def external_drift(self, data: st.DataObject) -> None:
        """Something outside the app moves a cached balance (the cause of a real balance drift)."""
        account_id = data.draw(st.sampled_from(self.accounts))
        delta = 1000 + self.next_id()  # never the same numbers twice: a repeat is HOSTILE's drift_again
        self.move_cached(account_id, delta)

    def move_cached(self, account_id: str, delta: int) -> None:
        with write_session(self.engine) as s:
            s.execute(text("UPDATE accounts SET coin_balance = coin_balance + :d WHERE account_id = :a"),
                      {"d": delta, "a": account_id})
        key = (account_id, "coin")
        self.expect.drift[key] = self.expect.drift.get(key, 0) + delta

    @precondition(lambda self: self.HOSTILE and self.accounts)
    @rule(data=st.data())
    def drift_again(self, data: st.DataObject) -> None:
        """Issue 11 item 5: the same drift, with the same numbers, after it was fixed and the ledger moved on."""
        self.recur_drift(data.draw(st.sampled_from(self.accounts)))

    def recur_drift(self, account_id: str) -> None:
        """New entries that leave both balances as they were (a goodwill credit and its correction), then the
        cached balance off by 40 again: the same numbers as a drift fixed before, under a later ledger state.
        (The same numbers with no new entry in between keep the old key: a replay, by design.)"""
        n = self.next_id()
        with write_session(self.engine) as s:
            ledger.post(s, [Posting(account_id, "coin", 25, "grant"), Posting(account_id, "coin", -25, "adjustment")],
                        agent("lead"), key=f"sim:regrant:{n}")
        self.move_cached(account_id, 40)

    # -- crashes ---------------------------------------------------------------------------------------------------
    @rule(data=st.data(), op=st.sampled_from(["fix", "grant", "refund"]), call=st.integers(1, 4))
    def crash_mid_transaction(self, data: st.DataObject, op: str, call: int) -> None:
        """Die inside a service call (at its n-th audit append, or just before the commit): nothing half-applied."""
        before = snapshot(self.engine)
        action = self.crashable(data, op)
        if action is None:
            return
        self.expect.checks[f"crash_rolled_back_{op}"] += 1
        try:
            with crash_at_audit(call), write_session(self.engine) as s:
                action(s)
                raise SimCrash("killed before the commit")
        except SimCrash:
            pass
        except SupportdeskError:
            pass
        assert snapshot(self.engine) == before, f"a crash inside {op} left part of it applied"

    def crashable(self, data: st.DataObject, op: str) -> Callable[[Session], Any] | None:
        if op == "fix":
            fixable = [f for f in detect(self.engine) if f.fixable]
            if not fixable:
                return None
            f = data.draw(st.sampled_from(fixable))
            return lambda s: apply_fix(s, f, agent("lead"), refund_policy=refunds.policy_of(None))
        if op == "grant" and self.accounts:
            account_id = data.draw(st.sampled_from(self.accounts))
            return lambda s: ledger.post(s, [Posting(account_id, "coin", 10, "grant")], agent(), key="sim:crash")
        targets = self.completed()
        if op == "refund" and targets:
            pid = data.draw(st.sampled_from(targets))
            return lambda s: refunds.claw_back(s, pid, agent("lead"), key=f"sim:crash:{pid}", new_status="refunded",
                                               coins=1, cause="other", initiated_by="store")
        return None

    @rule(data=st.data())
    def crash_after_store_call(self, data: st.DataObject) -> None:
        """Die between the store's refund and our clawback: the store refunded, nothing of ours moved yet."""
        targets = self.completed()
        if not targets:
            return
        before = ledger_of(self.engine)

        def die(*args: Any, **kw: Any) -> Any:
            raise SimCrash("killed after the store call")

        with mock.patch.object(refund_protocol, "_finish", die):
            try:
                self.refund(data.draw(st.sampled_from(targets)), "remorse", agent("lead"))
            except SimCrash:
                pass
        assert ledger_of(self.engine) == before

    # -- concurrent agents -----------------------------------------------------------------------------------------
    @rule(data=st.data(), what=st.sampled_from(["fix", "refund_same_key", "refund_other_keys", "grant"]))
    def two_agents(self, data: st.DataObject, what: str) -> None:
        """Two agents do the same thing at the same moment."""
        before = ledger_of(self.engine)
        seen: list[list[Finding]] = [[], []]
        results: list[ReconcileResult] = []
        targets = self.completed()
        pid = data.draw(st.sampled_from(targets)) if targets else None
        account_id = data.draw(st.sampled_from(self.accounts)) if self.accounts else None
        grant_key = f"sim:grant:{self.next_id()}"

        def work(i: int) -> None:
            ctx = agent("lead", f"agent-{i}")
            if what == "fix":
                seen[i] = [f for f in detect(self.engine) if f.fixable]
                results.append(fix(self.engine, seen[i], ctx))
            elif what.startswith("refund") and pid:
                self.refund(pid, "remorse", ctx, key=f"sim:refund:{pid}:{i}" if what == "refund_other_keys" else None)
            elif what == "grant" and account_id:
                with write_session(self.engine) as s:
                    ledger.post(s, [Posting(account_id, "coin", 25, "grant")], ctx, key=grant_key)

        run_together(work)
        self.expect.checks[f"two_agents_{what}"] += 1
        if what == "fix":
            self.check_fixed(before, results, seen[0] + seen[1])

    @invariant()
    def holds(self) -> None:
        Simulation.steps += 1
        check_all(self.engine, self.stores, self.expect)
        if STATS and Simulation.steps % 100 == 0:  # a long run's figures survive its being stopped
            Path(STATS).write_text(json.dumps({"steps": Simulation.steps, "checks": self.expect.checks}))
