"""Statements compiled once per database and run on the session's own driver cursor: for the hot reads (a lookup,
sync's account match) where SQLAlchemy's per-call work (parameter processing, result rows) costs more than the
query. Driver errors become SQLAlchemy's, as they would through the session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

_HELD = "supportdesk.driver.cursor"  # session.info key: (the session's transaction, its driver cursor, dialect)


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement as the driver takes it: its SQL, and where each value goes (positional drivers) or None;
    its result columns' names and types (to convert values as SQLAlchemy would, see `converters`)."""

    sql: str
    order: tuple[str, ...] | None
    fixed: dict[str, Any]
    tail: tuple[Any, ...] | None  # positional: the fixed values after the leading :v (a LIMIT), when that is all
    names: tuple[str, ...] = ()
    types: tuple[Any, ...] = ()
    processors: dict[int, tuple[tuple[int, Callable[[Any], Any]], ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, stmt: Any, dialect: Dialect) -> Compiled:
        compiled = stmt.compile(dialect=dialect)
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        fixed = dict(compiled.params)
        tail = None
        if order and order[0] == "v" and "v" not in order[1:]:
            tail = tuple(fixed[name] for name in order[1:])
        columns = list(stmt.selected_columns) if hasattr(stmt, "selected_columns") else []
        return cls(compiled.string, order, fixed, tail, tuple(c.key for c in columns),
                   tuple(c.type for c in columns))

    def args(self, values: dict[str, Any]) -> Any:
        given = {**self.fixed, **values}
        return given if self.order is None else tuple(map(given.__getitem__, self.order))

    def args_of(self, value: Any) -> Any:
        """`args({"v": value})`, for a statement of one value, without building the merge each call."""
        if self.tail is not None:
            return (value, *self.tail)
        return self.args({"v": value})

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


def held_cursor(session: Session) -> tuple[Any, Dialect]:
    """The driver cursor kept for the session's transaction (its own connection, held for the session), and the
    dialect: compiled statements run on it with no ORM objects and no per-call statement building."""
    session.flush()  # what the session holds unwritten is seen, as a query through the session would see it
    transaction = session.get_transaction()
    held = session.info.get(_HELD)
    if held is None or transaction is None or held[0] is not transaction or not transaction.is_active:
        conn = session.connection()
        held = session.info[_HELD] = (session.get_transaction(), conn.connection.cursor(), conn.dialect)
    return held[1], held[2]


def fetch(cursor: Any, dialect: Dialect, sql: str, args: Any, most: int | None = None) -> list[Any]:
    """The driver's rows for the statement (the first `most` of them if given); its errors become SQLAlchemy's.
    A statement whose rows are not all fetched is left open on the cursor until its next execute."""
    try:
        cursor.execute(sql, args)
        rows: list[Any] = cursor.fetchall() if most is None else cursor.fetchmany(most)
        return rows
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc
