"""Per-store sync cursors: how far each store's view is complete for a scope, so a re-run resumes from there."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import SyncCursor
from supportdesk.stores.upsert import dialect_insert

ALL = "all"  # the scope of a sync of every account


def cursor_of(engine: Engine, store: str, scope: str = ALL) -> SyncCursor | None:
    with read_session(engine) as session:
        row = session.get(SyncCursor, (store, scope))
        if row is not None:
            session.expunge(row)
        return row


def record_run(engine: Engine, store: str, scope: str, *, until: datetime, at: datetime,
               error: str | None = None) -> None:
    """A completed run moves the cursor to `until`; a failed one keeps it and notes the error. One upsert, so two
    runs finishing at once cannot collide on the key."""
    row = {"store": store, "scope": scope, "last_run_at": at, "status": "failed" if error else "ok", "error": error,
           "synced_until": None if error else until}
    with write_session(engine) as session:
        stmt = dialect_insert(session)(SyncCursor.__table__).values([row])  # type: ignore[attr-defined]
        changes = {"last_run_at": stmt.excluded.last_run_at, "status": stmt.excluded.status,
                   "error": stmt.excluded.error}
        if error is None:
            changes["synced_until"] = stmt.excluded.synced_until
        session.execute(stmt.on_conflict_do_update(index_elements=["store", "scope"], set_=changes))
