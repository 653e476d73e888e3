"""`supportdesk import DIR`: validate every line, then write everything or nothing.

One pass inside one transaction: each line is validated, checked in batches against the lines before it and the
database (import_checks), and written; every problem is reported (up to a cap) and any problem rolls the whole
import back. An id already in the database with the same content is skipped, so importing the same directory
twice changes nothing; with other content it is an error.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import JSON, Column, Connection, Date, DateTime, Engine, Table, literal, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from supportdesk.db import models as m
from supportdesk.db.tables import table_of
from supportdesk.domain import records as r
from supportdesk.errors import ImportFailed, InvalidInput
from supportdesk.services import import_audit
from supportdesk.services.import_checks import (
    LedgerMeaning,
    Rule,
    UniqueHandles,
    UniqueStoreTransactions,
    canonical,
    differences,
    missing,
    record_fields,
    stored_rows,
)

ERROR_CAP = 50
CHUNK = 5_000  # lines checked against the database and written together
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FileSpec:
    name: str
    model: type[BaseModel]
    table: Table
    key: tuple[str, ...]  # the id column, or the natural key of the table's unique constraint
    refs: dict[str, Column[Any]] = field(default_factory=dict)  # field -> the id column it must name
    required: bool = True
    rule: Callable[[Connection], Rule] | None = None  # checks across lines and the database
    mutable: tuple[str, ...] = ()  # columns the app changes after import: not compared on re-import

    @property
    def compared(self) -> tuple[str, ...]:
        return record_fields(self.model, self.table, self.mutable)


ACCOUNT = table_of(m.Account).c.account_id
SPECS = (
    FileSpec("regions.jsonl", r.RegionRow, table_of(m.Region), ("country", "valid_from")),
    FileSpec("price_points.jsonl", r.PricePointRow, table_of(m.PricePoint),
             ("country", "store", "product_id", "valid_from", "price_minor", "bonus_coins")),
    FileSpec("gifts.jsonl", r.GiftRow, table_of(m.Gift), ("gift_id",)),
    FileSpec("accounts.jsonl", r.AccountRow, table_of(m.Account), ("account_id",),
             rule=lambda _: UniqueHandles(), mutable=("status", "coin_balance", "diamond_balance")),
    FileSpec("purchases.jsonl", r.PurchaseRow, table_of(m.Purchase), ("purchase_id",), {"account_id": ACCOUNT},
             rule=lambda _: UniqueStoreTransactions(), mutable=("status",)),
    FileSpec("ledger.jsonl", r.LedgerRow, table_of(m.LedgerEntry), ("entry_id",), {"account_id": ACCOUNT},
             rule=LedgerMeaning),
    FileSpec("gift_events.jsonl", r.GiftEventRow, table_of(m.GiftEvent), ("event_id",),
             {"sender_id": ACCOUNT, "creator_id": ACCOUNT, "gift_id": table_of(m.Gift).c.gift_id}, required=False),
    FileSpec("cashouts.jsonl", r.CashoutRow, table_of(m.Cashout), ("cashout_id",), {"creator_id": ACCOUNT},
             required=False),
    FileSpec("tickets.jsonl", r.TicketRow, table_of(m.Ticket), ("ticket_id",), {"account_id": ACCOUNT},
             required=False, mutable=("status",)),
)
# A JSON key: a string followed by a colon. Counting these bounds the keys of a line (a string value may hold one).
KEY_TOKEN = re.compile(rb'"\s*:')
KEY_SPACED = re.compile(rb'"\s+:')


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
        elif err["type"] == "string_pattern_mismatch" and r.unprintable(err.get("input")):
            errors.add(where, loc, r.unprintable(err["input"]) or "")
        elif err["type"] in ("greater_than_equal", "less_than") and _time_bound(err["ctx"]):
            errors.add(where, loc, f"{_cut(err.get('input'))} is outside the years {r.YEARS[0]}..{r.YEARS[1]}")
        else:
            given = err.get("input")
            shown = "" if isinstance(given, dict) or err["type"].startswith("value_error") else f" (got {_cut(given)})"
            errors.add(where, loc, f"{err['msg'].removeprefix('Value error, ')}{shown}")


def _time_bound(ctx: dict[str, Any]) -> bool:
    """Whether a range error is the timestamps' year range (pydantic reports the bound as ISO text)."""
    bound = str(ctx.get("ge", ctx.get("lt", "")))
    return bound.startswith((f"{r.YEARS[0]}-01-01T", f"{r.YEARS[1] + 1}-01-01T"))


def _cut(value: Any) -> str:
    """An offending value, quoted and cut short: a 100 MB body is not repeated in the error."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(str(value)):,} characters)"


def _row(spec: FileSpec, rec: BaseModel) -> dict[str, Any]:
    row = dict(rec.__dict__)  # the validated fields; cheaper than model_dump for flat records
    if spec.name == "ledger.jsonl":
        row.update(ticket_id=None, idempotency_key=None)
        if rec.kind == "reversal" and not rec.reverses:  # type: ignore[attr-defined]
            row["reverses"] = row["ref"]  # the contract's reversal names the entry it undoes in `ref`
    if spec.name == "tickets.jsonl":
        row.update(resolution=None, resolved_by=None, resolved_at=None)
    return row


class _Writer:
    """Buffers rows and inserts them in chunks; the fastest path each engine offers."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.ledger = import_audit.LedgerDigest()  # what the audit chain will say this import wrote

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if table.name == "ledger_entries":
            self.ledger.add(rows)
        if self.dialect == "postgresql":
            self._copy(table, rows)
            return
        if not any(isinstance(c.type, JSON) for c in table.columns):
            self._sqlite_many(table, rows)
            return
        self.conn.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)

    def _sqlite_many(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """The DB-API executemany with values already in SQLAlchemy's SQLite storage format: 3x faster."""
        cols = [c.name for c in table.columns if c.name in rows[0]]
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) ON CONFLICT DO NOTHING"
        cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        # Only date/time columns need converting: decide per column once, not per value.
        convert = [_sqlite_value if _is_temporal(table.c[c]) else None for c in cols]
        plan = list(zip(cols, convert, strict=True))
        # sqlite3 takes any iterable of rows: a generator, not a second copy of the batch
        cursor.executemany(sql, ([row[c] if f is None else f(row[c]) for c, f in plan] for row in rows))  # type: ignore[arg-type]

    def _copy(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """COPY, every table: the rows were checked (keys, references, meaning) before they get here, so a row
        that still conflicts (a concurrent writer's) refuses the whole import rather than being skipped. Columns
        the records do not have (serial ids, what the app fills later) take their defaults."""
        cols = [c.name for c in table.columns if c.name in rows[0]]
        as_json = [isinstance(table.c[c].type, JSON) for c in cols]
        import psycopg  # here: a SQLite-only run never imports the driver
        from psycopg.types.json import Json

        statement = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN"
        cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(statement) as copy:
                if not any(as_json):
                    for row in rows:
                        copy.write_row([row[c] for c in cols])
                    return
                for row in rows:
                    copy.write_row([Json(v) if j and v is not None else v
                                    for v, j in zip((row[c] for c in cols), as_json, strict=True)])
        except psycopg.Error as exc:  # the driver's own error, as SQLAlchemy would have raised it: run_import reports
            raise DBAPIError(statement, None, exc) from exc


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


def run_import(engine: Engine, directory: Path, progress: Progress | None = None) -> ImportResult:
    app = directory / "app"
    if not app.is_dir():
        raise InvalidInput(f"{directory} is not a dataset directory: it has no app/ folder (see docs/formats.md)")
    missing = [s.name for s in SPECS if s.required and not (app / s.name).is_file()]
    if missing:
        raise InvalidInput(f"{app} is missing {', '.join(missing)}")
    try:
        return _run(engine, directory, progress)
    except DBAPIError as exc:  # e.g. a concurrent writer got there first; the transaction is rolled back
        # The driver's first line only: its detail could quote other rows' data.
        diag = getattr(exc.orig, "diag", None)
        reason = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
        raise ImportFailed(f"the database refused the import, nothing was imported: {reason}") from None


def _run(engine: Engine, directory: Path, progress: Progress | None) -> ImportResult:
    errors = _Errors()
    result = ImportResult()
    with engine.execution_options(write=True).connect() as conn, conn.begin() as tx:
        writer = _Writer(conn)
        first_seq = import_audit.max_seq(conn) + 1
        for spec in SPECS:
            path = directory / "app" / spec.name
            if path.is_file():
                _FileImport(spec, path, conn, writer, errors).run(result, progress)
        if not errors.count:
            import_audit.record(conn, str(directory.resolve()), writer.ledger, first_seq, import_audit.max_seq(conn))
        if errors.count:
            tx.rollback()
            raise ImportFailed(
                f"{errors.count:,} problem{'s' if errors.count > 1 else ''} in {directory}; nothing was imported",
                details=errors.summary(),
            )
    return result


class _FileImport:
    """One file: lines parsed, checked in batches against what is stored, and written.

    Valid rows are written even after an error (the transaction is rolled back at the end), so later lines are
    checked against everything before them with the same indexed lookups, and no error is a consequence of
    another one.
    """

    def __init__(self, spec: FileSpec, path: Path, conn: Connection, writer: _Writer, errors: _Errors) -> None:
        self.spec, self.path, self.conn, self.writer, self.errors = spec, path, conn, writer, errors
        self.label = f"app/{spec.name}"
        self.seen: dict[Any, int] = {}  # key -> its line in this file
        self.rule = spec.rule(conn) if spec.rule else None
        # An empty table has no stored row to compare with (rows this import writes are caught by `seen`).
        self.stored_before = conn.execute(select(literal(1)).select_from(spec.table).limit(1)).first() is not None
        self.new = self.present = 0

    def run(self, result: ImportResult, progress: Progress | None) -> None:
        total, done, batch = self.path.stat().st_size, 0, []
        for number, size, raw in _lines(self.path):
            done += size
            if progress and number % 5000 == 0:
                progress(self.label, done, total)
            if raw.strip():
                rec = self._parse(number, raw)
                if rec is not None:
                    batch.append((number, rec))
            if len(batch) >= CHUNK:
                self._batch(batch)
                batch = []
        self._batch(batch)
        if progress:
            progress(self.label, total, total)
        result.imported[self.spec.name] = self.new
        if self.present:
            result.already_present[self.spec.name] = self.present

    def _parse(self, number: int, raw: bytes) -> BaseModel | None:
        where = f"{self.label}:{number}"
        try:
            rec = self.spec.model.model_validate_json(raw)
        except ValidationError as exc:
            _describe(exc, self.errors, where)
            return None
        keys = len(rec.model_fields_set) + len(rec.__pydantic_extra__ or ())
        if _key_tokens(raw) > keys:  # rare: a nested object, a quoted colon, or a repeated key
            repeated = _repeated_keys(raw)
            if repeated:
                self.errors.add(where, ", ".join(repeated), "appears more than once in the object")
                return None
        return rec

    def _batch(self, batch: list[tuple[int, BaseModel]]) -> None:
        if not batch:
            return
        spec, recs = self.spec, [rec for _, rec in batch]
        keys = (_key(spec, rec) for rec in recs)
        stored = stored_rows(self.conn, spec.table, spec.key, keys, spec.compared) if self.stored_before else {}
        unknown = {name: missing(self.conn, col, (getattr(rec, name) for rec in recs)) for name, col in spec.refs.items()}
        if self.rule:
            self.rule.prefetch(self.conn, recs)
        rows = [row for number, rec in batch if (row := self._check(number, rec, stored, unknown)) is not None]
        self.writer.insert(spec.table, rows)
        self.new += len(rows)

    def _check(self, number: int, rec: BaseModel, stored: dict[Any, Any], unknown: dict[str, set[Any]]) -> dict | None:
        spec, where = self.spec, f"{self.label}:{number}"
        if not _references_ok(spec, rec, unknown, self.errors, where):
            return None
        key, row = _key(spec, rec), _row(spec, rec)
        if key in self.seen:
            self._duplicate(where, key, row, self.seen[key])
            return None
        self.seen[key] = number
        if key in stored:
            diff = differences(spec.compared, stored[key], row)
            if diff:
                self.errors.add(where, ", ".join(spec.key), f"{_shown(key)} is already in the database with other "
                                f"content: {'; '.join(diff)} (only an identical re-import is a no-op)")
            else:
                self.present += 1
            return None
        if self.rule and not self.rule.check(rec, number, where, self.errors):
            return None
        return row

    def _duplicate(self, where: str, key: Any, row: dict[str, Any], earlier: int) -> None:
        first = self.spec.model.model_validate_json(_line_at(self.path, earlier))
        diff = differences(self.spec.compared, _row(self.spec, first), row)
        what = f"other content: {'; '.join(diff)}" if diff else "the same content"
        self.errors.add(where, ", ".join(self.spec.key), f"duplicate {_shown(key)} (line {earlier} has {what})")


def _key_tokens(raw: bytes) -> int:
    """An upper bound on the keys in a line; compact JSON (`"key":`) needs no regex."""
    if KEY_SPACED.search(raw):
        return len(KEY_TOKEN.findall(raw))
    return raw.count(b'":')


def _line_at(path: Path, number: int) -> bytes:
    with path.open("rb") as fh:
        return next(itertools.islice(fh, number - 1, None))


def _repeated_keys(raw: bytes) -> list[str]:
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [k for k, _ in items]
        repeated.extend(k for k in dict.fromkeys(names) if names.count(k) > 1 and k not in repeated)
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    return repeated


def _key(spec: FileSpec, rec: BaseModel) -> Any:
    if len(spec.key) == 1:
        return getattr(rec, spec.key[0])
    return tuple(canonical(getattr(rec, k)) for k in spec.key)


def _shown(key: Any) -> str:
    return repr(key) if not isinstance(key, tuple) else ", ".join(str(v) for v in key)


def _references_ok(spec: FileSpec, rec: BaseModel, unknown: dict[str, set[Any]], errors: _Errors, where: str) -> bool:
    ok = True
    for name, column in spec.refs.items():
        value = getattr(rec, name)
        if value in unknown[name]:
            noun = "account" if column.table.name == "accounts" else "gift"
            errors.add(where, name, f"unknown {noun} {value!r}")
            ok = False
    return ok
