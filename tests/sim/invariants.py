"""What must hold after every step, read from the database and checked against the stores' independent view."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from supportdesk.db.engine import read_session
from supportdesk.db.models import (
    Account,
    AuditRecord,
    IdempotencyKey,
    LedgerEntry,
    Purchase,
    Refund,
    ReviewFlag,
    StoreRecord,
)
from supportdesk.services import audit
from tests.sim.world import Stores

TAKEN_BACK = ("refunded", "revoked", "charged_back")


@dataclass
class Expectation:
    """What the model knows that the database cannot tell: drift it caused on purpose, and which charge an
    imported credit was for (its `ref` may name a purchase the import did not carry)."""

    drift: dict[tuple[str, str], int] = field(default_factory=dict)
    charge_of_ref: dict[str, str] = field(default_factory=dict)
    checks: Counter[str] = field(default_factory=Counter)


def snapshot(engine: Engine) -> tuple[Any, ...]:
    """Everything a money-moving or status-changing action writes: equal snapshots, nothing was applied."""
    with read_session(engine) as s:
        return (
            tuple(s.execute(select(LedgerEntry.entry_id, LedgerEntry.amount).order_by(LedgerEntry.seq)).all()),
            tuple(s.execute(select(Account.account_id, Account.coin_balance, Account.diamond_balance,
                                   Account.status).order_by(Account.account_id)).all()),
            tuple(s.execute(select(Purchase.purchase_id, Purchase.status).order_by(Purchase.purchase_id)).all()),
            tuple(s.execute(select(Refund.purchase_id, Refund.status).order_by(Refund.purchase_id)).all()),
            tuple(s.execute(select(ReviewFlag.flag_id, ReviewFlag.status).order_by(ReviewFlag.flag_id)).all()),
            s.execute(select(func.count()).select_from(IdempotencyKey)).scalar(),
            s.execute(select(func.count()).select_from(AuditRecord)).scalar(),
        )


def ledger_of(engine: Engine) -> tuple[Any, ...]:
    with read_session(engine) as s:
        return tuple(s.execute(select(LedgerEntry.entry_id, LedgerEntry.amount).order_by(LedgerEntry.seq)).all())


def check_all(engine: Engine, stores: Stores, expect: Expectation) -> None:
    with read_session(engine) as s:
        _audit_chain(s, expect)
        _balances(s, expect)
        live = _live_credits(s)
        purchases = {p.purchase_id: p for p in s.execute(select(Purchase)).scalars()}
        _credits(s, stores, expect, live, purchases)
        _clawbacks(s, stores, purchases)


def _audit_chain(s: Session, expect: Expectation) -> None:
    result = audit.verify(s)
    assert result.verified, f"audit --verify failed at seq {result.first_bad_seq}: {result.problem}"
    expect.checks["audit_verify"] += 1


def _balances(s: Session, expect: Expectation) -> None:
    """Cached minus ledger is exactly the drift the model put there (and a confirmed drift fix removed)."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for account_id, asset, total in s.execute(select(LedgerEntry.account_id, LedgerEntry.asset,
                                                     func.sum(LedgerEntry.amount))
                                              .group_by(LedgerEntry.account_id, LedgerEntry.asset)):
        sums[(account_id, asset)] = int(total)
    for account_id, coins, diamonds in s.execute(select(Account.account_id, Account.coin_balance,
                                                        Account.diamond_balance)):
        for asset, cached in (("coin", coins), ("diamond", diamonds)):
            drift = cached - sums[(account_id, asset)]
            assert drift == expect.drift.get((account_id, asset), 0), (
                f"{account_id} {asset}: cached {cached} vs ledger {sums[(account_id, asset)]} "
                f"(expected drift {expect.drift.get((account_id, asset), 0)})")
            expect.checks["balance"] += 1


def _live_credits(s: Session) -> list[LedgerEntry]:
    reversed_ids = set(s.execute(select(LedgerEntry.reverses).where(LedgerEntry.reverses.is_not(None))).scalars())
    return [e for e in s.execute(select(LedgerEntry).where(LedgerEntry.kind == "purchase")).scalars()
            if e.entry_id not in reversed_ids]


def _credits(s: Session, stores: Stores, expect: Expectation, live: list[LedgerEntry],
             purchases: dict[str, Purchase]) -> None:
    """Each store charge: at most one live credit, on the charge's account, of the bundle at its price."""
    by_charge: dict[str, list[LedgerEntry]] = defaultdict(list)
    for e in live:
        p = purchases.get(e.ref or "")
        txn = p.store_transaction_id if p is not None else expect.charge_of_ref.get(e.ref or "")
        assert txn is not None, f"credit {e.entry_id} ({e.amount}) names {e.ref!r}, which no store charged"
        by_charge[txn].append(e)
    for txn, credits in by_charge.items():
        c = stores.charges.get(txn)
        assert c is not None, f"{txn} was credited but no store knows it"
        where = f"{c.store} charge {txn} ({c.product} at {c.price} cents)"
        assert len(credits) <= 1, f"{where} credited {len(credits)} times: {[e.entry_id for e in credits]}"
        e = credits[0]
        assert c.coins is not None, f"{where} matches no price point in force, yet {e.amount} coins were credited"
        assert e.amount == c.coins, f"{where} buys {c.coins} coins, credited {e.amount}"
        assert e.account_id == c.account_id, f"{where} is {c.account_id}'s, credited to {e.account_id}"
        expect.checks["charge_credit"] += 1
    for p in purchases.values():
        assert p.store_transaction_id in stores.charges, f"purchase {p.purchase_id}: no store charged it"
    expect.checks["charge_credit"] += len(stores.charges) - len(by_charge)


def _clawbacks(s: Session, stores: Stores, purchases: dict[str, Purchase]) -> None:
    """Each refund, void or chargeback is clawed back at most once, and only when the store took money back: a
    purchase's coins in one clawback per refund at the store at most (a charge refunded in parts is clawed back
    again for each later part), never more coins than the purchase bought; its diamonds once."""
    claws: dict[tuple[str | None, str, str], list[int]] = defaultdict(list)
    for e in s.execute(select(LedgerEntry).where(LedgerEntry.kind == "refund_clawback")).scalars():
        claws[(e.ref, e.account_id, e.asset)].append(e.amount)
    for (ref, account_id, asset), amounts in claws.items():
        p = purchases.get(ref or "")
        assert p is not None, f"clawback names {ref!r}, no purchase"
        c = stores.charges[p.store_transaction_id]
        most = max(len(c.refunds), 1) if asset == "coin" else 1  # a dispute or a Play void is one
        assert len(amounts) <= most, f"{asset} clawback of {ref} on {account_id} posted {len(amounts)} times"
        if asset == "coin":
            assert -sum(amounts) <= p.coins, f"{ref}: clawed back {-sum(amounts)} coins of {p.coins}"
        assert c.state != "purchased", f"{ref} clawed back but {c.store} never refunded {c.txn}"
        assert p.status in TAKEN_BACK, f"{ref} clawed back but still {p.status}"
    rows = Counter(r.purchase_id for r in s.execute(select(Refund).where(Refund.status == "succeeded")).scalars())
    assert all(n == 1 for n in rows.values())
    for sr in s.execute(select(StoreRecord)).scalars():
        assert sr.store_transaction_id in stores.charges
