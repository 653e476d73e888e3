"""`supportdesk import DIR`: validate every line, then write everything or nothing.

One pass inside one transaction: each line is validated, checked in batches against the lines before it and the
database (import_checks), and written; every problem is reported (up to a cap) and any problem rolls the whole
import back. An id already in the database with the same content is skipped, so importing the same directory
twice changes nothing; with other content it is an error.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import attrgetter, itemgetter
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
CHUNK = 20_000  # lines checked against the database and written together (a COPY of 20,000 rows cost the server
# about a sixth less than four of 5,000: 1M entries in 27-35 s against 33-38 s, 50 MiB more at the peak)
# Lines validated together and progress reported after each: a batch is read in groups of this size, so progress
# moves as the lines are checked, and a group holding a bad line is re-read line by line at this size, not CHUNK's.
GROUP = 5_000
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
# A JSON key is a string followed by a colon (`"key":`, maybe with whitespace between): with the whitespace taken
# out, counting `":` bounds the keys of a line from above (a string value may hold one), in C, without a regex.
JSON_WHITESPACE = b" \t\n\r\x0b\x0c"


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
    """A record's fields as a stored row has them (compared with one on re-import)."""
    row = dict(rec.__dict__)  # the validated fields; cheaper than model_dump for flat records
    if spec.name == "ledger.jsonl" and rec.kind == "reversal" and not rec.reverses:  # type: ignore[attr-defined]
        row["reverses"] = row["ref"]  # the contract's reversal names the entry it undoes in `ref`
    return row


class _Writer:
    """Writes checked records in chunks, the fastest path each engine offers: COPY on PostgreSQL, the DB-API
    executemany on SQLite. Rows are tuples taken from the records in C (`attrgetter`), no dict per row; the
    columns the app fills later (a ledger entry's ticket, a ticket's resolution) are left to their NULL default.

    A checked batch is held (`pending`) until the next batch's lookups are done, and only then written: on
    PostgreSQL by a thread (binary COPY), while this one checks the next batch and validates the lines after it, so
    the server takes in one batch while the client works on the next, where before each waited for the other. The
    rules remember the batch before, which their lookups cannot see yet (import_checks); SQLite holds its batch
    the same way, so both engines' lookups see the same rows.
    """

    def __init__(self, conn: Connection, pool: Executor) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.ledger = import_audit.LedgerDigest()  # what the audit chain will say this import wrote
        self.pool = pool
        self.copying: Future[None] | None = None
        self.pending: tuple[Any, ...] | None = None  # the next COPY's arguments
        self.types: dict[str, dict[str, int]] = {}  # table -> its columns' type oids, for binary COPY
        if self.dialect == "postgresql":
            _larger_send_buffer(conn)

    def prepare(self, table: Table) -> None:
        """Before a file's first batch (the connection is free then): the server's type of each of the table's
        columns, as binary COPY sends each value in exactly its column's format."""
        if self.dialect == "postgresql" and table.name not in self.types:
            sql = ("SELECT attname, atttypid::int FROM pg_attribute "
                   "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped")
            cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(sql, [table.name])
            self.types[table.name] = dict(cursor.fetchall())

    def wait(self) -> None:
        """Until the last COPY has finished (its error raised here): before the connection is used again, so
        every lookup sees the rows written before it."""
        copying, self.copying = self.copying, None
        if copying:
            copying.result()

    def start(self) -> None:
        """Start writing the held batch, once the one being written is in (on SQLite: write it)."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        if self.dialect == "postgresql":
            self.wait()
            self.copying = self.pool.submit(_copy, *pending)
        else:
            self._sqlite_write(*pending)

    def flush(self) -> None:
        """Everything checked so far written: at the end of a file, so the next one sees it."""
        self.start()
        self.wait()

    def insert(self, spec: FileSpec, recs: list[BaseModel]) -> None:
        if not recs:
            return
        table = spec.table
        cols = [c.name for c in table.columns if c.name in spec.model.model_fields]
        rows: list[tuple[Any, ...]] = list(map(attrgetter(*cols), recs))
        if spec.name == "ledger.jsonl":
            rows = _reversals_named(rows, cols)
            self.ledger.add_values(map(itemgetter(*(cols.index(f) for f in import_audit.FIELDS)), rows))
        assert self.pending is None, "the batch before is started (`start`) after this batch's lookups"
        if self.dialect == "postgresql":
            cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            self.pending = (cursor, table, cols, [self.types[table.name][c] for c in cols], rows)
        else:  # held too, so a batch's lookups see the same rows on both engines
            self.pending = (table, cols, rows)

    def _sqlite_write(self, table: Table, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not any(isinstance(c.type, JSON) for c in table.columns):
            self._sqlite_many(table, cols, rows)
        else:
            self.conn.execute(sqlite.insert(table).on_conflict_do_nothing(), [dict(zip(cols, r, strict=True)) for r in rows])

    def _sqlite_many(self, table: Table, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
        """The DB-API executemany with values already in SQLAlchemy's SQLite storage format: 3x faster."""
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) ON CONFLICT DO NOTHING"
        cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        # Only date/time columns need converting: decide per column once, not per value.
        temporal = [i for i, c in enumerate(cols) if _is_temporal(table.c[c])]

        def stored(row: tuple[Any, ...]) -> list[Any]:
            values = list(row)
            for i in temporal:
                values[i] = _sqlite_value(values[i])
            return values

        # sqlite3 takes any iterable of rows: a generator, not a second copy of the batch
        cursor.executemany(sql, map(stored, rows) if temporal else rows)  # type: ignore[arg-type]


def _copy(cursor: Any, table: Table, cols: list[str], types: list[int], rows: list[tuple[Any, ...]]) -> None:
    """Binary COPY, every table: each value goes in its column's own format, so the server parses no text (a
    timestamp is eight bytes, not 25 characters for both sides to format and parse). The rows were checked (keys,
    references, meaning) before they get here, so a row that still conflicts (a concurrent writer's) refuses the
    whole import rather than being skipped."""
    import psycopg  # here: a SQLite-only run never imports the driver

    statement = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)"
    try:
        with cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:  # the driver's own error, as SQLAlchemy would have raised it: run_import reports
        raise DBAPIError(statement, None, exc) from exc


SEND_BUFFER = 4 * 1024 * 1024  # bytes (the kernel may double it): a batch of binary COPY data (20,000 ledger rows: 2-3 MB)


def _larger_send_buffer(conn: Connection) -> None:
    """A send buffer that takes a whole batch: the COPY thread hands its data to the kernel in one go and then
    waits without the interpreter lock, where with the default buffer it had to wake and take the lock for every
    few kilobytes the server read, and the server waited for it while this thread validated the next lines."""
    fd = conn.connection.dbapi_connection.pgconn.socket  # type: ignore[union-attr]
    with socket.socket(fileno=os.dup(fd)) as sock:  # the same socket, through a descriptor of our own to close
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < SEND_BUFFER:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


def _reversals_named(rows: list[tuple[Any, ...]], cols: list[str]) -> list[tuple[Any, ...]]:
    """The contract's reversal may name the entry it undoes in `ref` alone: stored, `reverses` names it too."""
    kind, ref, reverses = cols.index("kind"), cols.index("ref"), cols.index("reverses")
    return [(*row[:reverses], row[ref], *row[reverses + 1:]) if row[kind] == "reversal" and not row[reverses] else row
            for row in rows]


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
        with _collector_paused():
            return _run(engine, directory, progress)
    except DBAPIError as exc:  # e.g. a concurrent writer got there first; the transaction is rolled back
        # The driver's first line only: its detail could quote other rows' data.
        diag = getattr(exc.orig, "diag", None)
        reason = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
        raise ImportFailed(f"the database refused the import, nothing was imported: {reason}") from None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while the import runs (only cycles wait for it; an import makes few). Each batch's
    records live long enough to reach the oldest generation, so full passes came every few batches and each
    walked the whole heap (modules, metadata, schemas): a quarter of the import's CPU."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run(engine: Engine, directory: Path, progress: Progress | None) -> ImportResult:
    errors = _Errors()
    result = ImportResult()
    with engine.execution_options(write=True).connect() as conn, conn.begin() as tx, ThreadPoolExecutor(1) as pool:
        writer = _Writer(conn, pool)
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
    checked against everything before them with the same indexed lookups (and against the batch just before,
    written after those lookups, by what the rules and `seen` remember), and no error is a consequence of
    another one. Lines are read and validated a group at a time, and a batch with nothing to report takes a
    path without per-line bookkeeping; any problem in a group or a batch sends it through the line-by-line path,
    which reports it exactly, in line order.
    """

    def __init__(self, spec: FileSpec, path: Path, conn: Connection, writer: _Writer, errors: _Errors) -> None:
        self.spec, self.path, self.conn, self.writer, self.errors = spec, path, conn, writer, errors
        self.label = f"app/{spec.name}"
        self.validate = spec.model.__pydantic_validator__.validate_json  # what model_validate_json calls
        self.seen: dict[Any, int] = {}  # key -> its line in this file
        self.rule = spec.rule(conn) if spec.rule else None
        # An empty table has no stored row to compare with (rows this import writes are caught by `seen`).
        self.stored_before = conn.execute(select(literal(1)).select_from(spec.table).limit(1)).first() is not None
        writer.prepare(spec.table)
        self.numbers: list[int] = []  # the batch: valid records and their lines
        self.recs: list[BaseModel] = []
        self.new = self.present = 0

    def run(self, result: ImportResult, progress: Progress | None) -> None:
        total, done, number = self.path.stat().st_size, 0, 0
        with self.path.open("rb") as fh:
            # Up to as many lines as the batch lacks: a batch is full at the same line as when read line by line.
            while group := list(itertools.islice(fh, min(GROUP, CHUNK - len(self.recs)))):
                first, number = number + 1, number + len(group)
                self._parse_group(first, group)
                if progress:  # as the lines are checked, not as they are read
                    done = _report(progress, self.label, group, first, done, total)
                if len(self.recs) >= CHUNK:
                    self._batch()
        self._batch()
        self.writer.flush()
        if progress:
            progress(self.label, total, total)
        result.imported[self.spec.name] = self.new
        if self.present:
            result.already_present[self.spec.name] = self.present

    def _parse_group(self, first: int, group: list[bytes]) -> None:
        try:
            recs = list(map(self.validate, group))
        except ValidationError:  # an invalid or blank line
            recs = None
        # Each line has at least as many key tokens as keys, so equal sums mean no line repeats a key.
        if recs is None or _key_tokens(b"".join(group)) > sum(len(rec.model_fields_set) for rec in recs):
            for number, raw in enumerate(group, start=first):
                if raw.strip() and (rec := self._parse(number, raw)) is not None:
                    self.numbers.append(number)
                    self.recs.append(rec)
            return
        self.numbers.extend(range(first, first + len(group)))
        self.recs.extend(recs)

    def _parse(self, number: int, raw: bytes) -> BaseModel | None:
        where = f"{self.label}:{number}"
        try:
            rec = self.validate(raw)
        except ValidationError as exc:
            _describe(exc, self.errors, where)
            return None
        if _key_tokens(raw) > len(rec.model_fields_set):  # rare: a nested object, a quoted colon, a repeated key
            repeated = _repeated_keys(raw)
            if repeated:
                self.errors.add(where, ", ".join(repeated), "appears more than once in the object")
                return None
        return rec

    def _batch(self) -> None:
        numbers, recs, spec = self.numbers, self.recs, self.spec
        if not recs:
            return
        self.numbers, self.recs = [], []
        self.writer.wait()
        keys = [_key(spec, rec) for rec in recs] if len(spec.key) > 1 else list(map(attrgetter(spec.key[0]), recs))
        stored = stored_rows(self.conn, spec.table, spec.key, keys, spec.compared) if self.stored_before else {}
        if self.rule:
            self.rule.prefetch(self.conn, recs)
        known = self.rule.known if self.rule else lambda _: set()
        unknown = {name: missing(self.conn, col, set(map(attrgetter(name), recs)) - known(col))
                   for name, col in spec.refs.items()}
        self.writer.start()  # the batch before this one: the connection is the COPY's until the next lookups
        if stored or any(unknown.values()) or not self._first_seen(keys, numbers):
            kept = [rec for number, rec in zip(numbers, recs, strict=True) if self._check(number, rec, stored, unknown)]
        elif self.rule:  # every key new and every reference known: only the rule can refuse a line
            check, label, errors = self.rule.check, self.label, self.errors
            kept = [rec for number, rec in zip(numbers, recs, strict=True) if check(rec, number, f"{label}:{number}", errors)]
        else:
            kept = recs
        self.writer.insert(spec, kept)
        self.new += len(kept)

    def _first_seen(self, keys: list[Any], numbers: list[int]) -> bool:
        """Record the batch's keys as seen if none repeats one before it (in the file or the batch)."""
        if len(set(keys)) < len(keys) or not self.seen.keys().isdisjoint(keys):
            return False
        self.seen.update(zip(keys, numbers, strict=True))
        return True

    def _check(self, number: int, rec: BaseModel, stored: dict[Any, Any], unknown: dict[str, set[Any]]) -> bool:
        spec, where = self.spec, f"{self.label}:{number}"
        if not _references_ok(spec, rec, unknown, self.errors, where):
            return False
        key, row = _key(spec, rec), _row(spec, rec)
        if key in self.seen:
            self._duplicate(where, key, row, self.seen[key])
            return False
        self.seen[key] = number
        if key in stored:
            diff = differences(spec.compared, stored[key], row)
            if diff:
                self.errors.add(where, ", ".join(spec.key), f"{_shown(key)} is already in the database with other "
                                f"content: {'; '.join(diff)} (only an identical re-import is a no-op)")
            else:
                self.present += 1
            return False
        return not self.rule or self.rule.check(rec, number, where, self.errors)

    def _duplicate(self, where: str, key: Any, row: dict[str, Any], earlier: int) -> None:
        first = self.validate(_line_at(self.path, earlier))
        diff = differences(self.spec.compared, _row(self.spec, first), row)
        what = f"other content: {'; '.join(diff)}" if diff else "the same content"
        self.errors.add(where, ", ".join(self.spec.key), f"duplicate {_shown(key)} (line {earlier} has {what})")


def _report(progress: Progress, label: str, group: list[bytes], first: int, done: int, total: int) -> int:
    """Progress every GROUP lines, with the bytes read up to that line; the bytes read after the group."""
    for number in range(first + (-first) % GROUP, first + len(group), GROUP):
        progress(label, done + sum(map(len, group[:number - first + 1])), total)
    return done + sum(map(len, group))


def _key_tokens(raw: bytes) -> int:
    """An upper bound on the keys in a line (or in lines joined)."""
    return raw.translate(None, JSON_WHITESPACE).count(b'":')


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
