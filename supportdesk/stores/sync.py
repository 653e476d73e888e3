"""`stores sync`: pull what each store knows about a window into `store_records`, a batch per transaction.

Idempotent (a second run changes nothing), resumable (an interrupted run keeps its whole batches and a re-run
completes it), cancellable between batches. A store that fails is reported and the others still run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from supportdesk.config import Settings
from supportdesk.db.engine import read_session
from supportdesk.db.models import Account
from supportdesk.domain.when import parse_when  # re-exported: callers import it from here too
from supportdesk.errors import ConfigError, InvalidInput, NotFound, SupportdeskError
from supportdesk.stores.absences import record_absences
from supportdesk.stores.policy import RetryPolicy
from supportdesk.stores.sources import ACCOUNT_SOURCES, SOURCES, AccountScope, Batch, Window
from supportdesk.stores.upsert import BatchCounts, Key, upsert_batch

ALL_STORES = ("apple", "google", "web")
Progress = Callable[[str, int, int | None], None]


@dataclass
class StoreCounts:
    """Distinct transactions: one refunded between two listings of the same run is updated once, not twice."""

    not_found: int = 0  # our purchases the store does not know
    acknowledged: int = 0  # Google RTDN messages acknowledged after their batch was committed
    skipped: str | None = None  # why the store was not asked at all (one account with nothing there)
    _seen: set[Key] = field(default_factory=set, repr=False)
    _inserted: set[Key] = field(default_factory=set, repr=False)
    _updated: set[Key] = field(default_factory=set, repr=False)

    def add(self, written: BatchCounts) -> None:
        self._inserted.update(written.inserted)
        self._updated.update(written.updated)
        self._seen.update(written.inserted + written.updated + written.unchanged)

    @property
    def fetched(self) -> int:
        return len(self._seen)

    @property
    def inserted(self) -> int:
        return len(self._inserted)

    @property
    def updated(self) -> int:
        return len(self._updated - self._inserted)

    @property
    def unchanged(self) -> int:
        return self.fetched - self.inserted - self.updated

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fetched": self.fetched, "inserted": self.inserted, "updated": self.updated,
                               "unchanged": self.unchanged, "not_found": self.not_found,
                               "acknowledged": self.acknowledged}
        if self.skipped:
            out["skipped"] = self.skipped
        return out


@dataclass
class SyncResult:
    since: datetime
    until: datetime
    synced: dict[str, StoreCounts] = field(default_factory=dict)
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled: bool = False
    account_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "synced": {store: counts.to_json() for store, counts in self.synced.items()},
            "window": {"since": self.since, "until": self.until},
            "cancelled": self.cancelled,
        }
        if self.account_id:
            out["account_id"] = self.account_id
        if self.failed:
            out["failed"] = self.failed
            out["error"] = next(iter(self.failed.values()))
        return out


def configured_stores(settings: Settings) -> list[str]:
    return [s for s in ALL_STORES if settings.stores.get(s)]


def make_client(store: str, settings: Settings, policy: RetryPolicy | None = None) -> Any:
    config = settings.stores.get(store)
    if not config:
        where = f" ({settings.path})" if settings.path else ""
        raise ConfigError(f"no [stores.{store}] table in the config{where}: run the store emulator with "
                          "--write-config, or add the store's credentials")
    if store == "apple":
        from supportdesk.stores.apple import AppleClient

        return AppleClient(config, policy=policy)
    if store == "google":
        from supportdesk.stores.google import GoogleClient

        return GoogleClient(config, policy=policy)
    from supportdesk.stores.web import WebClient

    return WebClient(config, policy=policy)


def sync(engine: Engine, settings: Settings, *, since: datetime, until: datetime | None = None,
         stores: list[str] | None = None, progress: Progress | None = None,
         cancelled: Callable[[], bool] | None = None, now: datetime | None = None,
         policy: RetryPolicy | None = None, clients: dict[str, Any] | None = None,
         account_id: str | None = None) -> SyncResult:
    """Pull the stores' records for the window. With `account_id`, only that account's: each store is asked about
    that customer alone (see `sources`), so it costs a handful of requests instead of a listing of everyone.

    The stores are fetched at the same time, each on its own thread (a store's pages follow one another, so
    three stores one after another waited three times as long); every batch is written on the calling thread,
    one transaction each, and a store's next batch is handed over only after its last one was written (its
    listing's next page may already be on the way: `lookups.ahead`)."""
    now = now or datetime.now(UTC)
    until = until or now
    _check_window(since, until)
    chosen = _choose(stores, settings, clients)
    scope = account_scope(engine, account_id) if account_id is not None else None
    sources = SOURCES if scope is None else ACCOUNT_SOURCES
    result = SyncResult(since=since, until=until, account_id=account_id)
    if cancelled and cancelled():
        result.cancelled = True
        return result
    feeds: list[_Feed] = []
    try:
        for store in chosen:
            result.synced[store] = StoreCounts()
            own = store not in (clients or {})
            try:
                client = make_client(store, settings, policy) if own else (clients or {})[store]
            except SupportdeskError as exc:
                result.failed[store] = exc.to_json()["error"]
                continue
            window = Window(engine, since, until, now, account=scope)
            feeds.append(_Feed(store, client, own, sources[store](client, window)))
        result.cancelled = _write_feeds(engine, feeds, result, progress, cancelled)
    except KeyboardInterrupt:  # a second Ctrl+C: stop now, not after the fetches under way
        _stop(feeds, wait=False)
        raise
    finally:
        _stop(feeds)
    result.failed = {store: result.failed[store] for store in chosen if store in result.failed}
    return result


_DONE = object()  # a feed's last message: its batches are all written (or it failed)


class _Feed:
    """One store's batches, made on a thread of their own; the next is made only after the writer is done with
    the last (so a failure after a batch leaves exactly the batches before it, and at most one batch a store
    waits in memory)."""

    def __init__(self, store: str, client: Any, own: bool, batches: Iterator[Batch]) -> None:
        self.store, self.client, self.own, self.batches = store, client, own, batches
        self.written = threading.Semaphore(0)
        self.stopping = False
        self.thread: threading.Thread | None = None

    def start(self, inbox: queue.SimpleQueue[tuple[_Feed, Any]]) -> None:
        self.thread = threading.Thread(target=self._run, args=(inbox,), name=f"sync-{self.store}", daemon=True)
        self.thread.start()

    def _run(self, inbox: queue.SimpleQueue[tuple[_Feed, Any]]) -> None:
        try:
            while not self.stopping:
                batch = next(self.batches, None)
                if batch is None:
                    break
                inbox.put((self, batch))  # fetched whole: written even if the sync was cancelled meanwhile
                self.written.acquire()
        except BaseException as exc:  # handed to the writer's thread, which reports or raises it
            inbox.put((self, exc))
            return
        finally:
            close = getattr(self.batches, "close", None)
            if close is not None:
                close()
        inbox.put((self, _DONE))

    def stop(self) -> None:
        self.stopping = True
        self.written.release()


def _write_feeds(engine: Engine, feeds: list[_Feed], result: SyncResult, progress: Progress | None,
                 cancelled: Callable[[], bool] | None) -> bool:
    """Write the feeds' batches as they come, each in its own transaction; True if cancelled. Once cancelled no
    feed starts another batch, and the batches already under way are written when they come (nothing fetched
    is lost: Google's notifications in them are acknowledged, not left to come back later)."""
    inbox: queue.SimpleQueue[tuple[_Feed, Any]] = queue.SimpleQueue()
    for feed in feeds:
        feed.start(inbox)
    running, stopped = len(feeds), False
    while running:
        feed, message = inbox.get()
        if message is _DONE or isinstance(message, BaseException):
            running -= 1
            if isinstance(message, SupportdeskError):
                result.failed[feed.store] = message.to_json()["error"]
            elif isinstance(message, BaseException):
                raise message
            continue
        try:
            _write(engine, feed.store, message, result.synced[feed.store], progress)
        except SupportdeskError as exc:
            result.failed[feed.store] = exc.to_json()["error"]
            feed.stop()
            continue
        if not stopped and cancelled and cancelled():
            stopped = True
            for each in feeds:
                each.stop()
        feed.written.release()
    return stopped


def _write(engine: Engine, store: str, batch: Batch, counts: StoreCounts, progress: Progress | None) -> None:
    counts.add(upsert_batch(engine, batch.records))
    record_absences(engine, store, batch.absent)
    counts.not_found += batch.not_found
    counts.skipped = batch.skipped or counts.skipped
    if batch.after_commit is not None:
        counts.acknowledged += batch.after_commit()
    if progress:
        progress(store, counts.fetched, None)


def _stop(feeds: list[_Feed], *, wait: bool = True) -> None:
    """Every feed told to stop; with `wait`, its thread waited for (it finishes the fetch it is in) and its
    client closed. Without, the threads (daemons) are left to finish or die with the process."""
    for feed in feeds:
        feed.stop()
    if not wait:
        feeds.clear()
        return
    for feed in feeds:
        if feed.thread is not None:
            feed.thread.join()
        if feed.own:
            feed.client.close()
    feeds.clear()


def account_scope(engine: Engine, account_id: str) -> AccountScope:
    with read_session(engine) as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account {account_id!r} to sync (supportdesk search finds accounts by handle, email or store id)")
        return AccountScope(account.account_id, account.apple_app_account_token, account.web_customer_id)


def _choose(stores: list[str] | None, settings: Settings, clients: dict[str, Any] | None) -> list[str]:
    unknown = [s for s in stores or [] if s not in ALL_STORES]
    if unknown:
        raise InvalidInput(f"unknown store {unknown[0]!r}: choose from {', '.join(ALL_STORES)}")
    if stores:
        return list(dict.fromkeys(stores))
    chosen = sorted(set(configured_stores(settings)) | set(clients or {}), key=ALL_STORES.index)
    if not chosen:
        raise ConfigError("no store is configured: add [stores.apple], [stores.google] or [stores.web] to the "
                          "config (the store emulator's --write-config writes them)")
    return chosen


def _check_window(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput("the sync window needs timezone-aware times")
    if since >= until:
        raise InvalidInput(f"the sync window is empty: since {since:%Y-%m-%d %H:%M} is not before until "
                           f"{until:%Y-%m-%d %H:%M}")


def store_clock(settings: Settings) -> datetime | None:
    """The stores' clock when they are the emulator living at a fixed date (its --now); else None (wall clock).

    Look-back windows (Apple 180 days, Google 30) and refund windows count from the stores' now, so against an
    emulator living at another date they count from that date. The emulator itself is asked (its control API):
    a time written into a config file moves nothing. Its address was read with the settings, once."""
    control = settings.emulator.control_url if settings.emulator else None
    if not control:
        return None
    import httpx  # only when an emulator is configured: the services that import this module stay off the network

    try:
        answer = httpx.get(f"{str(control).rstrip('/')}/clock", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return None  # no emulator answering: the wall clock
    return parse_when(str(answer["now"])) if answer.get("fixed") and answer.get("now") else None
