"""Reads that run often and return many rows (a lookup, an account's story): statements compiled once per database
(dialect) and run through one driver cursor held for the session's transaction, rows as tuples with each column's
value converted as SQLAlchemy would convert it (its result processors, found once per statement), no ORM objects
and no per-call statement building."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Select, literal
from sqlmodel import Session

from supportdesk.db.driver import Compiled, fetch, held_cursor

if TYPE_CHECKING:
    AnySelect = Select[*tuple[Any, ...]]  # a select of any columns


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
    one driver cursor kept for the transaction (`driver.held_cursor`). Driver errors become SQLAlchemy's, as they
    would through the session."""

    cursor: Any  # the driver's cursor
    dialect: Dialect

    def __init__(self, session: Session) -> None:
        self.cursor, self.dialect = held_cursor(session)

    def raw(self, stmt: Compiled, values: dict[str, Any]) -> list[Any]:
        """The driver's rows, as the driver gives them."""
        return fetch(self.cursor, self.dialect, stmt.sql, stmt.args(values))

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
