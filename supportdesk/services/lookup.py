"""Find accounts by any key, and tell one account's whole money story."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from supportdesk.db.models import (
    Account,
    Cashout,
    GiftEvent,
    LedgerEntry,
    Purchase,
    Refund,
    StoreRecord,
    Ticket,
)
from supportdesk.domain.query import Query, parse_query
from supportdesk.errors import NotFound
from supportdesk.services.regions import availability_for_purchases

SEARCH_LIMIT = 50
STORY_LIMIT = 500


def account_summary(a: Account) -> dict[str, Any]:
    return {
        "account_id": a.account_id, "handle": a.handle, "email": a.email, "country": a.country,
        "kind": a.kind, "status": a.status, "coin_balance": a.coin_balance, "diamond_balance": a.diamond_balance,
    }


def _ids_by_key(session: Session, q: Query, exact: bool) -> list[str]:
    """Account ids matching the query, most specific key first, without duplicates."""
    t = q.text
    found: list[str] = []

    def add(stmt: Any) -> None:
        for account_id in session.exec(stmt.limit(SEARCH_LIMIT)):
            if account_id and account_id not in found:
                found.append(account_id)

    if q.kind in ("account_id", "text"):
        add(select(Account.account_id).where(Account.account_id == t))
    if q.kind in ("handle", "text"):
        handle = t if t.startswith("@") else "@" + t
        if exact:
            add(select(Account.account_id).where(Account.handle == handle))
            add(select(Account.account_id).where(func.lower(Account.handle) == handle.lower()))
        else:
            upper = handle[:-1] + chr(ord(handle[-1]) + 1)
            add(select(Account.account_id)
                .where(Account.handle >= handle, Account.handle < upper,
                       col(Account.handle).startswith(handle, autoescape=True))
                .order_by(Account.handle))
    if q.kind in ("email", "text") and "@" in t:
        add(select(Account.account_id).where(func.lower(Account.email) == t.lower()))
    if q.kind in ("purchase_id", "text"):
        add(select(Purchase.account_id).where(Purchase.purchase_id == t))
    if q.kind in ("web_charge_id", "google_order_id", "apple_id", "text"):
        add(select(Purchase.account_id).where(Purchase.store_transaction_id == t))
        add(select(StoreRecord.account_id).where(StoreRecord.store_transaction_id == t))
        add(select(StoreRecord.account_id).where(StoreRecord.order_id == t))
    if q.kind == "ticket_id":
        add(select(Ticket.account_id).where(Ticket.ticket_id == t))
    return found


def search(session: Session, text: str) -> dict[str, Any]:
    q = parse_query(text)
    ids = _ids_by_key(session, q, exact=False)[:SEARCH_LIMIT]
    accounts = {a.account_id: a for a in session.exec(select(Account).where(col(Account.account_id).in_(ids)))}
    return {"query": {"text": q.text, "kind": q.kind}, "accounts": [account_summary(accounts[i]) for i in ids]}


def resolve_account(session: Session, text: str) -> Account:
    q = parse_query(text)
    ids = _ids_by_key(session, q, exact=True)
    if not ids:
        raise NotFound(f"no account matches {q.text!r} (searched as {q.kind.replace('_', ' ')})")
    account = session.get(Account, ids[0])
    assert account is not None
    return account


def balances(session: Session, account: Account) -> dict[str, Any]:
    sums = dict(
        session.exec(
            select(LedgerEntry.asset, func.coalesce(func.sum(LedgerEntry.amount), 0))
            .where(LedgerEntry.account_id == account.account_id).group_by(LedgerEntry.asset)
        ).all()
    )
    out = {}
    for asset, cached in (("coin", account.coin_balance), ("diamond", account.diamond_balance)):
        ledger = int(sums.get(asset, 0))
        out[asset] = {"ledger": ledger, "cached": cached, "drift": cached - ledger}
    return out


def _rows(session: Session, stmt: Any) -> list[dict[str, Any]]:
    return [row.model_dump() for row in session.exec(stmt.limit(STORY_LIMIT))]


def story(session: Session, query: str) -> dict[str, Any]:
    """The account, both balances with drift, and everything that moved its money, newest first."""
    a = resolve_account(session, query)
    aid = a.account_id
    ledger_total = session.exec(select(func.count()).where(LedgerEntry.account_id == aid)).one()
    account = a.model_dump()
    bal = balances(session, a)
    account["debt"] = {asset: max(0, -bal[asset]["ledger"]) for asset in ("coin", "diamond")}  # the ledger is the truth
    purchases = _rows(session, select(Purchase).where(Purchase.account_id == aid)
                      .order_by(col(Purchase.purchased_at).desc()))
    verdicts = availability_for_purchases(session, purchases, a.birth_date)  # one query for every purchase
    for p in purchases:
        p["region_at_purchase"] = verdicts[p["purchase_id"]]
    return {
        "account": account,
        "balances": bal,
        "purchases": purchases,
        "ledger": [_entry(e) for e in session.exec(
            select(LedgerEntry).where(LedgerEntry.account_id == aid).order_by(col(LedgerEntry.seq).desc())
            .limit(STORY_LIMIT))],
        "ledger_total": int(ledger_total),
        "gifts": {
            "sent": _rows(session, select(GiftEvent).where(GiftEvent.sender_id == aid)
                          .order_by(col(GiftEvent.at).desc())),
            "received": _rows(session, select(GiftEvent).where(GiftEvent.creator_id == aid)
                              .order_by(col(GiftEvent.at).desc())),
        },
        "cashouts": _rows(session, select(Cashout).where(Cashout.creator_id == aid).order_by(col(Cashout.at).desc())),
        "tickets": _rows(session, select(Ticket).where(Ticket.account_id == aid)
                         .order_by(col(Ticket.created_at).desc())),
        "refunds": _rows(session, select(Refund).join(Purchase).where(Purchase.account_id == aid)),
    }


def _entry(e: LedgerEntry) -> dict[str, Any]:
    row = e.model_dump()
    row.pop("seq", None)
    return row
