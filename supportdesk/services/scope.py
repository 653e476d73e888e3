"""What a reconcile run looks at (one account, one store, since a date) and the plain rows its findings carry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from supportdesk.db.models import Purchase, StoreRecord

BATCH = 5000


@dataclass(frozen=True)
class Scope:
    account_id: str | None = None
    store: str | None = None
    since: datetime | None = None


def _scoped(stmt: Any, scope: Scope, model: Any) -> Any:
    """Narrow a query on store records or purchases (both have account_id, store, purchased_at) to the scope."""
    if scope.account_id:
        stmt = stmt.where(model.account_id == scope.account_id)
    if scope.store:
        stmt = stmt.where(model.store == scope.store)
    if scope.since:
        stmt = stmt.where(model.purchased_at >= scope.since)
    return stmt


def _store_scope(stmt: Any, scope: Scope) -> Any:
    return _scoped(stmt, scope, StoreRecord)


def _purchase_scope(stmt: Any, scope: Scope) -> Any:
    return _scoped(stmt, scope, Purchase)


def _stream(session: Session, stmt: Any) -> Iterator[Any]:
    yield from session.execute(stmt.execution_options(yield_per=BATCH))


def purchase_json(p: Purchase) -> dict[str, Any]:
    return p.model_dump()
