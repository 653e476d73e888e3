"""Per-store sync cursors: how far each store's view is complete for a scope, so a re-run resumes from there."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import SyncCursor

ALL = "all"  # the scope of a sync of every account


def cursor_of(engine: Engine, store: str, scope: str = ALL) -> SyncCursor | None:
    with read_session(engine) as session:
        row = session.get(SyncCursor, (store, scope))
        if row is not None:
            session.expunge(row)
        return row


def record_run(engine: Engine, store: str, scope: str, *, until: datetime, at: datetime,
               error: str | None = None) -> None:
    """A completed run moves the cursor to `until`; a failed one keeps it and notes the error."""
    with write_session(engine) as session:
        row = session.get(SyncCursor, (store, scope))
        if row is None:
            row = SyncCursor(store=store, scope=scope, last_run_at=at, status="ok")
            session.add(row)
        row.last_run_at, row.status, row.error = at, "failed" if error else "ok", error
        if error is None:
            row.synced_until = until
