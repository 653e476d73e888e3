"""Per-id lookups on a bounded pool of threads per store, so a sync waits for the network a few requests at a
time instead of one after another.

The pool only fetches: results come back in the order asked, and the caller builds its batch from them and
writes it on its own thread and connection, in the same order as before. Each request still takes a token from
the store's throttle (`stores.throttle`) before it is sent, so the pool never goes faster than the store's
published limits; a 429 with Retry-After holds that endpoint's bucket, so every worker waits, not only the one
that was told. A store's table may set `lookup_workers` (1 to 32; default 8). A client without the attribute
(the test fakes) is asked one id at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any, TypeVar

from supportdesk.errors import ConfigError
from supportdesk.stores.errors import StoreNotFound

DEFAULT_WORKERS = 8
MAX_WORKERS = 32
Item = TypeVar("Item")
R = TypeVar("R")


def lookup_workers(store: str, config: dict[str, Any]) -> int:
    value = config.get("lookup_workers", DEFAULT_WORKERS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise ConfigError(f"[stores.{store}] lookup_workers must be a whole number from 1 to {MAX_WORKERS}, "
                          f"not {value!r}")
    return value


def each(client: Any, fn: Callable[[Item], R], items: Sequence[Item]) -> list[tuple[Item, R | StoreNotFound]]:
    """`fn(item)` for every item, at most the client's `lookup_workers` at once; (item, result) in the order of
    `items`, a StoreNotFound as the result of an id the store does not know. Any other error is raised (the first
    in order), and the lookups not yet started are cancelled."""
    workers = min(int(getattr(client, "lookup_workers", 1) or 1), len(items))

    def one(item: Item) -> R | StoreNotFound:
        try:
            return fn(item)
        except StoreNotFound as exc:
            return exc

    if workers <= 1:
        return [(item, one(item)) for item in items]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store-lookup")
    try:
        futures = [pool.submit(one, item) for item in items]
        return [(item, future.result()) for item, future in zip(items, futures, strict=True)]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ahead(items: Iterator[Item]) -> Iterator[Item]:
    """The items of `items`, the next one fetched on a thread of its own while the caller works on the current
    (a listing's next page is asked for while the lookups of this one run). An error is raised where the item
    it stopped would have been; a consumer that stops early waits for the fetch under way, then ends."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-ahead") as thread:
        upcoming = thread.submit(_next, items)
        while True:
            item = upcoming.result()
            if not item:
                return
            upcoming = thread.submit(_next, items)
            yield item[0]


def _next(items: Iterator[Item]) -> list[Item]:
    """The next item as a one-item list; [] at the end."""
    return list(islice(items, 1))
