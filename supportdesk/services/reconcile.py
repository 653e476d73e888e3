"""Reconcile: compare store records with our purchases and ledger, and fix what may be fixed, exactly once.

Each finding kind is one set-based query (anti-joins and GROUP BYs the database does well), streamed with
`yield_per`, so memory stays flat as the data grows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlmodel import Session, col

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, IdempotencyKey, LedgerEntry, PricePoint, Purchase, Refund, StoreRecord
from supportdesk.domain.findings import Finding, clawback_coins
from supportdesk.domain.refunds import TAKEN_BACK as PURCHASE_TAKEN_BACK
from supportdesk.errors import SupportdeskError
from supportdesk.services import unknown_to_store as unknown
from supportdesk.services.credit_checks import duplicate_credits, misdirected_credits, wrong_credit_amounts
from supportdesk.services.credit_checks import live as live_credit
from supportdesk.services.fixes import apply_fix
from supportdesk.services.ledger import lock_account
from supportdesk.services.refunds import clawed_select
from supportdesk.services.scope import Scope, _purchase_scope, _store_scope, _stream, purchase_json

__all__ = ["Scope", "apply_confirmed", "apply_one", "detect", "reconcile", "redetect"]

CHARGED = ("purchased", "refunded", "charged_back")
TAKEN_BACK = ("refunded", "charged_back")
# What an agent may decide for a charge that matches no price: credit the bundle (lead-only above the limit),
# or refund the charge (not at Apple: only Apple refunds App Store purchases).
DECISIONS = ("credit", "refund_charge")


def _record(sr: StoreRecord) -> dict[str, Any]:
    return {
        "store": sr.store, "store_transaction_id": sr.store_transaction_id, "order_id": sr.order_id,
        "product_id": sr.product_id, "price_minor": sr.price_minor, "currency": sr.currency, "country": sr.country,
        "purchased_at": sr.purchased_at, "state": sr.state, "refunded_at": sr.refunded_at,
        "refund_reason": sr.refund_reason, "refunded_minor": sr.refunded_minor, "account_ref": sr.account_ref,
    }


def _price_in_force(sr: Any) -> Any:
    return and_(
        col(PricePoint.country) == sr.country, col(PricePoint.store) == sr.store,
        col(PricePoint.product_id) == sr.product_id,
        col(PricePoint.valid_from) <= sr.purchased_at,
        or_(col(PricePoint.valid_to).is_(None), sr.purchased_at < PricePoint.valid_to),
    )


def missing_purchases(session: Session, scope: Scope) -> Iterator[Finding]:
    """The store charged and we have no purchase record: coins from the price point in force.

    Only a charge that matches a price point in force (a positive amount, in its currency) is a missing purchase;
    any other is an `amount_mismatch` the agent decides, never credited by a fix."""
    stmt = _store_scope(select(StoreRecord).where(col(StoreRecord.state) == "purchased", ~_ours(), _matching()),
                        scope)
    for (sr,) in _stream(session, stmt):
        coins, bonus = _bundle_coins(session, sr)
        yield Finding("missing_purchase", sr.account_id, sr.store, sr.store_transaction_id, None, coins,
                      {"store_record": _record(sr), "bonus_coins": bonus, **_why_not_credit(session, sr)})


def _why_not_credit(session: Session, sr: StoreRecord) -> dict[str, Any]:
    """A charge with no purchase record may still have been credited, under the store's own id: never twice."""
    if not sr.account_id:
        return {"why_not_fixable": "the store record names no known account"}
    entry = session.execute(select(col(LedgerEntry.entry_id)).where(
        col(LedgerEntry.ref) == sr.store_transaction_id, live_credit())).scalar()
    if entry is not None:
        return {"credited_as": entry, "why_not_fixable": f"entry {entry} already credits this charge (its ref is the "
                                                         "store's id); a credit would be the second"}
    return {}


def _ours() -> Any:
    return exists().where(col(Purchase.store) == StoreRecord.store,
                          col(Purchase.store_transaction_id) == StoreRecord.store_transaction_id)


def _matching() -> Any:
    """The charge is positive and equals a price point in force for its country, store, product and time."""
    return and_(col(StoreRecord.price_minor) > 0, exists().where(
        _price_in_force(StoreRecord), col(PricePoint.price_minor) == StoreRecord.price_minor,
        col(PricePoint.currency) == StoreRecord.currency))


def _bundle_coins(session: Session, sr: StoreRecord) -> tuple[int, int]:
    """Coins for a bundle at its purchase time.

    With no price point in force, the web checkout's charge metadata names the bundle's coins."""
    points = list(session.execute(select(PricePoint).where(_price_in_force(sr))).scalars())
    # the row whose price matches, a promotion's first; with none matching, the plain bundle (no bonus)
    points.sort(key=lambda p: (p.price_minor != sr.price_minor,
                               -p.bonus_coins if p.price_minor == sr.price_minor else p.bonus_coins))
    if not points:
        return _metadata_coins(sr.raw), 0
    return points[0].coins + points[0].bonus_coins, points[0].bonus_coins


def _metadata_coins(raw: Any) -> int:
    """A web record's raw is {"charge": charge, "dispute": ...}; the bundle's coins are in the charge's metadata."""
    charge = raw.get("charge") if isinstance(raw, dict) else None
    metadata = (charge if isinstance(charge, dict) else {}).get("metadata") or {}
    try:
        return max(int(metadata.get("coins") or 0), 0)
    except (TypeError, ValueError):
        return 0


def uncredited_purchases(session: Session, scope: Scope) -> Iterator[Finding]:
    credited = exists().where(col(LedgerEntry.ref) == Purchase.purchase_id, col(LedgerEntry.kind) == "purchase")
    stmt = _purchase_scope(select(Purchase).where(col(Purchase.status) == "completed", ~credited), scope)
    for (p,) in _stream(session, stmt):
        yield Finding("uncredited_purchase", p.account_id, p.store, p.store_transaction_id, p.purchase_id, p.coins,
                      {"purchase": purchase_json(p), "credits_found": 0})


def unapplied_refunds(session: Session, scope: Scope) -> Iterator[Finding]:
    """The store took money back and the account still has coins for it: a purchase still `completed` with no
    clawback, or one already taken back whose refund grew at the store afterwards (a web charge or a Play order
    refunded again in part) by more coins than its clawbacks so far took (`detail["clawed"]`)."""
    clawbacks = clawed_select(Purchase.purchase_id, Purchase.account_id)
    clawed_any = exists().where(col(LedgerEntry.ref) == Purchase.purchase_id,
                                col(LedgerEntry.kind) == "refund_clawback")
    # Taken back by one of our clawbacks, even one of no coins (a first part too small to round to a coin): its
    # refund row succeeded. A purchase taken back with neither (history imported that way) is not second-guessed.
    refunded_here = exists().where(col(Refund.purchase_id) == Purchase.purchase_id, col(Refund.status) == "succeeded")
    stmt = _store_scope(
        select(StoreRecord, Purchase, clawbacks.scalar_subquery())
        .join(Purchase, and_(col(Purchase.store) == StoreRecord.store,
                             col(Purchase.store_transaction_id) == StoreRecord.store_transaction_id))
        .where(col(StoreRecord.state).in_(TAKEN_BACK),
               or_(and_(col(Purchase.status) == "completed", ~clawed_any),
                   and_(col(Purchase.status).in_(PURCHASE_TAKEN_BACK), or_(clawed_any, refunded_here)))),
        scope,
    )
    for sr, p, clawed in _stream(session, stmt):
        coins = clawback_coins(p.coins, sr.price_minor, sr.refunded_minor)
        detail: dict[str, Any] = {"store_record": _record(sr), "purchase": purchase_json(p)}
        if p.status == "completed":
            detail["new_status"] = ("charged_back" if sr.state == "charged_back" else
                                    ("revoked" if p.store == "apple" else "refunded"))
        elif coins > int(clawed):  # taken back already, and the store has refunded more since
            coins -= int(clawed)
            detail.update(new_status=p.status, clawed=int(clawed))
        else:
            continue
        yield Finding("unapplied_refund", p.account_id, p.store, p.store_transaction_id, p.purchase_id, -coins,
                      detail)


def balance_drifts(session: Session, scope: Scope) -> Iterator[Finding]:
    """One finding per account and asset whose cached balance differs from the ledger's sum; `last_entry_seq`
    names the ledger state seen (its latest entry), which the fix's key includes."""
    for asset, column in (("coin", col(Account.coin_balance)), ("diamond", col(Account.diamond_balance))):
        sums = (select(col(LedgerEntry.account_id), func.sum(col(LedgerEntry.amount)).label("total"),
                       func.max(col(LedgerEntry.seq)).label("last"))
                .where(col(LedgerEntry.asset) == asset).group_by(col(LedgerEntry.account_id)))
        if scope.account_id:
            sums = sums.where(col(LedgerEntry.account_id) == scope.account_id)
        sub = sums.subquery()
        ledger = func.coalesce(sub.c.total, 0)
        stmt = (select(col(Account.account_id), col(Account.handle), column, ledger, sub.c.last)
                .outerjoin(sub, sub.c.account_id == Account.account_id).where(column != ledger))
        if scope.account_id:
            stmt = stmt.where(col(Account.account_id) == scope.account_id)
        for account_id, handle, cached, total, last in _stream(session, stmt):
            yield Finding("balance_drift", account_id, None, None, None,
                          int(total) - int(cached) if asset == "coin" else 0,
                          {"asset": asset, "cached": int(cached), "ledger": int(total), "handle": handle,
                           "last_entry_seq": None if last is None else int(last),
                           "difference": int(total) - int(cached)})


def amount_mismatches(session: Session, scope: Scope) -> Iterator[Finding]:
    """The store charged a price no price point in force allows.

    For a purchase we hold: a non-positive charge, or one that differs where some price point is in force. For a
    charge we have no purchase for: anything but a positive charge at a price in force (none in force included);
    the agent decides it (credit the bundle, or refund the charge), a fix never credits it."""
    any_price = exists().where(_price_in_force(StoreRecord))
    held = and_(col(Purchase.purchase_id).is_not(None), col(StoreRecord.price_minor).is_not(None),
                or_(col(StoreRecord.price_minor) <= 0, and_(any_price, ~_matching())))
    unheld = and_(col(Purchase.purchase_id).is_(None), col(StoreRecord.state) == "purchased", ~_matching())
    stmt = _store_scope(
        select(StoreRecord, col(Purchase.purchase_id))
        .outerjoin(Purchase, and_(col(Purchase.store) == StoreRecord.store,
                                  col(Purchase.store_transaction_id) == StoreRecord.store_transaction_id))
        .where(col(StoreRecord.state).in_(CHARGED), or_(held, unheld)), scope)
    points: dict[tuple[str | None, str, str], list[PricePoint]] = {}  # the price table is small: read each key once
    for sr, purchase_id in _stream(session, stmt):
        key = (sr.country, sr.store, sr.product_id)
        if key not in points:
            points[key] = list(session.execute(select(PricePoint).where(
                col(PricePoint.country) == sr.country, col(PricePoint.store) == sr.store,
                col(PricePoint.product_id) == sr.product_id)).scalars())
        expected = [p for p in points[key]
                    if p.valid_from <= sr.purchased_at and (p.valid_to is None or sr.purchased_at < p.valid_to)]
        detail: dict[str, Any] = {
            "store_record": _record(sr), "charged": {"minor": sr.price_minor, "currency": sr.currency},
            "price_points_in_force": [{"price_minor": p.price_minor, "currency": p.currency, "coins": p.coins,
                                       "bonus_coins": p.bonus_coins, "valid_from": p.valid_from,
                                       "valid_to": p.valid_to} for p in expected]}
        if purchase_id is None and sr.account_id:
            coins, bonus = _bundle_coins(session, sr)
            decisions = [d for d in DECISIONS if d != "refund_charge" or sr.store != "apple"]
            detail.update(decisions=decisions, bundle_coins=coins, bonus_coins=bonus)
        yield Finding("amount_mismatch", sr.account_id, sr.store, sr.store_transaction_id, purchase_id, 0, detail)


def unknown_to_store(session: Session, scope: Scope) -> Iterator[Finding]:
    yield from unknown.findings(session, _stream(session, _purchase_scope(unknown.query(), scope)))


DETECTORS = (missing_purchases, uncredited_purchases, duplicate_credits, unapplied_refunds, balance_drifts,
             amount_mismatches, wrong_credit_amounts, misdirected_credits, unknown_to_store)
DETECTOR_OF = {"missing_purchase": missing_purchases, "uncredited_purchase": uncredited_purchases,
               "duplicate_credit": duplicate_credits, "unapplied_refund": unapplied_refunds,
               "balance_drift": balance_drifts, "amount_mismatch": amount_mismatches,
               "wrong_credit_amount": wrong_credit_amounts, "misdirected_credit": misdirected_credits,
               "unknown_to_store": unknown_to_store}


def find(session: Session, scope: Scope) -> Iterator[Finding]:
    for detector in DETECTORS:
        yield from detector(session, scope)


@dataclass
class ReconcileResult:
    findings: list[Finding]
    applied: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    cancelled: bool = False
    skipped: list[dict[str, Any]] = field(default_factory=list)


def detect(engine: Any, scope: Scope, *, cancelled: Any = None, progress: Any = None) -> ReconcileResult:
    """Every detector over the scope, in one read session (streamed); `cancelled()` is checked between them."""
    findings: list[Finding] = []
    with read_session(engine) as session:
        for index, detector in enumerate(DETECTORS, start=1):
            if cancelled and cancelled():
                return ReconcileResult(findings, [], [], cancelled=True)
            findings.extend(detector(session, scope))
            if progress:
                progress("finding", index, len(DETECTORS))
    return ReconcileResult(findings, [], [])


def reconcile(
    engine: Any, scope: Scope, *, fix: bool = False, ctx: Any = None,
    cancelled: Any = None, progress: Any = None, refund_policy: Any = None,
) -> ReconcileResult:
    """Find (read session, streamed); with `fix`, apply the fixes of exactly those findings (`apply_confirmed`).

    `progress(stage, done, total)` is called after each detector ("finding") and each fix ("fixing");
    `cancelled()` is checked between them, so a cancel never splits a fix.
    """
    found = detect(engine, scope, cancelled=cancelled, progress=progress)
    if not fix or found.cancelled:
        return found
    done = apply_confirmed(engine, found.findings, ctx, refund_policy=refund_policy, cancelled=cancelled,
                           progress=progress)
    done.findings = found.findings
    return done


def apply_confirmed(
    engine: Any, findings: list[Finding], ctx: Any, *, refund_policy: Any = None,
    cancelled: Any = None, progress: Any = None,
) -> ReconcileResult:
    """Apply the fixes of exactly the findings the agent confirmed, each in its own transaction.

    Before each fix its finding is detected again inside that transaction (the account locked first): one that
    vanished or whose numbers changed since it was confirmed is `skipped`, with why, and nothing is posted.
    Findings that appeared since are not touched: they wait for the next confirmation. Cached balances are
    resynced first, so another fix on the same account cannot change a confirmed drift's numbers."""
    todo = sorted((f for f in findings if f.fixable), key=lambda f: f.kind != "balance_drift")
    out = ReconcileResult(list(findings), [], [])
    for index, f in enumerate(todo, start=1):
        if cancelled and cancelled():
            out.cancelled = True
            return out
        try:
            outcome, row = apply_one(engine, f, ctx, refund_policy=refund_policy)
            (out.applied if outcome == "applied" else out.skipped).append(row)
        except SupportdeskError as exc:
            out.failed.append({"kind": f.kind, "idempotency_key": f.key, **exc.to_json()})
        if progress:
            progress("fixing", index, len(todo))
    return out


def apply_one(engine: Any, f: Finding, ctx: Any, *, refund_policy: Any = None,
              decision: str | None = None) -> tuple[str, dict[str, Any]]:
    """One confirmed finding (or an agent's `decision` on it), in its own transaction: ("applied", result) or
    ("skipped", why); raises SupportdeskError when the fix itself is refused (nothing posted)."""
    with write_session(engine) as session:
        early = recheck(session, f)
        if early is not None:
            return early
        return "applied", {**finding_ref(f), **apply_fix(session, f, ctx, refund_policy=refund_policy,
                                                    decision=decision)}


def recheck(session: Session, f: Finding) -> tuple[str, dict[str, Any]] | None:
    """None when `f` still stands with the numbers confirmed (its account locked); else what to report:
    the first result when its key was used already, or why it is skipped."""
    where = finding_ref(f)
    lock_account(session, f.account_id or "")
    first = session.get(IdempotencyKey, f.key)
    if first is not None:  # done already under this very key (another agent, or an earlier run)
        return "applied", {**where, **first.result, "replayed": True}
    fresh = redetect(session, f)
    if fresh is None:
        return "skipped", {**where, "why": "vanished",
                           "message": f"{f.kind} no longer stands (changed meanwhile); nothing posted"}
    changes = fresh.changes_from(f)
    if changes:
        return "skipped", {**where, "why": "changed", "changes": changes,
                           "message": f"{f.kind} changed since it was confirmed ({'; '.join(changes)}); "
                                      "nothing posted: reconcile again and confirm what stands now"}
    return None


def finding_ref(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind, "idempotency_key": f.key, "account_id": f.account_id, "purchase_id": f.purchase_id,
            "store_transaction_id": f.store_transaction_id}


def redetect(session: Session, f: Finding) -> Finding | None:
    """The same finding as it stands now (same identity, perhaps other numbers), or None when it is gone."""
    scope = Scope(account_id=f.account_id, store=f.store)
    return next((x for x in DETECTOR_OF[f.kind](session, scope) if x.identity == f.identity), None)
