"""The account at a glance: its review flags, refunds and chargebacks, why it has its status, lifetime spend per
currency, and its cashouts with the reasons for holds and rejections. Each part one indexed query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, String, bindparam, cast, func, literal_column, null, union_all
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


# `_money`'s parts, in its rows' first column: (part, text, text, text, number, number), the texts first and the
# numbers last, the rest NULL.
REFUNDED, TAKEN, PAID, BACK_OURS, BACK_STORE = range(5)


def _money() -> AnySelect:
    """What the refund counts and the spend are made of, in one statement (one round trip, not five): the
    purchases our refund rows refunded, those the store took back, and what was paid and given back per currency,
    each row tagged with its part (REFUNDED...)."""
    text, number = (lambda: cast(null(), String)), (lambda: cast(null(), BigInteger))

    def part(tag: int, stmt: AnySelect, texts: int, numbers: int) -> AnySelect:
        columns = list(stmt.selected_columns)
        return stmt.with_only_columns(
            literal_column(str(tag)).label("part"), *columns[:texts], *(text() for _ in range(3 - texts)),
            *(number() for _ in range(2 - numbers)), *columns[texts:], maintain_column_froms=True)

    return union_all(part(REFUNDED, _refunded(), 1, 0), part(TAKEN, _taken_back(), 3, 0),  # type: ignore[return-value]
                     part(PAID, _paid(), 1, 2), part(BACK_OURS, _back_ours(), 1, 1),
                     part(BACK_STORE, _back_store(), 1, 1))


def money(session: Session, account_id: str) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """The refund counts and the spend per currency, from one statement (`_money`) and the store records."""
    parts: tuple[list[tuple[Any, ...]], ...] = ([], [], [], [], [])
    for row in Rows(session).tuples(_money, a=account_id):
        parts[row[0]].append(row[1:])
    refunded = [(pid,) for pid, *_ in parts[REFUNDED]]
    taken = [(pid, txn, status) for pid, txn, status, _, _ in parts[TAKEN]]
    paid = [(currency, n, total) for currency, _, _, n, total in parts[PAID]]
    back = [(currency, total) for currency, _, _, _, total in (*parts[BACK_OURS], *parts[BACK_STORE])]
    return _refund_counts(session, account_id, refunded, taken), _spend(paid, back)


def _refund_counts(session: Session, account_id: str, refunded_rows: list[tuple[Any, ...]],
                   taken_back: list[tuple[Any, ...]]) -> dict[str, int]:
    """Refunds of the account's purchases (our refund rows, and purchases the store refunded or revoked), and
    chargebacks (a purchase charged back, or a store record that says so) and disputes, once per purchase."""
    refunded = {pid for (pid,) in refunded_rows}
    charged_back: set[str] = set()
    for pid, txn, status in taken_back:
        (charged_back.add(txn) if status == "charged_back" else refunded.add(pid))
    disputes = 0
    for txn, state, raw in Rows(session).tuples(_store_records, a=account_id):
        if state == "charged_back":
            charged_back.add(txn)
        disputes += isinstance(raw, dict) and "dispute" in raw
    return {"refunds": len(refunded), "chargebacks": len(charged_back), "disputes": disputes}


def _spend(paid: list[tuple[Any, ...]], given_back: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """What the account paid, per currency (minor units), and what went back: our succeeded refunds, and the
    price of a purchase the store refunded, revoked or charged back where we hold no refund row for it."""
    back: dict[str, int] = {}
    for currency, total in given_back:
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
    status, found_flags = status_why(session, account), flags(session, aid)
    refund_counts, spent = money(session, aid)
    return {"status": status, "flags": found_flags, "refunds": refund_counts, "spend": spent,
            "cashouts": cashout_counts(cashouts)}


def _cashouts() -> AnySelect:
    return (select(*table_of(Cashout).c).where(Cashout.creator_id == bindparam("a"))
            .order_by(col(Cashout.at).desc()).limit(bindparam("n")))


def creator_cashouts(session: Session, creator_id: str, limit: int) -> list[dict[str, Any]]:
    rows = Rows(session).dicts(_cashouts, a=creator_id, n=limit)
    return cashout_reasons(session, rows) if rows else []

