"""What needs attention first, in words: a store answer's deadline, and whether a store's view is stale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

STALE_AFTER = timedelta(hours=24)  # a store not synced for this long is stale (a reconcile would miss its news)


def due_words(due: datetime, now: datetime) -> str:
    """"due in 3h 12m" or "overdue by 2h 5m" (minutes dropped past a day)."""
    left = due - now
    late = left < timedelta(0)
    minutes = int(abs(left).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    span = f"{days}d {hours}h" if days else f"{hours}h {mins:02d}m" if hours else f"{mins}m"
    return f"overdue by {span}" if late else f"due in {span}"


@dataclass(frozen=True)
class StoreFreshness:
    store: str
    state: str  # ok | failed | old | never
    last_run_at: datetime | None
    synced_until: datetime | None
    why: str

    @property
    def stale(self) -> bool:
        return self.state != "ok"


def freshness(store: str, now: datetime, *, status: str | None = None, last_run_at: datetime | None = None,
              synced_until: datetime | None = None, error: str | None = None,
              stale_after: timedelta = STALE_AFTER) -> StoreFreshness:
    """A store's full sync (its cursor): never run, failed last time, older than `stale_after`, or fresh."""
    if last_run_at is None:
        return StoreFreshness(store, "never", None, None, "never synced")
    if status == "failed":
        return StoreFreshness(store, "failed", last_run_at, synced_until, f"failed: {error or 'no reason given'}")
    age = now - last_run_at
    if age > stale_after:
        return StoreFreshness(store, "old", last_run_at, synced_until,
                              f"last synced {due_words(now, last_run_at).removeprefix('due in ')} ago")
    return StoreFreshness(store, "ok", last_run_at, synced_until, "synced")
