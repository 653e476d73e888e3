"""`supportdesk import DIR`: validate every line, then write everything or nothing.

One pass: each line is validated and, while no error has been seen, written inside one transaction; after the
first error we keep validating (to report every problem, up to a cap) and roll back at the end. Ids already in
the database are skipped, so importing the same directory twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import JSON, Connection, Date, DateTime, Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from supportdesk.db import models as m
from supportdesk.domain import records as r
from supportdesk.errors import ImportFailed, InvalidInput

ERROR_CAP = 50
CHUNK = 20_000
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FileSpec:
    name: str
    model: type[BaseModel]
    table: Table
    key: tuple[str, ...]  # the id column, or the natural key of the table's unique constraint
    refs: dict[str, str] = field(default_factory=dict)  # field -> the id set it must be in
    required: bool = True
    unique: tuple[str, ...] = ()  # other columns that must be unique (accounts: handle)


SPECS = (
    FileSpec("regions.jsonl", r.RegionRow, m.Region.__table__, ("country", "valid_from")),
    FileSpec("price_points.jsonl", r.PricePointRow, m.PricePoint.__table__,
             ("country", "store", "product_id", "valid_from", "price_minor", "bonus_coins")),
    FileSpec("gifts.jsonl", r.GiftRow, m.Gift.__table__, ("gift_id",)),
    FileSpec("accounts.jsonl", r.AccountRow, m.Account.__table__, ("account_id",), unique=("handle",)),
    FileSpec("purchases.jsonl", r.PurchaseRow, m.Purchase.__table__, ("purchase_id",), {"account_id": "accounts"}),
    FileSpec("ledger.jsonl", r.LedgerRow, m.LedgerEntry.__table__, ("entry_id",), {"account_id": "accounts"}),
    FileSpec("gift_events.jsonl", r.GiftEventRow, m.GiftEvent.__table__, ("event_id",),
             {"sender_id": "accounts", "creator_id": "accounts", "gift_id": "gifts"}, required=False),
    FileSpec("cashouts.jsonl", r.CashoutRow, m.Cashout.__table__, ("cashout_id",), {"creator_id": "accounts"},
             required=False),
    FileSpec("tickets.jsonl", r.TicketRow, m.Ticket.__table__, ("ticket_id",), {"account_id": "accounts"},
             required=False),
)
# Which id set each file's keys join (for references from later files).
ID_SETS = {"gifts.jsonl": "gifts", "accounts.jsonl": "accounts"}
# Store transaction ids are unique per store, not globally: checked as (store, id) pairs.
STORE_TXN = "purchases.jsonl"


@dataclass
class ImportResult:
    imported: dict[str, int] = field(default_factory=dict)
    already_present: dict[str, int] = field(default_factory=dict)


class _Errors:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def add(self, where: str, field_name: str, problem: str) -> None:
        self.count += 1
        if len(self.lines) < ERROR_CAP:
            self.lines.append(f"{where}: {field_name}: {problem}")

    def summary(self) -> list[str]:
        more = self.count - len(self.lines)
        return self.lines + ([f"... and {more:,} more errors"] if more > 0 else [])


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            yield number, len(raw), raw


def _describe(exc: ValidationError, errors: _Errors, where: str) -> None:
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(line)"
        if err["type"] == "json_invalid":
            errors.add(where, "(line)", f"not valid JSON ({err['msg'].removeprefix('Invalid JSON: ')})")
        elif err["type"] == "missing":
            errors.add(where, loc, "is required but missing")
        else:
            given = err.get("input")
            shown = "" if isinstance(given, dict) or err["type"].startswith("value_error") else f" (got {given!r})"
            errors.add(where, loc, f"{err['msg'].removeprefix('Value error, ')}{shown}")


def _row(spec: FileSpec, rec: BaseModel) -> dict[str, Any]:
    row = dict(rec.__dict__)  # the validated fields; cheaper than model_dump for flat records
    if spec.name == "ledger.jsonl":
        row.update(reverses=None, ticket_id=None, idempotency_key=None)
        if rec.kind == "reversal":  # type: ignore[attr-defined]
            row["reverses"] = row["ref"]
    if spec.name == "tickets.jsonl":
        row.update(resolution=None, resolved_by=None, resolved_at=None)
    return row


class _Writer:
    """Buffers rows and inserts them in chunks; the fastest path each engine offers."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql" and table.name == "ledger_entries":
            self._copy(table, rows)
            return
        if self.dialect == "sqlite" and not any(isinstance(c.type, JSON) for c in table.columns):
            self._sqlite_many(table, rows)
            return
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        self.conn.execute(dialect_insert(table).on_conflict_do_nothing(), rows)

    def _sqlite_many(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """The DB-API executemany with values already in SQLAlchemy's SQLite storage format: 3x faster."""
        cols = [c.name for c in table.columns if c.name in rows[0]]
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) ON CONFLICT DO NOTHING"
        cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        # Only date/time columns need converting: decide per column once, not per value.
        convert = [_sqlite_value if _is_temporal(table.c[c]) else None for c in cols]
        plan = list(zip(cols, convert, strict=True))
        cursor.executemany(sql, ([row[c] if f is None else f(row[c]) for c, f in plan] for row in rows))

    def _copy(self, table: Table, rows: list[dict[str, Any]]) -> None:
        cols = [c.name for c in table.columns if c.name != "seq"]
        cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in cols])


def _is_temporal(column: Any) -> bool:
    kind = getattr(column.type, "impl", column.type)  # UTCDateTime decorates DateTime
    return isinstance(kind, (DateTime, Date))


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLAlchemy's SQLite DATETIME format, in UTC, as UTCDateTime stores it
        if value.utcoffset():
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _existing_keys(conn: Connection, spec: FileSpec) -> set[Any]:
    rows = conn.execute(select(*(spec.table.c[k] for k in spec.key)))
    return set(rows.scalars()) if len(spec.key) == 1 else {tuple(row) for row in rows}


def run_import(engine: Engine, directory: Path, progress: Progress | None = None) -> ImportResult:
    app = directory / "app"
    if not app.is_dir():
        raise InvalidInput(f"{directory} is not a dataset directory: it has no app/ folder (see docs/formats.md)")
    missing = [s.name for s in SPECS if s.required and not (app / s.name).is_file()]
    if missing:
        raise InvalidInput(f"{app} is missing {', '.join(missing)}")
    try:
        return _run(engine, directory, progress)
    except IntegrityError as exc:  # a concurrent writer got there first; the transaction is rolled back
        raise ImportFailed(f"the database refused the import, nothing was imported: {exc.orig}") from exc


def _run(engine: Engine, directory: Path, progress: Progress | None) -> ImportResult:
    errors = _Errors()
    result = ImportResult()
    with engine.execution_options(write=True).connect() as conn, conn.begin() as tx:
        writer = _Writer(conn)
        ids: dict[str, set[Any]] = {}
        for spec in SPECS:
            path = directory / "app" / spec.name
            if path.is_file():
                _import_file(spec, path, conn, writer, ids, errors, result, progress)
        if errors.count:
            tx.rollback()
            raise ImportFailed(
                f"{errors.count:,} problem{'s' if errors.count > 1 else ''} in {directory}; nothing was imported",
                details=errors.summary(),
            )
    return result


def _import_file(
    spec: FileSpec, path: Path, conn: Connection, writer: _Writer, ids: dict[str, set[Any]],
    errors: _Errors, result: ImportResult, progress: Progress | None,
) -> None:
    existing = _existing_keys(conn, spec)
    if spec.name in ID_SETS:
        ids[ID_SETS[spec.name]] = set(existing)
    for ref_set in spec.refs.values():
        if ref_set not in ids:
            ids[ref_set] = set(conn.execute(select(m.Account.account_id if ref_set == "accounts" else m.Gift.gift_id)).scalars())
    seen: set[Any] = set()
    txns: set[tuple[str, str]] = set()
    if spec.name == STORE_TXN:
        txns = {tuple(x) for x in conn.execute(select(m.Purchase.store, m.Purchase.store_transaction_id))}
    taken = {u: set(conn.execute(select(spec.table.c[u])).scalars()) for u in spec.unique}
    total, done, buffer, new = path.stat().st_size, 0, [], 0
    label = f"app/{spec.name}"
    for number, size, raw in _lines(path):
        done += size
        if progress and number % 5000 == 0:
            progress(label, done, total)
        if not raw.strip():
            continue
        where = f"{label}:{number}"
        try:
            rec = spec.model.model_validate_json(raw)
        except ValidationError as exc:
            _describe(exc, errors, where)
            continue
        if not _references_ok(spec, rec, ids, errors, where):
            continue
        key = _key(spec, rec)
        if key in seen:
            errors.add(where, ", ".join(spec.key), f"duplicate {_shown(key)} (already on an earlier line)")
            continue
        seen.add(key)
        if key in existing:
            result.already_present[spec.name] = result.already_present.get(spec.name, 0) + 1
            continue
        if not _unique_ok(rec, taken, errors, where):
            continue
        if spec.name == STORE_TXN:
            pair = (rec.store, rec.store_transaction_id)  # type: ignore[attr-defined]
            if pair in txns:
                errors.add(where, "store_transaction_id", f"{pair[1]!r} is already recorded for {pair[0]}")
                continue
            txns.add(pair)
        if spec.name in ID_SETS:
            ids[ID_SETS[spec.name]].add(key)
        if errors.count:
            continue  # keep validating, stop writing: the transaction will be rolled back
        buffer.append(_row(spec, rec))
        new += 1
        if len(buffer) >= CHUNK:
            writer.insert(spec.table, buffer)
            buffer = []
    if not errors.count:
        writer.insert(spec.table, buffer)
    if progress:
        progress(label, total, total)
    result.imported[spec.name] = new


def _unique_ok(rec: BaseModel, taken: dict[str, set[Any]], errors: _Errors, where: str) -> bool:
    for name, values in taken.items():
        value = getattr(rec, name)
        if value in values:
            errors.add(where, name, f"{value!r} is already taken by another record")
            return False
        values.add(value)
    return True


def _key(spec: FileSpec, rec: BaseModel) -> Any:
    if len(spec.key) == 1:
        return getattr(rec, spec.key[0])
    values = tuple(getattr(rec, k) for k in spec.key)
    return values[0] if len(values) == 1 else values


def _shown(key: Any) -> str:
    return repr(key) if not isinstance(key, tuple) else ", ".join(str(v) for v in key)


def _references_ok(spec: FileSpec, rec: BaseModel, ids: dict[str, set[Any]], errors: _Errors, where: str) -> bool:
    ok = True
    for name, ref_set in spec.refs.items():
        value = getattr(rec, name)
        if value not in ids[ref_set]:
            noun = "account" if ref_set == "accounts" else "gift"
            errors.add(where, name, f"unknown {noun} {value!r}")
            ok = False
    return ok
