"""Reconcile checks on the credits themselves: a purchase credited more than once (per purchase or per store
transaction), with the wrong amount, or on another account than the purchase's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from supportdesk.db.models import LedgerEntry, Purchase
from supportdesk.domain.findings import Finding
from supportdesk.services.scope import Scope, _purchase_scope, _stream, purchase_json

CHUNK = 500


def live(entry: Any = LedgerEntry) -> Any:
    """A purchase credit no reversal names (a reversed credit no longer counts)."""
    rev = aliased(LedgerEntry)
    return and_(entry.kind == "purchase", ~exists().where(rev.reverses == entry.entry_id))


def duplicate_credits(session: Session, scope: Scope) -> Iterator[Finding]:
    """A purchase credited more than once on its account: by its purchase id, or by its store transaction id
    (the store charged once, whatever our records call the charge)."""
    by_ref = (select(col(LedgerEntry.ref)).where(live(), col(LedgerEntry.ref).is_not(None))
              .group_by(col(LedgerEntry.ref), col(LedgerEntry.account_id)).having(func.count() > 1))
    if scope.account_id:
        by_ref = by_ref.where(col(LedgerEntry.account_id) == scope.account_id)
    by_txn = _purchase_scope(select(col(Purchase.purchase_id)).join(LedgerEntry, and_(
        col(LedgerEntry.ref) == Purchase.store_transaction_id, col(LedgerEntry.account_id) == Purchase.account_id,
        live()))
        .where(col(Purchase.store_transaction_id) != Purchase.purchase_id), scope)
    candidates = sorted({r for (r,) in _stream(session, by_ref)} | {p for (p,) in _stream(session, by_txn)})
    for start in range(0, len(candidates), CHUNK):  # few: one row per duplicated purchase
        purchases = {p.purchase_id: p for p in session.execute(_purchase_scope(
            select(Purchase).where(col(Purchase.purchase_id).in_(candidates[start:start + CHUNK])), scope)
        ).scalars()}
        owner = {**{p.store_transaction_id: p for p in purchases.values()}, **purchases}
        credits: dict[str, list[LedgerEntry]] = {}
        for e in session.execute(select(LedgerEntry).where(
                col(LedgerEntry.ref).in_(list(owner)), live()).order_by(col(LedgerEntry.seq))).scalars():
            p = owner[e.ref or ""]
            if e.account_id == p.account_id:
                credits.setdefault(p.purchase_id, []).append(e)
        for pid, entries in credits.items():
            if len(entries) < 2:
                continue
            p, extra = purchases[pid], entries[1:]
            yield Finding("duplicate_credit", p.account_id, p.store, p.store_transaction_id, pid,
                          -sum(e.amount for e in extra),
                          {"purchase": purchase_json(p), "credits": len(entries),
                           "credited_coins": sum(e.amount for e in entries),
                           "extra_entries": [e.entry_id for e in extra],
                           "by": "store_transaction" if any(e.ref != pid for e in entries) else "purchase"})


def wrong_credit_amounts(session: Session, scope: Scope) -> Iterator[Finding]:
    """A purchase's one live credit on its account is not the purchase's coins (which include a promotion's
    bonus): the fix reverses that credit and posts the right amount."""
    other = aliased(LedgerEntry)
    second = exists().where(col(other.ref) == Purchase.purchase_id,
                            col(other.account_id) == Purchase.account_id,
                            col(other.entry_id) != LedgerEntry.entry_id, live(other))
    stmt = _purchase_scope(select(Purchase, LedgerEntry).join(LedgerEntry, and_(
        col(LedgerEntry.ref) == Purchase.purchase_id, col(LedgerEntry.account_id) == Purchase.account_id, live()))
        .where(col(LedgerEntry.amount) != Purchase.coins, ~second), scope)
    for p, e in _stream(session, stmt):
        yield Finding("wrong_credit_amount", p.account_id, p.store, p.store_transaction_id, p.purchase_id,
                      p.coins - e.amount,
                      {"purchase": purchase_json(p), "entries": [e.entry_id], "credited": e.amount,
                       "expected": p.coins})


def misdirected_credits(session: Session, scope: Scope) -> Iterator[Finding]:
    """A purchase's credit posted on another account than the purchase's: the fix reverses it there and credits
    the purchase's account (unless that account already holds a credit for it)."""
    stmt = select(Purchase, LedgerEntry).join(LedgerEntry, and_(
        col(LedgerEntry.ref) == Purchase.purchase_id, col(LedgerEntry.account_id) != Purchase.account_id, live()))
    if scope.account_id:  # found from either side: the buyer's account or the one credited instead
        stmt = stmt.where(or_(col(Purchase.account_id) == scope.account_id,
                              col(LedgerEntry.account_id) == scope.account_id))
    stmt = _purchase_scope(stmt, Scope(store=scope.store, since=scope.since)).order_by(col(LedgerEntry.seq))
    found: dict[str, tuple[Purchase, list[LedgerEntry]]] = {}
    for p, e in _stream(session, stmt):
        found.setdefault(p.purchase_id, (p, []))[1].append(e)
    for pid, (p, entries) in found.items():
        owned = session.execute(select(col(LedgerEntry.entry_id)).where(
            col(LedgerEntry.ref) == pid, col(LedgerEntry.account_id) == p.account_id, live())).first() is not None
        yield Finding("misdirected_credit", p.account_id, p.store, p.store_transaction_id, pid,
                      0 if owned else p.coins,
                      {"purchase": purchase_json(p), "owner_credited": owned,
                       "entries": [{"entry_id": e.entry_id, "account_id": e.account_id, "amount": e.amount}
                                   for e in entries]})
