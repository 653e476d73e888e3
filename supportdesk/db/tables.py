"""A table model's Core `Table`, typed: SQLModel sets `__table__` on `table=True` models at class creation but does
not declare it, so `Model.__table__` is untyped to a checker. Use `table_of(Model)` instead."""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """`model.__table__` (the same object)."""
    found: Table = model.__table__  # type: ignore[attr-defined]
    return found
