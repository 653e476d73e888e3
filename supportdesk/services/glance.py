"""The account at a glance: its review flags, refunds and chargebacks, why it has its status, lifetime spend per
currency, and its cashouts with the reasons for holds and rejections. Each part one indexed query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from supportdesk.db.models import Account, AuditRecord, Cashout, Purchase, Refund, ReviewFlag, StoreRecord
from supportdesk.domain.money import format_money
from supportdesk.domain.refunds import TAKEN_BACK

OPEN = ("open",)
CHARGED = ("completed", *TAKEN_BACK)  # a purchase the customer paid for


def status_why(session: Session, account: Account) -> dict[str, Any]:
    """The status with the last audited change that set it (reason, who, when), else: as imported."""
    rec = session.exec(select(AuditRecord).where(AuditRecord.target == account.account_id,
                                                 AuditRecord.action == "account.status")
                       .order_by(col(AuditRecord.seq).desc()).limit(1)).first()
    if rec is None or (rec.after or {}).get("status") != account.status:
        return {"status": account.status, "reason": None, "by": None, "at": None, "source": "import"}
    return {"status": account.status, "reason": rec.reason, "by": rec.actor, "at": rec.at, "source": "audit",
            "ticket_id": rec.ticket_id}


def flags(session: Session, account_id: str) -> dict[str, list[dict[str, Any]]]:
    rows = session.exec(select(ReviewFlag).where(ReviewFlag.account_id == account_id)
                        .order_by(col(ReviewFlag.score).desc(), col(ReviewFlag.flag_id))).all()
    out: dict[str, list[dict[str, Any]]] = {"open": [], "decided": []}
    for f in rows:
        out["open" if f.status in OPEN else "decided"].append({
            "flag_id": f.flag_id, "rule": f.rule, "score": f.score, "status": f.status,
            "purchase_id": f.purchase_id, "decided_by": f.decided_by, "decided_at": f.decided_at,
            "reason": f.reason})
    return out


def refunds(session: Session, account_id: str) -> dict[str, int]:
    """Refunds of the account's purchases (our refund rows, and purchases the store refunded or revoked), and
    chargebacks (a purchase charged back, or a store record that says so) and disputes, once per purchase."""
    refunded = set(session.exec(select(Refund.purchase_id).join(Purchase).where(
        Purchase.account_id == account_id)).all())
    charged_back: set[str] = set()
    for pid, txn, status in session.exec(select(Purchase.purchase_id, Purchase.store_transaction_id, Purchase.status)
                                         .where(Purchase.account_id == account_id,
                                                col(Purchase.status).in_(TAKEN_BACK))):
        (charged_back.add(txn) if status == "charged_back" else refunded.add(pid))
    disputes = 0
    for txn, state, raw in session.exec(select(StoreRecord.store_transaction_id, StoreRecord.state, StoreRecord.raw)
                                        .where(StoreRecord.account_id == account_id)):
        if state == "charged_back":
            charged_back.add(txn)
        disputes += isinstance(raw, dict) and "dispute" in raw
    return {"refunds": len(refunded), "chargebacks": len(charged_back), "disputes": disputes}


def spend(session: Session, account_id: str) -> list[dict[str, Any]]:
    """What the account paid, per currency (minor units), and what went back: our succeeded refunds, and the
    price of a purchase the store refunded, revoked or charged back where we hold no refund row for it."""
    paid = session.exec(select(Purchase.currency, func.count(), func.sum(Purchase.price_minor))
                        .where(Purchase.account_id == account_id, col(Purchase.status).in_(CHARGED))
                        .group_by(Purchase.currency)).all()
    back: dict[str, int] = {}
    ours = select(Refund.purchase_id)
    for currency, total in [
        *session.exec(select(Refund.currency, func.sum(Refund.amount_minor)).join(Purchase)
                      .where(Purchase.account_id == account_id, Refund.status == "succeeded")
                      .group_by(Refund.currency)).all(),
        *session.exec(select(Purchase.currency, func.sum(Purchase.price_minor))
                      .where(Purchase.account_id == account_id, col(Purchase.status).in_(TAKEN_BACK),
                             col(Purchase.purchase_id).not_in(ours))
                      .group_by(Purchase.currency)).all(),
    ]:
        back[currency] = back.get(currency, 0) + int(total or 0)
    out = []
    for currency, n, total in sorted(paid):
        refunded = back.get(currency, 0)
        out.append({"currency": currency, "purchases": int(n), "spent_minor": int(total or 0),
                    "refunded_minor": refunded, "spent": format_money(int(total or 0), currency),
                    "refunded": format_money(refunded, currency)})
    return out


def cashout_reasons(session: Session, cashouts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each cashout with the rule of the review flag holding it (`hold_flag_rule`)."""
    ids = sorted({c["hold_flag_id"] for c in cashouts if c.get("hold_flag_id")})
    rules = dict(session.exec(select(ReviewFlag.flag_id, ReviewFlag.rule)
                              .where(col(ReviewFlag.flag_id).in_(ids))).all()) if ids else {}
    return [{**c, "hold_flag_rule": rules.get(c.get("hold_flag_id") or "")} for c in cashouts]


def cashout_counts(cashouts: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in cashouts:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return counts


def summary(session: Session, account: Account, cashouts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"status": status_why(session, account), "flags": flags(session, account.account_id),
            "refunds": refunds(session, account.account_id), "spend": spend(session, account.account_id),
            "cashouts": cashout_counts(cashouts)}


def creator_cashouts(session: Session, creator_id: str, limit: int) -> list[dict[str, Any]]:
    rows = [dict(r) for r in session.execute(select(*Cashout.__table__.c)  # type: ignore[attr-defined]
                                             .where(Cashout.creator_id == creator_id)
                                             .order_by(col(Cashout.at).desc()).limit(limit)).mappings()]
    return cashout_reasons(session, rows)

