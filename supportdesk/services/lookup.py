"""Find accounts by any key, and tell one account's whole money story."""

from __future__ import annotations

from collections.abc import Iterator
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
from supportdesk.services.tickets import with_deadlines

SEARCH_LIMIT = 50
STORY_LIMIT = 500


def account_summary(a: Account) -> dict[str, Any]:
    return {
        "account_id": a.account_id, "handle": a.handle, "email": a.email, "country": a.country,
        "kind": a.kind, "status": a.status, "coin_balance": a.coin_balance, "diamond_balance": a.diamond_balance,
    }


def _candidates(q: Query, exact: bool) -> Iterator[Any]:
    """Queries for the accounts matching the query, most specific key first; each selects whole accounts."""
    t = q.text

    def via(model: Any, column: Any) -> Any:
        return select(Account).join(model, model.account_id == Account.account_id).where(column == t)

    if q.kind in ("account_id", "text"):
        yield select(Account).where(Account.account_id == t)
    if q.kind in ("handle", "text"):
        handle = t if t.startswith("@") else "@" + t
        if exact:
            yield select(Account).where(Account.handle == handle)
            yield select(Account).where(func.lower(Account.handle) == handle.lower())
        else:
            upper = handle[:-1] + chr(ord(handle[-1]) + 1)
            yield (select(Account)
                   .where(Account.handle >= handle, Account.handle < upper,
                          col(Account.handle).startswith(handle, autoescape=True))
                   .order_by(Account.handle))
    if q.kind in ("email", "text") and "@" in t:
        yield select(Account).where(func.lower(Account.email) == t.lower())
    if q.kind in ("purchase_id", "text"):
        yield via(Purchase, Purchase.purchase_id)
    if q.kind in ("web_charge_id", "google_order_id", "apple_id", "text"):
        yield via(Purchase, Purchase.store_transaction_id)
        yield via(StoreRecord, StoreRecord.store_transaction_id)
        yield via(StoreRecord, StoreRecord.order_id)
    if q.kind == "ticket_id":
        yield via(Ticket, Ticket.ticket_id)


def search(session: Session, text: str) -> dict[str, Any]:
    q = parse_query(text)
    found: dict[str, Account] = {}
    for stmt in _candidates(q, exact=False):
        for account in session.exec(stmt.limit(SEARCH_LIMIT)):
            found.setdefault(account.account_id, account)
        if len(found) >= SEARCH_LIMIT:
            break
    accounts = list(found.values())[:SEARCH_LIMIT]
    return {"query": {"text": q.text, "kind": q.kind}, "accounts": [account_summary(a) for a in accounts]}


def resolve_account(session: Session, text: str) -> Account:
    """The account the query names: the first key that matches wins (one query in the usual case)."""
    q = parse_query(text)
    for stmt in _candidates(q, exact=True):
        account = session.exec(stmt.limit(1)).first()
        if account is not None:
            return account
    raise NotFound(f"no account matches {q.text!r} (searched as {q.kind.replace('_', ' ')})")


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
        "tickets": with_deadlines(session, _rows(session, select(Ticket).where(Ticket.account_id == aid)
                                                 .order_by(col(Ticket.created_at).desc()))),
        "refunds": _rows(session, select(Refund).join(Purchase).where(Purchase.account_id == aid)),
    }


def _entry(e: LedgerEntry) -> dict[str, Any]:
    row = e.model_dump()
    row.pop("seq", None)
    return row
