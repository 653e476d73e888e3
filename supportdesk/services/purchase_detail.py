"""One purchase, read-only: our records and the store's on one timeline, the region then and the refund decision now.

`detail` returns a plain dict (money as integer minor units plus an ISO currency code):
  purchase         the purchase row with `handle` and `price` (as `refunds.purchase_json`)
  store_record     the store's record (state, charge/refund times and amounts, dispute) or None
  refund           our refund row or None
  notifications    store notifications received for its store transaction id
  consumption      Apple consumption requests for it (with `answer_due_at`)
  ledger           entries it caused (ref = purchase id or store transaction id) and their reversals, by seq
  flags            review flags on it
  audit            audit records targeting it, its refund, its flags or its ledger entries, by seq
  region           the region verdict at the purchase time (`regions.availability_at_purchase`)
  decision         the refund decision now (`refunds.decide`): outcome, rule, explanation...
  timeline         every dated event above, oldest first: {at, source, event, ref, amount_minor, currency}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from supportdesk.db.models import (
    Account,
    AuditRecord,
    ConsumptionRequest,
    LedgerEntry,
    Purchase,
    Refund,
    ReviewFlag,
    StoreNotification,
    StoreRecord,
)
from supportdesk.domain import refunds as rules
from supportdesk.services import refunds
from supportdesk.services.regions import availability_at_purchase

AUDIT_KEYS = ("seq", "at", "actor", "action", "target", "ticket_id", "reason")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # SQLite hands back naive UTC times


def _event(at: datetime | None, source: str, event: str, ref: str | None = None,
           amount_minor: int | None = None, currency: str | None = None) -> dict[str, Any] | None:
    if at is None:
        return None
    return {"at": _aware(at), "source": source, "event": event, "ref": ref, "amount_minor": amount_minor,
            "currency": currency}


def store_record_json(sr: StoreRecord | None) -> dict[str, Any] | None:
    if sr is None:
        return None
    dispute = (sr.raw or {}).get("dispute")
    return {"store": sr.store, "store_transaction_id": sr.store_transaction_id, "order_id": sr.order_id,
            "state": sr.state, "purchased_at": sr.purchased_at, "price_minor": sr.price_minor,
            "currency": sr.currency, "refunded_at": sr.refunded_at, "refunded_minor": sr.refunded_minor,
            "refund_reason": sr.refund_reason, "fetched_at": sr.fetched_at,
            "dispute": {"status": dispute.get("status"), "reason": dispute.get("reason"),
                        "amount_minor": dispute.get("amount"), "created": dispute.get("created")}
            if isinstance(dispute, dict) else None}


def _ledger(session: Session, p: Purchase) -> list[LedgerEntry]:
    caused = list(session.exec(select(LedgerEntry).where(
        LedgerEntry.account_id == p.account_id,
        col(LedgerEntry.ref).in_([p.purchase_id, p.store_transaction_id]))))
    ids = [e.entry_id for e in caused]
    reversals = list(session.exec(select(LedgerEntry).where(col(LedgerEntry.reverses).in_(ids)))) if ids else []
    seen = {e.entry_id: e for e in [*caused, *reversals]}
    return sorted(seen.values(), key=lambda e: e.seq or 0)


def _audit(session: Session, targets: list[str]) -> list[dict[str, Any]]:
    rows = session.exec(select(AuditRecord).where(col(AuditRecord.target).in_(targets))
                        .order_by(col(AuditRecord.seq)))
    return [{k: getattr(r, k) for k in AUDIT_KEYS} for r in rows]


def _timeline(p: Purchase, sr: dict[str, Any] | None, refund: Refund | None, notes: list[StoreNotification],
              asks: list[ConsumptionRequest], ledger: list[LedgerEntry], flags: list[ReviewFlag],
              audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = [_event(p.purchased_at, "ours", f"purchase {p.coins:,} coins, {p.status}", p.purchase_id,
                     p.price_minor, p.currency)]
    if sr is not None:
        events.append(_event(sr["purchased_at"], "store", f"{sr['store']} charge", sr["store_transaction_id"],
                             sr["price_minor"], sr["currency"]))
        events.append(_event(sr["refunded_at"], "store", f"{sr['store']} {sr['state']}"
                             + (f" ({sr['refund_reason']})" if sr["refund_reason"] else ""),
                             sr["store_transaction_id"], sr["refunded_minor"], sr["currency"]))
        d = sr["dispute"]
        if d and isinstance(d.get("created"), int | float):
            events.append(_event(datetime.fromtimestamp(d["created"], tz=UTC), "store",
                                 f"dispute {d['status']}", None, d.get("amount_minor"), sr["currency"]))
    if refund is not None:
        events.append(_event(refund.created_at, "ours", f"refund requested by {refund.initiated_by}",
                             refund.refund_id, refund.amount_minor, refund.currency))
        events.append(_event(refund.completed_at, "ours", f"refund {refund.status}, {refund.coins_clawed:,} coins "
                             "clawed back", refund.refund_id, refund.amount_minor, refund.currency))
    events += [_event(n.received_at, "store", f"notification {n.kind}", n.notification_id) for n in notes]
    for a in asks:
        due = f"{_aware(a.answer_due_at):%Y-%m-%d %H:%M} UTC"
        events.append(_event(a.requested_at, "store", f"consumption request, answer due {due}", a.ticket_id))
    events += [_event(e.at, "ledger", f"{e.kind} {e.amount:+,} {e.asset}", e.entry_id) for e in ledger]
    events += [_event(f.created_at, "review", f"flag {f.rule} ({f.status})", f.flag_id) for f in flags]
    events += [_event(r["at"], "audit", f"{r['action']} by {r['actor']}", r["target"]) for r in audit]
    return sorted((e for e in events if e is not None), key=lambda e: e["at"])


def detail(session: Session, target: str, now: datetime, policy: rules.Policy | None = None) -> dict[str, Any]:
    """Everything about one purchase (by purchase id, store transaction id or order id); raises NotFound."""
    p = refunds.resolve_purchase(session, target)
    sr = store_record_json(refunds._store_record(session, p))  # noqa: SLF001
    refund = session.exec(select(Refund).where(Refund.purchase_id == p.purchase_id)).first()
    txn = p.store_transaction_id
    notes = list(session.exec(select(StoreNotification).where(StoreNotification.store_transaction_id == txn)
                              .order_by(col(StoreNotification.received_at))))
    asks = list(session.exec(select(ConsumptionRequest).where(ConsumptionRequest.store_transaction_id == txn)))
    ledger = _ledger(session, p)
    flags = list(session.exec(select(ReviewFlag).where(ReviewFlag.purchase_id == p.purchase_id)
                              .order_by(col(ReviewFlag.created_at))))
    targets = [p.purchase_id, txn, *([refund.refund_id] if refund else []), *(f.flag_id for f in flags),
               *(e.entry_id for e in ledger)]
    audit = _audit(session, targets)
    account = session.get(Account, p.account_id)
    decided = refunds.decide(session, p.purchase_id, now, policy)
    return {
        "purchase": refunds.purchase_json(session, p),
        "store_record": sr,
        "refund": refund.model_dump() if refund else None,
        "notifications": [n.model_dump() for n in notes],
        "consumption": [a.model_dump() for a in asks],
        "ledger": [{k: v for k, v in e.model_dump().items() if k != "seq"} for e in ledger],
        "flags": [f.model_dump() for f in flags],
        "audit": audit,
        "region": availability_at_purchase(session, p, account.birth_date if account else None),
        "decision": decided["decision"],
        "timeline": _timeline(p, sr, refund, notes, asks, ledger, flags, audit),
    }

