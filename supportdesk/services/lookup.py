"""Find accounts by any key, and tell one account's whole money story."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Dialect, Select, String, and_, bindparam, func, literal_column, union_all
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from supportdesk.db.driver import Compiled, fetch, held_cursor
from supportdesk.db.models import (
    Account,
    GiftEvent,
    LedgerEntry,
    Purchase,
    Refund,
    StoreRecord,
    Ticket,
)
from supportdesk.db.tables import table_of
from supportdesk.domain import regions as rg
from supportdesk.domain.query import FITS, KEYS, Query, keys_of, likely_keys, parse_query, query_text, spelled
from supportdesk.errors import Ambiguous, NotFound
from supportdesk.services import glance
from supportdesk.services.reads import Rows, prepared

if TYPE_CHECKING:
    from supportdesk.services.reads import AnySelect
from supportdesk.services.regions import region_rows, verdict_json
from supportdesk.services.tickets import with_deadlines

SEARCH_LIMIT = 50
STORY_LIMIT = 500
LEDGER_PAGE = 200  # the newest entries the story shows; `ledger_page` pages on from `ledger_next`
AMBIGUOUS_SHOWN = 5
SUMMARY = ("account_id", "handle", "email", "country", "kind", "status", "coin_balance", "diamond_balance")
# Keys that name one account at most (a primary key, or handles unique in any case): an exact lookup by them needs
# no ORDER BY and LIMIT to see a second account.
_UNIQUE = frozenset({"account_id", "handle", "purchase_id", "ticket_id"})
_PROBE = AMBIGUOUS_SHOWN + 1  # fewer rows than this from a probe are all the rows there are
_SUMMARY_COLUMNS = tuple(table_of(Account).c[name] for name in SUMMARY)


def account_summary(a: Account) -> dict[str, Any]:
    return {name: getattr(a, name) for name in SUMMARY}


def _summary(row: Any) -> dict[str, Any]:
    """A summary row (SUMMARY's columns, in order) as the dict lookups return: spelled out, twice as fast as
    dict(zip(...)) on the path every lookup takes."""
    account_id, handle, email, country, kind, status, coin_balance, diamond_balance = row
    return {"account_id": account_id, "handle": handle, "email": email, "country": country, "kind": kind,
            "status": status, "coin_balance": coin_balance, "diamond_balance": diamond_balance}


assert _summary(SUMMARY) == dict(zip(SUMMARY, SUMMARY, strict=True)), "_summary must follow SUMMARY"


def _handle_prefix(dialect: str, n: str = "") -> Any:
    """Handles starting with :v, any case: lower(handle) LIKE :pattern on both engines, on the lower(handle) index
    (migration 0005 gives PostgreSQL's a pattern operator class; SQLite needs the range to use its)."""
    lowered = func.lower(bindparam(f"v{n}", type_=String))
    column = func.lower(Account.handle)
    where: ColumnElement[bool] = column.like(func.lower(bindparam(f"pattern{n}", type_=String)), escape="\\")
    if dialect == "sqlite":
        where = and_(column >= lowered, column < lowered.concat(func.char(0x10FFFF)), where)
    return where


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _statements(key: str, exact: bool, dialect: str, n: str = "", probe: bool = False) -> tuple[Any, ...]:
    """The statements for one key: the summary columns of the accounts holding :v under it (through the table
    that holds the key), in id order and a few (exact: enough to name the accounts sharing it) or a page and one
    more (search). A probe (exact) takes a few rows in no order: no sort for the usual single match."""
    value = bindparam(f"v{n}", type_=String)
    accounts = core_select(*_SUMMARY_COLUMNS)

    def via(model: Any, column: Any) -> Any:
        return accounts.join(model, model.account_id == Account.account_id).where(column == value)

    if key == "account_id":
        found: tuple[Any, ...] = (accounts.where(col(Account.account_id) == value),)
    elif key == "handle" and exact:
        found = (accounts.where(func.lower(Account.handle) == func.lower(value)),)
    elif key == "handle":
        return (accounts.where(_handle_prefix(dialect, n)).order_by(Account.handle).limit(SEARCH_LIMIT + 1),)
    elif key == "email":
        found = (accounts.where(func.lower(Account.email) == func.lower(value)),)
    elif key == "purchase_id":
        found = (via(Purchase, Purchase.purchase_id),)
    elif key == "store_id":
        found = (via(Purchase, Purchase.store_transaction_id), via(StoreRecord, StoreRecord.store_transaction_id),
                 via(StoreRecord, StoreRecord.order_id))
    elif key == "ticket_id":
        found = (via(Ticket, Ticket.ticket_id),)
    else:
        return ()
    if exact and key in _UNIQUE:
        return found  # one account at most: nothing to order or cut
    if exact and probe and dialect == "sqlite":
        # SQLite steps a statement as its rows are fetched: `fetch(..., most=_PROBE)` stops after the probe's rows
        # with no LIMIT to bind (about 0.15 us of a 3 us lookup). A server sends every row it finds: a LIMIT.
        return found
    if exact and probe:
        return tuple(s.limit(_PROBE) for s in found)
    if exact:
        return tuple(s.order_by(Account.account_id).limit(AMBIGUOUS_SHOWN) for s in found)
    return tuple(s.limit(SEARCH_LIMIT + 1) for s in found)


@lru_cache(maxsize=512)  # keyed by the dialect object: one per engine
def _compiled(key: str, exact: bool, dialect: Dialect) -> tuple[Compiled, ...]:
    """The statements for one key compiled once per database (dialect) and kept: a lookup then costs the driver's
    execute and nothing else (sqlite3 and psycopg keep their own prepared statements for the same SQL text)."""
    return tuple(Compiled.of(stmt, dialect) for stmt in _statements(key, exact, dialect.name))


@lru_cache(maxsize=16)
def _exact(dialect: Dialect) -> dict[str, tuple[tuple[Compiled, Compiled], ...]]:
    """Key -> (probe, ordered statement) pairs for this database (one dict lookup per key for `resolve`): the
    probe is the ordered statement itself for a key naming one account at most."""
    table = {}
    for key in KEYS:
        ordered = _compiled(key, True, dialect)
        probes = ordered if key in _UNIQUE else tuple(
            Compiled.of(stmt, dialect) for stmt in _statements(key, True, dialect.name, probe=True))
        table[key] = tuple(zip(probes, ordered, strict=True))
    return table


@lru_cache(maxsize=512)
def _search_statement(keys: tuple[str, ...], dialect: Dialect) -> Compiled:
    """Every statement a search of a query with these keys runs, as one (UNION ALL, each part with its own limit),
    so a search is one round trip: rows come in the parts' order (likeliest key first), by handle within a part."""
    parts: list[Select[Any]] = []
    for i, key in enumerate(keys):
        for stmt in _statements(key, False, dialect.name, str(i)):
            sub = stmt.subquery()
            parts.append(core_select(literal_column(str(len(parts))).label("part"), *sub.c))
    return Compiled.of(union_all(*parts).order_by(literal_column("part"), literal_column("handle")), dialect)


def _search_values(q: Query) -> dict[str, str]:
    values = {}
    for i, key in enumerate(q.keys):
        values[f"v{i}"] = q.value(key)
        if key == "handle":
            values[f"pattern{i}"] = _like_prefix(q.value(key))
    return values


def _candidates(q: Query, exact: bool, dialect: Dialect) -> Iterator[tuple[str, Compiled, dict[str, str]]]:
    """(key, statement, its values) for the accounts holding the text under every key it could be, likeliest
    first."""
    for key in q.keys:
        value = q.value(key)
        values = {"v": value}
        if key == "handle" and not exact:
            values["pattern"] = _like_prefix(value)
        for stmt in _compiled(key, exact, dialect):
            yield key, stmt, values


def search(session: Session, text: str) -> dict[str, Any]:
    """Accounts matching the text under any key (handles by prefix, any case), likeliest key first."""
    q = parse_query(text)
    found: dict[str, dict[str, Any]] = {}
    cursor, dialect = held_cursor(session)
    stmt = _search_statement(q.keys, dialect)
    for row in fetch(cursor, dialect, stmt.sql, stmt.args(_search_values(q))):
        found.setdefault(row[1], _summary(row[1:]))
    accounts = list(found.values())
    return {"query": {"text": q.text, "kind": q.kind, "keys": list(q.keys)},
            "accounts": accounts[:SEARCH_LIMIT], "more": len(accounts) > SEARCH_LIMIT}


def resolve(session: Session, text: str) -> dict[str, Any]:
    """The summary of the one account the query names: the likeliest key that matches wins; two accounts under
    that key (handles that differ only in case, a shared email) are an error naming both, never a silent pick.
    The keys are tried as they come (`likely_keys`): a lookup found by its likeliest key tests no other shape."""
    typed = query_text(text)
    cursor, dialect = held_cursor(session)
    statements = _exact(dialect)
    fits = FITS
    for key in likely_keys(typed):
        if not fits[key](typed):
            continue
        value = spelled(typed, key)
        for probe, ordered in statements[key]:
            rows = fetch(cursor, dialect, probe.sql, probe.args_of(value), _PROBE)
            if not rows:
                continue
            if len(rows) == 1:  # one row: one account, whether or not the probe could have seen more
                return _summary(rows[0])
            accounts = {row[0]: row for row in rows}  # by account id (the first summary column)
            if len(accounts) == 1 and (probe is ordered or len(rows) < _PROBE):  # every row seen: one account
                return _summary(rows[0])
            if probe is not ordered:  # more than one, or more rows than the probe takes: the ordered statement
                rows = fetch(cursor, dialect, ordered.sql, ordered.args_of(value))
                accounts = {row[0]: row for row in rows}
                if len(accounts) == 1:
                    return _summary(rows[0])
            names = [f"{a[1]} ({a[0]}, {a[2]})" for a in accounts.values()]  # handle (account id, email)
            raise Ambiguous(f"{typed!r} matches {len(names)} accounts by {key.replace('_', ' ')}: "
                            f"{'; '.join(names)}; use the account id", details=names)
    q = parse_query(typed)
    raise NotFound(f"no account matches {q.text!r} (searched as {', '.join(k.replace('_', ' ') for k in q.keys)})")


def resolve_account(session: Session, text: str) -> Account:
    """`resolve`, as the session's Account (for the services that read or change more of it)."""
    account = session.get(Account, resolve(session, text)["account_id"])
    assert account is not None  # found a moment ago in this same transaction
    return account


def _sums(session: Session, account_id: str) -> dict[str, tuple[int, int]]:
    """(sum, count) per asset in one pass over the (account_id, asset, seq, amount) index (migration 0010)."""
    rows = session.exec(select(LedgerEntry.asset, func.coalesce(func.sum(LedgerEntry.amount), 0), func.count())
                        .where(LedgerEntry.account_id == account_id).group_by(LedgerEntry.asset)).all()
    return {asset: (int(total), int(n)) for asset, total, n in rows}


def balances(session: Session, account: Account, sums: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    sums = _sums(session, account.account_id) if sums is None else sums
    return _balances(account.coin_balance, account.diamond_balance, sums)


def _balances(coin: int, diamond: int, sums: dict[str, tuple[int, int]]) -> dict[str, Any]:
    out = {}
    for asset, cached in (("coin", coin), ("diamond", diamond)):
        ledger = sums.get(asset, (0, 0))[0]
        out[asset] = {"ledger": ledger, "cached": cached, "drift": cached - ledger}
    return out


# The story's reads, each built once and compiled once per database (`reads.prepared`): :a is the account id.
def _account_row() -> AnySelect:
    return select(*table_of(Account).c).where(Account.account_id == bindparam("a"))


def _ledger_newest() -> AnySelect:
    return (select(*table_of(LedgerEntry).c).where(LedgerEntry.account_id == bindparam("a"))
            .order_by(col(LedgerEntry.seq).desc()).limit(bindparam("n")))


def _ledger_before() -> AnySelect:
    return _ledger_newest().where(col(LedgerEntry.seq) < bindparam("before"))


def _purchases() -> AnySelect:
    return (select(*table_of(Purchase).c).where(Purchase.account_id == bindparam("a"))
            .order_by(col(Purchase.purchased_at).desc()).limit(STORY_LIMIT))


def _gifts() -> AnySelect:
    """Gifts sent, then gifts received, each newest first (STORY_LIMIT of each), in one statement: the first
    column says which (0 sent, 1 received); each part is its own indexed, ordered and limited subquery, and
    UNION ALL gives the parts' rows in turn."""
    columns = table_of(GiftEvent).c
    parts = []
    for tag, column in enumerate((GiftEvent.sender_id, GiftEvent.creator_id)):
        part = (select(*columns).where(column == bindparam("a"))
                .order_by(col(GiftEvent.at).desc()).limit(STORY_LIMIT).subquery(f"g{tag}"))
        parts.append(core_select(literal_column(str(tag)).label("part"), *part.c))
    return union_all(*parts)  # type: ignore[return-value]


def _tickets() -> AnySelect:
    return (select(*table_of(Ticket).c).where(Ticket.account_id == bindparam("a"))
            .order_by(col(Ticket.created_at).desc()).limit(STORY_LIMIT))


def _refunds() -> AnySelect:
    return (select(*table_of(Refund).c).join(Purchase, col(Purchase.purchase_id) == Refund.purchase_id)
            .where(Purchase.account_id == bindparam("a")).limit(STORY_LIMIT))


def ledger_page(session: Session, account_id: str, before_seq: int | None = None,
                limit: int | None = None) -> dict[str, Any]:
    """Entries newest first, `limit` at a time (keyset on seq, the (account_id, seq) index): `next` is the cursor
    for the page after this one, None at the oldest entry."""
    limit = limit or LEDGER_PAGE
    rows = Rows(session)
    if before_seq is None:
        found = rows.tuples(_ledger_newest, a=account_id, n=limit + 1)
    else:
        found = rows.tuples(_ledger_before, a=account_id, n=limit + 1, before=before_seq)
    names = prepared(_ledger_newest, rows.dialect).names
    seq = names.index("seq")
    kept = [i for i, name in enumerate(names) if name != "seq"]
    entries = [{names[i]: r[i] for i in kept} for r in found[:limit]]
    return {"entries": entries, "next": found[limit - 1][seq] if len(found) > limit else None}


def ledger_check(session: Session, account_id: str) -> dict[str, Any]:
    """The ledger's side of the story: both balances summed with drift, the debt, and how many entries (one pass
    over the account's (account_id, asset, seq, amount) index; what `story(check_ledger=False)` leaves out)."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id!r}")
    return _checked(account.coin_balance, account.diamond_balance, _sums(session, account_id))


def _checked(coin: int, diamond: int, sums: dict[str, tuple[int, int]]) -> dict[str, Any]:
    bal = _balances(coin, diamond, sums)
    return {"balances": bal, "debt": {asset: max(0, -bal[asset]["ledger"]) for asset in ("coin", "diamond")},
            "ledger_total": sum(n for _, n in sums.values())}


def _unchecked(coin: int, diamond: int) -> dict[str, Any]:
    """The cached balances only (ledger and drift None): summing a long ledger waits for `ledger_check`."""
    return {"balances": {asset: {"ledger": None, "cached": cached, "drift": None}
                         for asset, cached in (("coin", coin), ("diamond", diamond))},
            "debt": {"coin": max(0, -coin), "diamond": max(0, -diamond)}, "ledger_total": None}


def _verdicts(session: Session, purchases: list[dict[str, Any]], birth: date | None) -> list[dict[str, Any]]:
    """Was buying coins allowed for each purchase (`regions.verdict_json`), worked out once per country, store,
    region row in force and age (what the verdict depends on besides the time it names): a long history has
    a handful of distinct verdicts, not one per purchase."""
    rows = region_rows(session, {p["country"] for p in purchases})
    starts = {country: [r.valid_from for r in found] for country, found in rows.items()}
    ordered = {country: sorted(range(len(found)), key=lambda i: found[i].valid_from)
               for country, found in rows.items()}
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    out = []
    for p in purchases:
        country, at = p["country"], p["purchased_at"]
        in_force = [i for i in ordered[country] if starts[country][i] <= at]
        row = rows[country][in_force[-1]] if in_force else None
        key = (country, p["store"], row.valid_from if row else at.date(),
               None if birth is None or row is None else rg.age_on(birth, at.date()) >= row.min_age)
        verdict = seen.get(key)
        if verdict is None:
            verdict = seen[key] = verdict_json(p, rows[country], birth)
        out.append({**verdict, "at": at})
    return out


def _account_by_id(rows: Rows, query: str) -> dict[str, Any] | None:
    """The account's row when the query's likeliest key is the account id and an account has it (what `resolve`
    would find first): one statement for what the TUI and most lookups ask, not a probe and then the row."""
    text = query.strip()
    if not text or next(keys_of(text), None) != "account_id":
        return None
    found = rows.dicts(_account_row, a=spelled(text, "account_id"))
    return found[0] if found else None


def story(session: Session, query: str, *, check_ledger: bool = True) -> dict[str, Any]:
    """The account, both balances with drift, and everything that moved its money, newest first (the ledger's
    newest page; `ledger_next` pages on); `summary` is the account at a glance. Without `check_ledger` the
    balances are the cached ones (ledger, drift and ledger_total None) and the caller runs `ledger_check` next:
    a screen shows the account without waiting for a 200k-entry sum."""
    rows = Rows(session)
    account = _account_by_id(rows, query)
    if account is None:
        aid = resolve(session, query)["account_id"]
        (account,) = rows.dicts(_account_row, a=aid)
    aid = account["account_id"]
    coin, diamond = account["coin_balance"], account["diamond_balance"]
    checked = _checked(coin, diamond, _sums(session, aid)) if check_ledger else _unchecked(coin, diamond)
    account["debt"] = checked["debt"]  # the ledger is the truth (the cached balance until it is checked)
    page = ledger_page(session, aid)
    cashouts = glance.creator_cashouts(session, aid, STORY_LIMIT)
    purchases = rows.dicts(_purchases, a=aid)
    for p, verdict in zip(purchases, _verdicts(session, purchases, account["birth_date"]), strict=True):
        p["region_at_purchase"] = verdict
    gifts: dict[str, list[dict[str, Any]]] = {"sent": [], "received": []}
    names = prepared(_gifts, rows.dialect).names[1:]
    for part, *values in rows.tuples(_gifts, a=aid):
        gifts["received" if part else "sent"].append(dict(zip(names, values, strict=True)))
    return {
        "account": account,
        "balances": checked["balances"],
        "purchases": purchases,
        "ledger": page["entries"],
        "ledger_total": checked["ledger_total"],
        "ledger_next": page["next"],
        "gifts": gifts,
        "cashouts": cashouts,
        "tickets": with_deadlines(session, rows.dicts(_tickets, a=aid)),
        "refunds": rows.dicts(_refunds, a=aid),
        "summary": glance.summary(session, account, cashouts),
    }
