"""Reconcile: compare store records with our purchases and ledger, and fix what may be fixed, exactly once.

Each finding kind is one set-based query (anti-joins and GROUP BYs the database does well), streamed with
`yield_per`, so memory stays flat as the data grows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from supportdesk.db.models import Account, LedgerEntry, PricePoint, Purchase, StoreRecord
from supportdesk.domain.findings import Finding, clawback_coins
from supportdesk.errors import SupportdeskError
from supportdesk.services import unknown_to_store as unknown

BATCH = 5000
CHARGED = ("purchased", "refunded", "charged_back")
TAKEN_BACK = ("refunded", "charged_back")


@dataclass(frozen=True)
class Scope:
    account_id: str | None = None
    store: str | None = None
    since: datetime | None = None


def _scoped(stmt: Any, scope: Scope, model: Any) -> Any:
    """Narrow a query on store records or purchases (both have account_id, store, purchased_at) to the scope."""
    if scope.account_id:
        stmt = stmt.where(model.account_id == scope.account_id)
    if scope.store:
        stmt = stmt.where(model.store == scope.store)
    if scope.since:
        stmt = stmt.where(model.purchased_at >= scope.since)
    return stmt


def _store_scope(stmt: Any, scope: Scope) -> Any:
    return _scoped(stmt, scope, StoreRecord)


def _purchase_scope(stmt: Any, scope: Scope) -> Any:
    return _scoped(stmt, scope, Purchase)


def _stream(session: Session, stmt: Any) -> Iterator[Any]:
    yield from session.execute(stmt.execution_options(yield_per=BATCH))


def _record(sr: StoreRecord) -> dict[str, Any]:
    return {
        "store": sr.store, "store_transaction_id": sr.store_transaction_id, "order_id": sr.order_id,
        "product_id": sr.product_id, "price_minor": sr.price_minor, "currency": sr.currency, "country": sr.country,
        "purchased_at": sr.purchased_at, "state": sr.state, "refunded_at": sr.refunded_at,
        "refund_reason": sr.refund_reason, "refunded_minor": sr.refunded_minor, "account_ref": sr.account_ref,
    }


def _purchase(p: Purchase) -> dict[str, Any]:
    return p.model_dump()


def _price_in_force(sr: Any) -> Any:
    return and_(
        PricePoint.country == sr.country, PricePoint.store == sr.store, PricePoint.product_id == sr.product_id,
        PricePoint.valid_from <= sr.purchased_at,
        or_(PricePoint.valid_to.is_(None), sr.purchased_at < PricePoint.valid_to),
    )


def missing_purchases(session: Session, scope: Scope) -> Iterator[Finding]:
    """The store charged and we have no purchase record: coins from the price point in force."""
    ours = exists().where(Purchase.store == StoreRecord.store,
                          Purchase.store_transaction_id == StoreRecord.store_transaction_id)
    stmt = _store_scope(select(StoreRecord).where(StoreRecord.state == "purchased", ~ours), scope)
    for (sr,) in _stream(session, stmt):
        coins, bonus = _bundle_coins(session, sr)
        yield Finding("missing_purchase", sr.account_id, sr.store, sr.store_transaction_id, None, coins,
                      {"store_record": _record(sr), "bonus_coins": bonus,
                       **({} if sr.account_id else {"why_not_fixable": "the store record names no known account"})})


def _bundle_coins(session: Session, sr: StoreRecord) -> tuple[int, int]:
    """Coins for a bundle at its purchase time: the row whose price matches (a promotion's bonus) first."""
    points = list(session.execute(select(PricePoint).where(_price_in_force_for(sr))).scalars())
    points.sort(key=lambda p: (p.price_minor != sr.price_minor, -p.bonus_coins))
    if not points:
        coins = (sr.raw.get("metadata") or {}).get("coins") if isinstance(sr.raw, dict) else None
        return int(coins or 0), 0
    return points[0].coins + points[0].bonus_coins, points[0].bonus_coins


def _price_in_force_for(sr: StoreRecord) -> Any:  # for one record we hold (missing purchases)
    return and_(
        PricePoint.country == sr.country, PricePoint.store == sr.store, PricePoint.product_id == sr.product_id,
        PricePoint.valid_from <= sr.purchased_at,
        or_(PricePoint.valid_to.is_(None), PricePoint.valid_to > sr.purchased_at),
    )


def uncredited_purchases(session: Session, scope: Scope) -> Iterator[Finding]:
    credited = exists().where(LedgerEntry.ref == Purchase.purchase_id, LedgerEntry.kind == "purchase")
    stmt = _purchase_scope(select(Purchase).where(Purchase.status == "completed", ~credited), scope)
    for (p,) in _stream(session, stmt):
        yield Finding("uncredited_purchase", p.account_id, p.store, p.store_transaction_id, p.purchase_id, p.coins,
                      {"purchase": _purchase(p), "credits_found": 0})


def duplicate_credits(session: Session, scope: Scope) -> Iterator[Finding]:
    rev = aliased(LedgerEntry)
    live = ~exists().where(rev.reverses == LedgerEntry.entry_id)
    stmt = (
        select(LedgerEntry.ref, LedgerEntry.account_id, func.count(), func.sum(LedgerEntry.amount))
        .where(LedgerEntry.kind == "purchase", LedgerEntry.ref.is_not(None), live)
        .group_by(LedgerEntry.ref, LedgerEntry.account_id).having(func.count() > 1)
    )
    if scope.account_id:
        stmt = stmt.where(LedgerEntry.account_id == scope.account_id)
    groups = list(_stream(session, stmt))  # one row per duplicated purchase: few, whatever the ledger's size
    for start in range(0, len(groups), 500):
        chunk = groups[start:start + 500]
        refs = [ref for ref, *_ in chunk]
        purchases = {p.purchase_id: p for p in session.execute(
            select(Purchase).where(Purchase.purchase_id.in_(refs))).scalars()}
        credits: dict[str, list[LedgerEntry]] = {}
        for e in session.execute(select(LedgerEntry).where(
                LedgerEntry.ref.in_(refs), LedgerEntry.kind == "purchase", live).order_by(LedgerEntry.seq)).scalars():
            credits.setdefault(e.ref or "", []).append(e)
        for ref, account_id, count, total in chunk:
            purchase = purchases.get(ref)
            if purchase is None or (scope.store and purchase.store != scope.store):
                continue
            if scope.since and purchase.purchased_at < scope.since:
                continue
            extra = credits.get(ref, [])[1:]
            yield Finding("duplicate_credit", account_id, purchase.store, purchase.store_transaction_id, ref,
                          -sum(e.amount for e in extra),
                          {"purchase": _purchase(purchase), "credits": int(count), "credited_coins": int(total),
                           "extra_entries": [e.entry_id for e in extra]})


def unapplied_refunds(session: Session, scope: Scope) -> Iterator[Finding]:
    clawed = exists().where(LedgerEntry.ref == Purchase.purchase_id, LedgerEntry.kind == "refund_clawback")
    stmt = _store_scope(
        select(StoreRecord, Purchase)
        .join(Purchase, and_(Purchase.store == StoreRecord.store,
                             Purchase.store_transaction_id == StoreRecord.store_transaction_id))
        .where(StoreRecord.state.in_(TAKEN_BACK), Purchase.status == "completed", ~clawed),
        scope,
    )
    for sr, p in _stream(session, stmt):
        coins = clawback_coins(p.coins, sr.price_minor, sr.refunded_minor)
        yield Finding("unapplied_refund", p.account_id, p.store, p.store_transaction_id, p.purchase_id, -coins,
                      {"store_record": _record(sr), "purchase": _purchase(p),
                       "new_status": "charged_back" if sr.state == "charged_back" else
                       ("revoked" if p.store == "apple" else "refunded")})


def balance_drifts(session: Session, scope: Scope) -> Iterator[Finding]:
    for asset, column in (("coin", Account.coin_balance), ("diamond", Account.diamond_balance)):
        sums = (select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
                .where(LedgerEntry.asset == asset).group_by(LedgerEntry.account_id).subquery())
        ledger = func.coalesce(sums.c.total, 0)
        stmt = (select(Account.account_id, Account.handle, column, ledger)
                .outerjoin(sums, sums.c.account_id == Account.account_id).where(column != ledger))
        if scope.account_id:
            stmt = stmt.where(Account.account_id == scope.account_id)
        for account_id, handle, cached, total in _stream(session, stmt):
            yield Finding("balance_drift", account_id, None, None, None,
                          int(total) - int(cached) if asset == "coin" else 0,
                          {"asset": asset, "cached": int(cached), "ledger": int(total), "handle": handle})


def amount_mismatches(session: Session, scope: Scope) -> Iterator[Finding]:
    """The store charged a price no price point in force allows (only where some price point is in force)."""
    any_price = exists().where(_price_in_force(StoreRecord))
    matching = exists().where(_price_in_force(StoreRecord), PricePoint.price_minor == StoreRecord.price_minor,
                              PricePoint.currency == StoreRecord.currency)
    stmt = _store_scope(
        select(StoreRecord, Purchase.purchase_id)
        .outerjoin(Purchase, and_(Purchase.store == StoreRecord.store,
                                  Purchase.store_transaction_id == StoreRecord.store_transaction_id))
        .where(StoreRecord.price_minor.is_not(None), StoreRecord.state.in_(CHARGED), any_price, ~matching), scope)
    points: dict[tuple[str | None, str, str], list[PricePoint]] = {}  # the price table is small: read each key once
    for sr, purchase_id in _stream(session, stmt):
        key = (sr.country, sr.store, sr.product_id)
        if key not in points:
            points[key] = list(session.execute(select(PricePoint).where(
                PricePoint.country == sr.country, PricePoint.store == sr.store,
                PricePoint.product_id == sr.product_id)).scalars())
        expected = [p for p in points[key]
                    if p.valid_from <= sr.purchased_at and (p.valid_to is None or sr.purchased_at < p.valid_to)]
        yield Finding("amount_mismatch", sr.account_id, sr.store, sr.store_transaction_id, purchase_id, 0,
                      {"store_record": _record(sr),
                       "charged": {"minor": sr.price_minor, "currency": sr.currency},
                       "price_points_in_force": [{"price_minor": p.price_minor, "currency": p.currency,
                                                  "coins": p.coins, "bonus_coins": p.bonus_coins,
                                                  "valid_from": p.valid_from, "valid_to": p.valid_to}
                                                 for p in expected]})


def unknown_to_store(session: Session, scope: Scope) -> Iterator[Finding]:
    yield from unknown.findings(session, _stream(session, _purchase_scope(unknown.query(), scope)))


DETECTORS = (missing_purchases, uncredited_purchases, duplicate_credits, unapplied_refunds, balance_drifts,
             amount_mismatches, unknown_to_store)


def find(session: Session, scope: Scope) -> Iterator[Finding]:
    for detector in DETECTORS:
        yield from detector(session, scope)


@dataclass
class ReconcileResult:
    findings: list[Finding]
    applied: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    cancelled: bool = False


def reconcile(
    engine: Any, scope: Scope, *, fix: bool = False, ctx: Any = None,
    cancelled: Any = None, progress: Any = None, refund_policy: Any = None,
) -> ReconcileResult:
    """Find (read session, streamed), then fix each fixable finding in its own transaction.

    `progress(stage, done, total)` is called after each detector ("finding") and each fix ("fixing");
    `cancelled()` is checked between them, so a cancel never splits a fix.
    """
    from supportdesk.db.engine import read_session, write_session
    from supportdesk.services.fixes import apply_fix

    findings: list[Finding] = []
    with read_session(engine) as session:
        for index, detector in enumerate(DETECTORS, start=1):
            if cancelled and cancelled():
                return ReconcileResult(findings, [], [], cancelled=True)
            findings.extend(detector(session, scope))
            if progress:
                progress("finding", index, len(DETECTORS))
    applied: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    if not fix:
        return ReconcileResult(findings, applied, failed)
    todo = [f for f in findings if f.fixable]
    for index, f in enumerate(todo, start=1):
        if cancelled and cancelled():
            return ReconcileResult(findings, applied, failed, cancelled=True)
        try:
            with write_session(engine) as session:
                result = apply_fix(session, f, ctx, refund_policy=refund_policy)
            applied.append({"kind": f.kind, "idempotency_key": f.key, "account_id": f.account_id,
                            "purchase_id": f.purchase_id, "store_transaction_id": f.store_transaction_id, **result})
        except SupportdeskError as exc:
            failed.append({"kind": f.kind, "idempotency_key": f.key, **exc.to_json()})
        if progress:
            progress("fixing", index, len(todo))
    return ReconcileResult(findings, applied, failed)
