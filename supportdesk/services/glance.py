"""The account at a glance: its review flags, refunds and chargebacks, why it has its status, lifetime spend per
currency, and its cashouts with the reasons for holds and rejections. Each part one indexed query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from supportdesk.db.models import AuditRecord, Cashout, Purchase, Refund, ReviewFlag, StoreRecord
from supportdesk.db.tables import table_of
from supportdesk.domain.money import format_money
from supportdesk.domain.refunds import TAKEN_BACK
from supportdesk.services.reads import Rows, among

if TYPE_CHECKING:
    from supportdesk.services.reads import AnySelect

OPEN = ("open",)
CHARGED = ("completed", *TAKEN_BACK)  # a purchase the customer paid for


def _last_status_change() -> AnySelect:
    return (core_select(col(AuditRecord.reason), col(AuditRecord.actor), col(AuditRecord.at),
                        col(AuditRecord.ticket_id), col(AuditRecord.after))
            .where(col(AuditRecord.target) == bindparam("a"), col(AuditRecord.action) == "account.status")
            .order_by(col(AuditRecord.seq).desc()).limit(1))


def status_why(session: Session, account: dict[str, Any]) -> dict[str, Any]:
    """The status with the last audited change that set it (reason, who, when), else: as imported."""
    found = Rows(session).tuples(_last_status_change, a=account["account_id"])
    status = account["status"]
    if not found or (found[0][4] or {}).get("status") != status:
        return {"status": status, "reason": None, "by": None, "at": None, "source": "import"}
    reason, actor, at, ticket_id, _ = found[0]
    return {"status": status, "reason": reason, "by": actor, "at": at, "source": "audit", "ticket_id": ticket_id}


_FLAG = ("flag_id", "rule", "score", "status", "purchase_id", "decided_by", "decided_at", "reason")


def _flags() -> AnySelect:
    return (select(*(getattr(ReviewFlag, name) for name in _FLAG)).where(ReviewFlag.account_id == bindparam("a"))
            .order_by(col(ReviewFlag.score).desc(), col(ReviewFlag.flag_id)))


def flags(session: Session, account_id: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"open": [], "decided": []}
    for f in Rows(session).dicts(_flags, a=account_id):
        out["open" if f["status"] in OPEN else "decided"].append(f)
    return out


def _refunded() -> AnySelect:
    return (select(Refund.purchase_id).join(Purchase, col(Purchase.purchase_id) == Refund.purchase_id)
            .where(Purchase.account_id == bindparam("a")))


def _taken_back() -> AnySelect:
    return select(Purchase.purchase_id, Purchase.store_transaction_id, Purchase.status).where(
        col(Purchase.account_id) == bindparam("a"), among(Purchase.status, TAKEN_BACK))


def _store_records() -> AnySelect:
    return select(StoreRecord.store_transaction_id, StoreRecord.state, StoreRecord.raw).where(
        col(StoreRecord.account_id) == bindparam("a"))


def refunds(session: Session, account_id: str) -> dict[str, int]:
    """Refunds of the account's purchases (our refund rows, and purchases the store refunded or revoked), and
    chargebacks (a purchase charged back, or a store record that says so) and disputes, once per purchase."""
    rows = Rows(session)
    refunded = {pid for (pid,) in rows.tuples(_refunded, a=account_id)}
    charged_back: set[str] = set()
    for pid, txn, status in rows.tuples(_taken_back, a=account_id):
        (charged_back.add(txn) if status == "charged_back" else refunded.add(pid))
    disputes = 0
    for txn, state, raw in rows.tuples(_store_records, a=account_id):
        if state == "charged_back":
            charged_back.add(txn)
        disputes += isinstance(raw, dict) and "dispute" in raw
    return {"refunds": len(refunded), "chargebacks": len(charged_back), "disputes": disputes}


def _paid() -> AnySelect:
    return (select(Purchase.currency, func.count(), func.sum(Purchase.price_minor))
            .where(Purchase.account_id == bindparam("a"), among(Purchase.status, CHARGED))
            .group_by(Purchase.currency))


def _back_ours() -> AnySelect:
    return (select(Refund.currency, func.sum(Refund.amount_minor))
            .join(Purchase, col(Purchase.purchase_id) == Refund.purchase_id)
            .where(Purchase.account_id == bindparam("a"), col(Refund.status) == "succeeded").group_by(Refund.currency))


def _back_store() -> AnySelect:
    return (select(Purchase.currency, func.sum(Purchase.price_minor))
            .where(Purchase.account_id == bindparam("a"), among(Purchase.status, TAKEN_BACK),
                   col(Purchase.purchase_id).not_in(select(Refund.purchase_id)))
            .group_by(Purchase.currency))


def spend(session: Session, account_id: str) -> list[dict[str, Any]]:
    """What the account paid, per currency (minor units), and what went back: our succeeded refunds, and the
    price of a purchase the store refunded, revoked or charged back where we hold no refund row for it."""
    rows = Rows(session)
    paid = rows.tuples(_paid, a=account_id)
    if not paid:
        return []
    back: dict[str, int] = {}
    for currency, total in [*rows.tuples(_back_ours, a=account_id), *rows.tuples(_back_store, a=account_id)]:
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


def summary(session: Session, account: dict[str, Any], cashouts: list[dict[str, Any]]) -> dict[str, Any]:
    """The account (its row as a dict) at a glance."""
    aid = account["account_id"]
    return {"status": status_why(session, account), "flags": flags(session, aid), "refunds": refunds(session, aid),
            "spend": spend(session, aid), "cashouts": cashout_counts(cashouts)}


def _cashouts() -> AnySelect:
    return (select(*table_of(Cashout).c).where(Cashout.creator_id == bindparam("a"))
            .order_by(col(Cashout.at).desc()).limit(bindparam("n")))


def creator_cashouts(session: Session, creator_id: str, limit: int) -> list[dict[str, Any]]:
    rows = Rows(session).dicts(_cashouts, a=creator_id, n=limit)
    return cashout_reasons(session, rows) if rows else []

