"""What `supportdesk import` checks beyond one line's shape: uniqueness, references and meaning.

Lines are checked in batches. Each batch's keys are looked up in the database with indexed queries; rows this
import wrote earlier are there too (same transaction), so memory grows with a batch, not with the database. The
batch just before is written only after a batch's lookups (importer._Writer: on PostgreSQL its COPY then runs while
the client checks this batch), so a rule keeps what it accepted in the batch before (`earlier`) and checks against
that too. Every reference is to a table an earlier file filled, which is written in full before the next file
starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import ARRAY, Column, Connection, String, Table, any_, bindparam, func, select, tuple_
from sqlalchemy.types import NullType

from supportdesk.db import models as m
from supportdesk.db.tables import table_of
from supportdesk.domain.records import LedgerRow

LOOKUP_CHUNK = 2_000  # values per IN (...): well under SQLite's and psycopg's parameter limits
PG_LOOKUP_CHUNK = 50_000  # values per array parameter on PostgreSQL (one parameter whatever its length)


class Problems(Protocol):
    def add(self, where: str, field_name: str, problem: str) -> None: ...


class Rule(Protocol):
    """A check across lines of one file and the database (handles, store transactions, ledger meaning)."""

    def prefetch(self, conn: Connection, recs: Sequence[Any]) -> None: ...
    def check(self, rec: Any, number: int, where: str, errors: Problems) -> bool: ...
    def known(self, column: Column[Any]) -> set[Any]:
        """Values of `column` that rows read by `prefetch` reference through a foreign key, so they exist."""
        ...


def chunks(values: Iterable[Any], size: int = LOOKUP_CHUNK) -> Iterable[list[Any]]:
    values = values if isinstance(values, list) else list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def among(conn: Connection, expr: Any, values: Iterable[Any]) -> Iterable[Any]:
    """`expr IN (values)` conditions, a chunk each. On PostgreSQL one array parameter (`expr = ANY(%s)`): the
    same statement text for every chunk, compiled and prepared once, where thousands of `IN` parameters were
    rendered, cast and parsed again for every chunk (most of an import's time outside the COPY)."""
    if conn.dialect.name == "postgresql":
        kind = String() if isinstance(expr.type, NullType) else expr.type  # lower(handle) is text
        for part in chunks(values, PG_LOOKUP_CHUNK):
            yield expr == any_(bindparam("among", part, type_=ARRAY(kind)))
        return
    for part in chunks(values):
        yield expr.in_(part)


def stored_rows(conn: Connection, table: Table, key: tuple[str, ...], keys: Iterable[Any],
                columns: Sequence[str]) -> dict[Any, Mapping[str, Any]]:
    """The stored rows (those columns) whose key is among `keys`, by key."""
    if len(key) == 1:
        at = columns.index(key[0])
        return {row[at]: dict(zip(columns, row, strict=True)) for row in stored_values(conn, table, key[0], keys, columns)}
    cols = [table.c[c] for c in columns]
    key_expr = tuple_(*(table.c[k] for k in key))
    found: dict[Any, Mapping[Any, Any]] = {}
    for part in chunks(set(keys)):
        for row in conn.execute(select(*cols).where(key_expr.in_(part))).mappings():
            found[tuple(canonical(row[k]) for k in key)] = row
    return found


def stored_values(conn: Connection, table: Table, key: str, keys: Iterable[Any],
                  columns: Sequence[str]) -> Iterable[tuple[Any, ...]]:
    """The stored rows (those columns, as tuples) whose `key` column is among `keys`."""
    if conn.dialect.name == "postgresql":
        # Through the driver: one array parameter, plain tuples (SQLAlchemy's row mappings cost more than the
        # query when a chunk's 5,000 purchases come back).
        sql = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {key} = ANY(%s::text[])"
        return list(_driver_rows(conn, sql, set(keys)))
    query = select(*(table.c[c] for c in columns))
    return [tuple(row) for where in among(conn, table.c[key], set(keys)) for row in conn.execute(query.where(where))]


def missing(conn: Connection, column: Column[Any], values: Iterable[Any]) -> set[Any]:
    """The values that no row of `column`'s table holds. On PostgreSQL an anti-join of the array against the
    index, so only the (usually no) unknown values come back."""
    wanted = set(values)
    if conn.dialect.name == "postgresql":
        sql = (f"SELECT v FROM unnest(%s::text[]) AS wanted(v) "
               f"WHERE NOT EXISTS (SELECT 1 FROM {column.table.name} WHERE {column.name} = wanted.v)")
        return {v for (v,) in _driver_rows(conn, sql, wanted)}
    found = {v for where in among(conn, column, wanted) for v in conn.execute(select(column).where(where)).scalars()}
    return wanted - found


def unconfirmed_credits(conn: Connection, refs: Sequence[str], accounts: Sequence[str], amounts: Sequence[int]) -> set[str]:
    """PostgreSQL: the purchases among `refs` that do not exist or belong to another account or are not of that
    many coins, each credit (ref, account, amount) checked against its purchase in the server. Only those come
    back (usually none), where fetching every purchase made the client parse a row per credit."""
    sql = ("SELECT DISTINCT c.ref FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS c(ref, account_id, amount) "
           "WHERE NOT EXISTS (SELECT 1 FROM purchases p WHERE p.purchase_id = c.ref "
           "AND p.account_id = c.account_id AND p.coins = c.amount)")
    return {ref for (ref,) in _driver_rows(conn, sql, refs, accounts, list(map(str, amounts)))}


def _driver_rows(conn: Connection, sql: str, *columns: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
    """`sql` with one array parameter per column (parallel values, passed as text arrays), run through psycopg a
    chunk of values at a time."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    values = [c if isinstance(c, list) else list(c) for c in columns]
    for start in range(0, len(values[0]), PG_LOOKUP_CHUNK):
        cursor.execute(sql, [_text_array(c[start:start + PG_LOOKUP_CHUNK]) for c in values])
        yield from cursor.fetchall()


def _text_array(values: list[str]) -> str:
    """A text array literal, every element quoted: written in one join, where the driver adapts each element in
    Python. `None` is not a key."""
    text = "".join(values)
    if '"' in text or "\\" in text:
        values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(values) + '"}' if values else "{}"


def canonical(value: Any) -> Any:
    """One canonical form for comparing a stored value with a parsed one on both engines."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def differences(columns: Iterable[str], old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """`field: old -> new` for every column whose canonical values differ."""
    return [f"{c} {_shown(old[c])} -> {_shown(new[c])}" for c in columns if canonical(old[c]) != canonical(new[c])]


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return canonical(value).isoformat().replace("+00:00", "Z")
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class UniqueHandles:
    """Handles are unique case-insensitively: agents type them in any case, and lookup must find one account."""

    def __init__(self) -> None:
        self.lines: dict[str, int] = {}  # lower-cased handle -> its line in this file
        self.stored: dict[str, tuple[str, str]] = {}  # lower-cased handle -> (account id, handle) in the database

    def prefetch(self, conn: Connection, recs: Sequence[Any]) -> None:
        wanted = {r.handle.lower() for r in recs if r.handle.lower() not in self.lines}
        self.stored = {}
        t = table_of(m.Account)
        for where in among(conn, func.lower(t.c.handle), wanted):
            rows = conn.execute(select(t.c.account_id, t.c.handle).where(where))
            self.stored.update({h.lower(): (a, h) for a, h in rows})

    def known(self, column: Column[Any]) -> set[Any]:
        return set()

    def check(self, rec: Any, number: int, where: str, errors: Problems) -> bool:
        low = rec.handle.lower()
        if low in self.lines:
            errors.add(where, "handle", f"{rec.handle!r} is already taken on line {self.lines[low]} "
                                        "(handles are unique whatever their case)")
            return False
        if low in self.stored and self.stored[low][0] != rec.account_id:
            account_id, handle = self.stored[low]
            errors.add(where, "handle", f"{rec.handle!r} is already taken by {handle!r} ({account_id}) "
                                        "in the database (handles are unique whatever their case)")
            return False
        self.lines[low] = number
        return True


class UniqueStoreTransactions:
    """A store transaction id is one purchase per store."""

    def __init__(self) -> None:
        self.stored: set[tuple[str, str]] = set()
        self.batch: set[tuple[str, str]] = set()
        self.earlier: set[tuple[str, str]] = set()  # the batch before, perhaps not written yet

    def prefetch(self, conn: Connection, recs: Sequence[Any]) -> None:
        t = table_of(m.Purchase)
        self.stored, self.earlier, self.batch = set(), self.batch, set()
        for where in among(conn, t.c.store_transaction_id, {r.store_transaction_id for r in recs}):
            query = select(t.c.store, t.c.store_transaction_id).where(where)
            self.stored.update((s, x) for s, x in conn.execute(query))

    def known(self, column: Column[Any]) -> set[Any]:
        return set()

    def check(self, rec: Any, number: int, where: str, errors: Problems) -> bool:
        pair = (rec.store, rec.store_transaction_id)
        if pair in self.stored or pair in self.batch or pair in self.earlier:
            errors.add(where, "store_transaction_id", f"{pair[1]!r} is already recorded for {pair[0]}")
            return False
        self.batch.add(pair)
        return True


CREDIT_FIELDS = attrgetter("kind", "ref", "account_id", "amount", "reverses")
PURCHASE_COLUMNS = ("purchase_id", "account_id", "coins", "country", "store", "product_id", "purchased_at")
ENTRY_COLUMNS = ("entry_id", "account_id", "asset", "amount")


class LedgerMeaning:
    """A credit names a purchase of its own account and credits exactly its coins; a reversal undoes no more
    than an existing entry of the same account and asset; a clawback takes back no more than was bought."""

    def __init__(self, conn: Connection) -> None:
        pp = table_of(m.PricePoint)
        query = select(pp.c.country, pp.c.store, pp.c.product_id, pp.c.coins, pp.c.bonus_coins, pp.c.valid_from,
                       pp.c.valid_to).where(pp.c.bonus_coins > 0)
        self.promos: dict[tuple[str, str, str], list[tuple[int, int, datetime, datetime | None]]] = {}
        for country, store, product, coins, bonus, start, end in conn.execute(query):  # a few rows per promotion
            self.promos.setdefault((country, store, product), []).append(
                (coins, bonus, canonical(start), end and canonical(end)))
        self.purchases: dict[str, tuple[str, list[int]]] = {}  # purchase id -> its account, the coins it credits
        self.confirmed: set[str] = set()  # purchases every credit of this batch matches (account and coins)
        self.entries: dict[str, Mapping[str, Any]] = {}  # reversal targets: stored, and this batch's entries
        self.reversed: dict[str, int] = {}  # entry id -> the sum of its reversals so far
        self.accounts: set[str] = set()
        # What this batch accepted, and the batch before (perhaps not written yet when this one is looked up).
        self.batch: dict[str, Mapping[str, Any]] = {}
        self.batch_reversed: dict[str, int] = {}
        self.earlier: dict[str, Mapping[str, Any]] = {}
        self.earlier_reversed: dict[str, int] = {}

    def prefetch(self, conn: Connection, recs: Sequence[Any]) -> None:
        kinds, refs, accounts, amounts, reverses = zip(*map(CREDIT_FIELDS, recs), strict=True)
        if set(kinds) == {"purchase"} and None not in refs and not any(reverses):  # a batch of credits: no loop
            credits: Sequence[Sequence[Any]] = (refs, accounts, amounts)
            purchases, targets = set(refs), set()
        else:
            credits = tuple(zip(*[(r.ref, r.account_id, r.amount) for r in recs
                                  if r.kind == "purchase" and r.ref and not r.reverses], strict=True))
            purchases = {r.ref for r in recs if r.ref and r.kind in ("purchase", "refund_clawback")}
            targets = {_target(r) for r in recs if r.kind == "reversal"} - {None}
        purchase = table_of(m.Purchase)
        self.confirmed, confirmed_accounts = set(), set()
        if conn.dialect.name == "postgresql" and not self.promos and credits:
            # The server confirms the credits; only the purchases of the others (and of clawbacks) are read.
            failed = unconfirmed_credits(conn, *credits)
            self.confirmed = set(credits[0]) - failed
            confirmed_accounts = (set(credits[1]) if not failed else
                                  {a for ref, a in zip(credits[0], credits[1], strict=True) if ref not in failed})
            clawed = {r.ref for r in recs if r.ref and r.kind == "refund_clawback"} if "refund_clawback" in kinds else set()
            purchases = clawed | (purchases - self.confirmed)
        if self.promos:
            self.purchases = {row[0]: (row[1], self._credits(dict(zip(PURCHASE_COLUMNS, row, strict=True))))
                              for row in stored_values(conn, purchase, "purchase_id", purchases, PURCHASE_COLUMNS)}
        else:  # without a promotion a purchase credits its coins: its time and bundle are not needed (nor parsed)
            self.purchases = {pid: (account_id, [coins]) for pid, account_id, coins
                              in stored_values(conn, purchase, "purchase_id", purchases, PURCHASE_COLUMNS[:3])}
        self.earlier, self.batch = self.batch, {}
        self.earlier_reversed, self.batch_reversed = self.batch_reversed, {}
        self.entries = stored_rows(conn, table_of(m.LedgerEntry), ("entry_id",), targets, ENTRY_COLUMNS)
        self.entries.update((t, self.earlier[t]) for t in targets if t in self.earlier)
        # A stored purchase's or entry's account exists (their foreign keys): most lines' accounts, not asked again.
        self.accounts = {account_id for account_id, _ in self.purchases.values()} | confirmed_accounts
        self.accounts.update(entry["account_id"] for entry in self.entries.values())
        le = table_of(m.LedgerEntry)
        self.reversed = {}
        for where in among(conn, le.c.reverses, targets):
            query = select(le.c.reverses, func.sum(le.c.amount)).where(where).group_by(le.c.reverses)
            self.reversed.update({k: int(v) for k, v in conn.execute(query)})
        for target, amount in self.earlier_reversed.items():
            self.reversed[target] = self.reversed.get(target, 0) + amount

    def known(self, column: Column[Any]) -> set[Any]:
        return self.accounts if column is table_of(m.Account).c.account_id else set()

    def check(self, rec: LedgerRow, number: int, where: str, errors: Problems) -> bool:
        if rec.kind == "purchase" and rec.reverses is None:  # most lines: a purchase's credit, said in one lookup
            if rec.ref in self.confirmed:
                problem = None
            else:
                bought = self.purchases.get(rec.ref) if rec.ref else None
                problem = None if bought and bought[0] == rec.account_id and rec.amount in bought[1] else self._problem(rec)
        else:
            problem = self._problem(rec)
        if problem:
            errors.add(where, *problem)
            return False
        # Later lines of this batch see this entry (the batch is written after it is checked).
        self.entries[rec.entry_id] = self.batch[rec.entry_id] = rec.__dict__  # the same keys as a stored row's
        target = _target(rec)
        if target:
            self.reversed[target] = self.reversed.get(target, 0) + rec.amount
            self.batch_reversed[target] = self.batch_reversed.get(target, 0) + rec.amount
        return True

    def _problem(self, rec: LedgerRow) -> tuple[str, str] | None:
        if rec.reverses and rec.kind != "reversal":
            return "reverses", f"only a reversal names an entry it reverses, not a {rec.kind}"
        if rec.kind == "purchase" and not rec.ref:
            return "ref", "a purchase credit must name its purchase"
        if rec.kind in ("purchase", "refund_clawback") and rec.ref:
            return self._purchase_problem(rec)
        if rec.kind == "reversal":
            return self._reversal_problem(rec)
        return None

    def _purchase_problem(self, rec: LedgerRow) -> tuple[str, str] | None:
        purchase = self.purchases.get(rec.ref or "")
        if purchase is None:
            return "ref", f"unknown purchase {rec.ref!r} (not in purchases.jsonl nor in the database)"
        if rec.kind == "refund_clawback" and rec.asset == "diamond":
            return None  # a creator's diamonds earned from the refunded coins: another account by design
        account_id, allowed = purchase
        if account_id != rec.account_id:
            return "ref", f"purchase {rec.ref!r} belongs to {account_id}, not {rec.account_id}"
        if rec.kind == "purchase" and rec.amount not in allowed:
            return "amount", f"purchase {rec.ref!r} credits {_either(allowed)} coins, not {rec.amount}"
        if rec.kind == "refund_clawback" and -rec.amount > max(allowed):
            return "amount", f"a clawback of {-rec.amount} coins is more than purchase {rec.ref!r} credited"
        return None

    def _credits(self, purchase: Mapping[str, Any]) -> list[int]:
        """The purchase's coins, plus a promotion's bonus when a promotion of that bundle was in force."""
        coins = purchase["coins"]
        promos = self.promos.get((purchase["country"], purchase["store"], purchase["product_id"]))
        if not promos:
            return [coins]
        at = canonical(purchase["purchased_at"])
        bonus = {coins + b for base, b, start, end in promos if base == coins and start <= at and (end is None or at < end)}
        return [coins, *sorted(bonus)]

    def _reversal_problem(self, rec: LedgerRow) -> tuple[str, str] | None:
        target_id = _target(rec)
        field = "reverses" if rec.reverses else "ref"
        if not target_id:
            return "ref", "a reversal must name the entry it reverses"
        target = self.entries.get(target_id)
        if target is None:
            return field, f"unknown ledger entry {target_id!r} (a reversal names the entry it reverses)"
        if (target["account_id"], target["asset"]) != (rec.account_id, rec.asset):
            return field, (f"entry {target_id!r} moved {target['asset']}s of {target['account_id']}, "
                           f"not {rec.asset}s of {rec.account_id}")
        if (target["amount"] > 0) == (rec.amount > 0):
            return "amount", f"a reversal of entry {target_id!r} ({target['amount']:+}) must have the opposite sign"
        done = self.reversed.get(target_id, 0)
        if abs(done + rec.amount) > abs(target["amount"]):
            return "amount", (f"reverses more than entry {target_id!r} moved ({target['amount']:+}, "
                              f"{done:+} reversed already)")
        return None


def _target(rec: LedgerRow) -> str | None:
    if rec.kind != "reversal":
        return None
    return rec.reverses or rec.ref


def _either(values: list[int]) -> str:
    return " or ".join(str(v) for v in values)


def record_fields(model: type[BaseModel], table: Table, mutable: Iterable[str]) -> tuple[str, ...]:
    """The columns an import may compare with a stored row: the record's, less those the app changes later."""
    return tuple(f for f in model.model_fields if f in table.c and f not in set(mutable))
