"""Find accounts by any key, and tell one account's whole money story."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from sqlalchemy import String, and_, bindparam, func
from sqlmodel import Session, col, select

from supportdesk.db.models import (
    Account,
    GiftEvent,
    LedgerEntry,
    Purchase,
    Refund,
    StoreRecord,
    Ticket,
)
from supportdesk.domain.query import Query, parse_query
from supportdesk.errors import Ambiguous, NotFound
from supportdesk.services import glance
from supportdesk.services.regions import availability_for_purchases
from supportdesk.services.tickets import with_deadlines

SEARCH_LIMIT = 50
STORY_LIMIT = 500
LEDGER_PAGE = 200  # the newest entries the story shows; `ledger_page` pages on from `ledger_next`
AMBIGUOUS_SHOWN = 5


def account_summary(a: Account) -> dict[str, Any]:
    return {
        "account_id": a.account_id, "handle": a.handle, "email": a.email, "country": a.country,
        "kind": a.kind, "status": a.status, "coin_balance": a.coin_balance, "diamond_balance": a.diamond_balance,
    }


def _handle_prefix(dialect: str) -> Any:
    """Handles starting with :v, any case: lower(handle) LIKE :pattern on both engines, on the lower(handle) index
    (migration 0005 gives PostgreSQL's a pattern operator class; SQLite needs the range to use its)."""
    lowered = func.lower(bindparam("v", type_=String))
    column = func.lower(Account.handle)
    where = column.like(func.lower(bindparam("pattern", type_=String)), escape="\\")
    if dialect == "sqlite":
        where = and_(column >= lowered, column < lowered.concat(func.char(0x10FFFF)), where)
    return where


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@cache
def _statements(key: str, exact: bool, dialect: str) -> tuple[Any, ...]:
    """The statements for one key, built once per process with bound parameters, so SQLAlchemy's compiled cache
    hits and a batch of lookups pays for building none of them again."""
    value = bindparam("v", type_=String)

    def via(model: Any, column: Any) -> Any:
        return select(Account).join(model, model.account_id == Account.account_id).where(column == value)

    if key == "account_id":
        return (select(Account).where(Account.account_id == value),)
    if key == "handle" and exact:
        return (select(Account).where(func.lower(Account.handle) == func.lower(value)),)
    if key == "handle":
        return (select(Account).where(_handle_prefix(dialect)).order_by(Account.handle),)
    if key == "email":
        return (select(Account).where(func.lower(Account.email) == func.lower(value)),)
    if key == "purchase_id":
        return (via(Purchase, Purchase.purchase_id),)
    if key == "store_id":
        return (via(Purchase, Purchase.store_transaction_id), via(StoreRecord, StoreRecord.store_transaction_id),
                via(StoreRecord, StoreRecord.order_id))
    if key == "ticket_id":
        return (via(Ticket, Ticket.ticket_id),)
    return ()


@cache
def _limited(key: str, exact: bool, dialect: str) -> tuple[Any, ...]:
    """_statements as search (a page and one more) and resolve_account (a few, in id order) run them."""
    if exact:
        return tuple(s.order_by(Account.account_id).limit(AMBIGUOUS_SHOWN) for s in _statements(key, exact, dialect))
    return tuple(s.limit(SEARCH_LIMIT + 1) for s in _statements(key, exact, dialect))


def _candidates(q: Query, exact: bool, dialect: str) -> Iterator[tuple[str, Any, dict[str, str]]]:
    """(key, statement, its parameters) for the accounts holding the text under every key it could be, likeliest
    first."""
    for key in q.keys:
        value = q.value(key)
        params = {"v": value}
        if key == "handle" and not exact:
            params["pattern"] = _like_prefix(value)
        for stmt in _limited(key, exact, dialect):
            yield key, stmt, params


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def search(session: Session, text: str) -> dict[str, Any]:
    """Accounts matching the text under any key (handles by prefix, any case), likeliest key first."""
    q = parse_query(text)
    found: dict[str, Account] = {}
    for _key, stmt, params in _candidates(q, exact=False, dialect=_dialect(session)):
        for account in session.exec(stmt, params=params):
            found.setdefault(account.account_id, account)
        if len(found) > SEARCH_LIMIT:
            break
    accounts = list(found.values())
    return {"query": {"text": q.text, "kind": q.kind, "keys": list(q.keys)},
            "accounts": [account_summary(a) for a in accounts[:SEARCH_LIMIT]],
            "more": len(accounts) > SEARCH_LIMIT}


def resolve_account(session: Session, text: str) -> Account:
    """The one account the query names: the likeliest key that matches wins; two accounts under that key (handles
    that differ only in case, a shared email) are an error naming both, never a silent pick."""
    q = parse_query(text)
    for key, stmt, params in _candidates(q, exact=True, dialect=_dialect(session)):
        accounts = {a.account_id: a for a in session.exec(stmt, params=params)}
        if len(accounts) == 1:
            return next(iter(accounts.values()))
        if accounts:
            names = [f"{a.handle} ({a.account_id}, {a.email})" for a in accounts.values()]
            raise Ambiguous(f"{q.text!r} matches {len(names)} accounts by {key.replace('_', ' ')}: "
                            f"{'; '.join(names)}; use the account id", details=names)
    raise NotFound(f"no account matches {q.text!r} (searched as {', '.join(k.replace('_', ' ') for k in q.keys)})")


def _sums(session: Session, account_id: str) -> dict[str, tuple[int, int]]:
    """(sum, count) per asset in one pass over the (account_id, asset, seq, amount) index (migration 0010)."""
    rows = session.exec(select(LedgerEntry.asset, func.coalesce(func.sum(LedgerEntry.amount), 0), func.count())
                        .where(LedgerEntry.account_id == account_id).group_by(LedgerEntry.asset)).all()
    return {asset: (int(total), int(n)) for asset, total, n in rows}


def balances(session: Session, account: Account, sums: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    sums = _sums(session, account.account_id) if sums is None else sums
    out = {}
    for asset, cached in (("coin", account.coin_balance), ("diamond", account.diamond_balance)):
        ledger = sums.get(asset, (0, 0))[0]
        out[asset] = {"ledger": ledger, "cached": cached, "drift": cached - ledger}
    return out


def _rows(session: Session, stmt: Any) -> list[dict[str, Any]]:
    """The rows as dicts, read as plain rows (no ORM objects: a long account's page costs what its rows cost)."""
    table = stmt.column_descriptions[0]["entity"].__table__  # the model selected, whatever it is joined to
    return [dict(row) for row in session.execute(stmt.with_only_columns(*table.c).limit(STORY_LIMIT)).mappings()]


def ledger_page(session: Session, account_id: str, before_seq: int | None = None,
                limit: int | None = None) -> dict[str, Any]:
    """Entries newest first, `limit` at a time (keyset on seq, the (account_id, seq) index): `next` is the cursor
    for the page after this one, None at the oldest entry."""
    limit = limit or LEDGER_PAGE
    stmt = select(*LedgerEntry.__table__.c).where(LedgerEntry.account_id == account_id)  # type: ignore[attr-defined]
    if before_seq is not None:
        stmt = stmt.where(col(LedgerEntry.seq) < before_seq)
    rows = [dict(r) for r in session.execute(stmt.order_by(col(LedgerEntry.seq).desc()).limit(limit + 1)).mappings()]
    more = len(rows) > limit
    return {"entries": [_entry(e) for e in rows[:limit]], "next": rows[limit - 1]["seq"] if more else None}


def ledger_check(session: Session, account_id: str) -> dict[str, Any]:
    """The ledger's side of the story: both balances summed with drift, the debt, and how many entries (one pass
    over the account's (account_id, asset, seq, amount) index; what `story(check_ledger=False)` leaves out)."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id!r}")
    sums = _sums(session, account_id)
    bal = balances(session, account, sums)
    return {"balances": bal, "debt": {asset: max(0, -bal[asset]["ledger"]) for asset in ("coin", "diamond")},
            "ledger_total": sum(n for _, n in sums.values())}


def _unchecked(a: Account) -> dict[str, Any]:
    """The cached balances only (ledger and drift None): summing a long ledger waits for `ledger_check`."""
    return {"balances": {asset: {"ledger": None, "cached": cached, "drift": None}
                         for asset, cached in (("coin", a.coin_balance), ("diamond", a.diamond_balance))},
            "debt": {"coin": max(0, -a.coin_balance), "diamond": max(0, -a.diamond_balance)}, "ledger_total": None}


def story(session: Session, query: str, *, check_ledger: bool = True) -> dict[str, Any]:
    """The account, both balances with drift, and everything that moved its money, newest first (the ledger's
    newest page; `ledger_next` pages on); `summary` is the account at a glance. Without `check_ledger` the
    balances are the cached ones (ledger, drift and ledger_total None) and the caller runs `ledger_check` next:
    a screen shows the account without waiting for a 200k-entry sum."""
    a = resolve_account(session, query)
    aid = a.account_id
    checked = ledger_check(session, aid) if check_ledger else _unchecked(a)
    account = a.model_dump()
    account["debt"] = checked["debt"]  # the ledger is the truth (the cached balance until it is checked)
    page = ledger_page(session, aid)
    cashouts = glance.creator_cashouts(session, aid, STORY_LIMIT)
    purchases = _rows(session, select(Purchase).where(Purchase.account_id == aid)
                      .order_by(col(Purchase.purchased_at).desc()))
    verdicts = availability_for_purchases(session, purchases, a.birth_date)  # one query for every purchase
    for p in purchases:
        p["region_at_purchase"] = verdicts[p["purchase_id"]]
    return {
        "account": account,
        "balances": checked["balances"],
        "purchases": purchases,
        "ledger": page["entries"],
        "ledger_total": checked["ledger_total"],
        "ledger_next": page["next"],
        "gifts": {
            "sent": _rows(session, select(GiftEvent).where(GiftEvent.sender_id == aid)
                          .order_by(col(GiftEvent.at).desc())),
            "received": _rows(session, select(GiftEvent).where(GiftEvent.creator_id == aid)
                              .order_by(col(GiftEvent.at).desc())),
        },
        "cashouts": cashouts,
        "tickets": with_deadlines(session, _rows(session, select(Ticket).where(Ticket.account_id == aid)
                                                 .order_by(col(Ticket.created_at).desc()))),
        "refunds": _rows(session, select(Refund).join(Purchase).where(Purchase.account_id == aid)),
        "summary": glance.summary(session, a, cashouts),
    }


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "seq"}
