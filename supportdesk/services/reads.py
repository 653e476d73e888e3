"""Reads that run often and return many rows (a lookup, an account's story): statements compiled once per database
(dialect) and run through one driver cursor held for the session's transaction, rows as tuples with each column's
value converted as SQLAlchemy would convert it (its result processors, found once per statement), no ORM objects
and no per-call statement building."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Select, literal
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

if TYPE_CHECKING:
    AnySelect = Select[*tuple[Any, ...]]  # a select of any columns

_HELD = "supportdesk.reads.cursor"  # session.info key: (the session's transaction, its driver cursor, dialect)


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement as the driver takes it: its SQL, and where each value goes (positional drivers) or None;
    its result columns' names and types."""

    sql: str
    order: tuple[str, ...] | None
    fixed: dict[str, Any]
    names: tuple[str, ...] = ()
    types: tuple[Any, ...] = ()
    processors: dict[int, tuple[tuple[int, Callable[[Any], Any]], ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, stmt: Any, dialect: Dialect) -> Compiled:
        compiled = stmt.compile(dialect=dialect)
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        columns = list(stmt.selected_columns) if hasattr(stmt, "selected_columns") else []
        return cls(compiled.string, order, dict(compiled.params), tuple(c.key for c in columns),
                   tuple(c.type for c in columns))

    def args(self, values: dict[str, Any]) -> Any:
        given = {**self.fixed, **values}
        return given if self.order is None else tuple(map(given.__getitem__, self.order))

    def converters(self, dialect: Dialect, description: Any) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        """(column index, converter) for the columns whose driver value SQLAlchemy converts (a datetime from
        SQLite's text, made aware in UTC...), found from the driver's column types once and kept."""
        key = id(dialect)
        found = self.processors.get(key)
        if found is None:
            found = tuple((i, p) for i, (t, d) in enumerate(zip(self.types, description, strict=True))
                          if (p := t._cached_result_processor(dialect, d[1])) is not None)
            self.processors[key] = found
        return found


def among(column: Any, values: Iterable[Any]) -> Any:
    """`column IN (constants)` as plain bound values (an `in_` list would be expanded per execution)."""
    return column.in_([literal(v) for v in values])


@lru_cache(maxsize=256)  # keyed by the dialect object: one per engine
def prepared(build: Callable[[], AnySelect], dialect: Dialect) -> Compiled:
    """`build()` compiled once per database (dialect) and kept: sqlite3 and psycopg keep their own prepared
    statements for the same SQL text."""
    return Compiled.of(build(), dialect)


class Rows:
    """Runs compiled statements on the session's own connection (its transaction, held for the session) through
    one driver cursor kept for the transaction. Driver errors become SQLAlchemy's, as they would through the
    session."""

    cursor: Any  # the driver's cursor
    dialect: Dialect

    def __init__(self, session: Session) -> None:
        session.flush()  # what the session holds unwritten is seen, as a query through the session would see it
        transaction = session.get_transaction()
        held = session.info.get(_HELD)
        if held is None or transaction is None or held[0] is not transaction or not transaction.is_active:
            conn = session.connection()
            held = session.info[_HELD] = (session.get_transaction(), conn.connection.cursor(), conn.dialect)
        _, self.cursor, self.dialect = held

    def raw(self, stmt: Compiled, values: dict[str, Any]) -> list[Any]:
        """The driver's rows, as the driver gives them."""
        args = stmt.args(values)
        try:
            self.cursor.execute(stmt.sql, args)
            return list(self.cursor.fetchall())
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(stmt.sql, args, exc, self.dialect.loaded_dbapi.Error,
                                      dialect=self.dialect) from exc

    def tuples(self, build: Callable[[], AnySelect], **values: Any) -> list[tuple[Any, ...]]:
        """The rows of `build()` with :values bound, each value converted as SQLAlchemy would."""
        stmt = prepared(build, self.dialect)
        rows = self.raw(stmt, values)
        if not rows:
            return []
        converters = stmt.converters(self.dialect, self.cursor.description)
        if not converters:
            return [tuple(r) for r in rows]
        out = []
        for r in rows:
            row = list(r)
            for i, convert in converters:
                row[i] = convert(row[i])
            out.append(tuple(row))
        return out

    def dicts(self, build: Callable[[], AnySelect], **values: Any) -> list[dict[str, Any]]:
        """The same rows as dicts by column name."""
        names = prepared(build, self.dialect).names
        return [dict(zip(names, r, strict=True)) for r in self.tuples(build, **values)]
