"""The sync before a reconcile: each store on its own window (resuming from its cursor), one store's failure
reported and the others' findings kept; the failed store's findings marked stale."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from supportdesk.config import Settings
from supportdesk.db.engine import read_session
from supportdesk.db.models import Account, Purchase
from supportdesk.services.reconcile import Scope, _purchase_scope
from supportdesk.stores.cursors import ALL, cursor_of, record_run
from supportdesk.stores.sources import APPLE_LOOKBACK
from supportdesk.stores.sync import ALL_STORES, SyncResult, configured_stores, store_clock, sync

RESUME_OVERLAP = timedelta(days=1)  # re-read a day before the cursor: stores publish late and clocks differ


def sync_start(engine: Engine, scope: Scope) -> datetime | None:
    """How far back a complete look reaches: for one account, since it was created (a charge we never recorded
    may predate our first purchase record); for everything, our oldest purchase."""
    with read_session(engine) as session:
        if scope.account_id:
            account = session.get(Account, scope.account_id)
            return account.created_at if account else None
        return session.execute(_purchase_scope(select(func.min(Purchase.purchased_at)), scope)).scalar()


def store_since(engine: Engine, scope: Scope, store: str, now: datetime, *, lookup_old: bool) -> datetime:
    """Where one store's window starts. An explicit --since wins; one account (cheap: asked per customer) and
    `lookup_old` go back to `sync_start`, looking our older purchases up one by one; otherwise the stores'
    look-back window (Apple's 180 days, the widest), or the store's cursor when it is later (a resumed run)."""
    if scope.since:
        return scope.since
    if scope.account_id or lookup_old:
        return sync_start(engine, scope) or now - APPLE_LOOKBACK
    since = now - APPLE_LOOKBACK
    cursor = cursor_of(engine, store, ALL)
    if cursor is not None and cursor.synced_until is not None:
        since = max(since, cursor.synced_until - RESUME_OVERLAP)
    return since


def sync_before(engine: Engine, settings: Settings, scope: Scope, *, progress: Any = None,
                cancelled: Callable[[], bool] | None = None, lookup_old: bool = False,
                now: datetime | None = None, clients: dict[str, Any] | None = None) -> SyncResult | None:
    """Pull the stores' view of the scope before reconciling (one account: only that customer).

    Returns the SyncResult (a store that failed is in `failed`, the others synced), or None when no store is
    configured. A sync of every account moves each store's cursor when that store completed. `now` is the stores'
    clock (default: the config's, else the wall clock); `clients` stand in for the configured stores' clients."""
    known = set(configured_stores(settings)) | set(clients or {})
    stores = [scope.store] if scope.store else [s for s in ALL_STORES if s in known]
    if not stores:
        return None
    now = now or store_clock(settings) or datetime.now(UTC)
    total: SyncResult | None = None
    for store in stores:
        since = min(store_since(engine, scope, store, now, lookup_old=lookup_old), now - timedelta(days=1))
        one = sync(engine, settings, since=since, stores=[store], now=now, account_id=scope.account_id,
                   progress=progress, cancelled=cancelled, clients=clients)
        if scope.account_id is None and scope.since is None and not one.cancelled:
            error = one.failed.get(store, {}).get("message")
            record_run(engine, store, ALL, until=one.until, at=datetime.now(UTC), error=error)
        total = one if total is None else _merge(total, one)
        if one.cancelled:
            break
    return total


def _merge(total: SyncResult, one: SyncResult) -> SyncResult:
    total.since = min(total.since, one.since)
    total.synced.update(one.synced)
    total.failed.update(one.failed)
    total.cancelled = one.cancelled
    return total


def store_status(result: SyncResult | None) -> dict[str, Any]:
    """For the reconcile summary: each store asked, ok or failed (with the store's error)."""
    if result is None:
        return {"stores": {}, "failed_stores": []}
    stores: dict[str, Any] = {s: {"status": "ok"} for s in result.synced if s not in result.failed}
    for store, error in result.failed.items():
        stores[store] = {"status": "failed", "error": error}
    return {"stores": stores, "failed_stores": sorted(result.failed)}


def mark_stale(findings: list[dict[str, Any]], failed: list[str]) -> list[dict[str, Any]]:
    """A finding of a store that could not be synced rests on what was synced before: say so on each."""
    for f in findings:
        f["stale"] = f.get("store") in failed
    return findings
