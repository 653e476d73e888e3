"""One retry/timeout policy for every store client: bounded retries, backoff with jitter, Retry-After, a deadline.

A client wraps one request in `policy.run(...)`; the request raises `Transient` for failures worth another try,
and the policy turns the last one into a typed store error that says how often and for how long we tried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from supportdesk.stores.errors import (
    StoreError,
    StoreRateLimited,
    StoreTimeout,
    StoreUnavailable,
    store_title,
)

T = TypeVar("T")

RATE_LIMITED, TIMEOUT, UNAVAILABLE = "rate_limited", "timeout", "unavailable"


class Transient(Exception):
    """A failure another attempt may cure. `safe` means the store did not act on the request (429, no
    connection), so even a non-idempotent request may be sent again."""

    def __init__(self, kind: str, detail: str, *, retry_after: float | None = None, status: int | None = None,
                 safe: bool = False) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after
        self.status = status
        self.safe = safe or kind == RATE_LIMITED


def parse_retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                      epoch_ms: bool = False) -> float | None:
    """Seconds to wait. Retry-After is delay-seconds or an HTTP-date (RFC 9110), except at Apple: the App Store
    Server API sends the UNIX time in milliseconds at which to try again ("Identifying rate limits",
    developer.apple.com/documentation/appstoreserverapi/identifying-rate-limits), hence `epoch_ms`."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        if epoch_ms:
            return max(0.0, int(value) / 1000 - now().timestamp())
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


@dataclass
class RetryPolicy:
    retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float = 30.0  # seconds for one call, all attempts and waits included
    timeout: float = 10.0  # seconds for one attempt
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def backoff(self, retry: int) -> float:
        """Exponential with "equal jitter": half fixed, half random, so clients that failed together spread out."""
        base = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return base / 2 + base / 2 * self.jitter()

    def run(self, store: str, what: str, attempt: Callable[[float], T], *, idempotent: bool) -> T:
        """Call `attempt(timeout)` until it returns, retrying `Transient` failures within the bounds."""
        start = self.clock()
        retries = 0
        while True:
            remaining = self.deadline - (self.clock() - start)
            try:
                return attempt(max(0.01, min(self.timeout, remaining)))
            except Transient as exc:
                delay = exc.retry_after if exc.retry_after is not None else self.backoff(retries + 1)
                elapsed = self.clock() - start
                retryable = idempotent or exc.safe
                if not retryable or retries >= self.retries or elapsed + delay > self.deadline:
                    raise final_error(store, what, exc, retries, elapsed, idempotent=idempotent,
                                      waited_too_long=retryable and retries < self.retries) from exc
                self.sleep(delay)
                retries += 1


def _tried(retries: int, elapsed: float) -> str:
    if retries == 0:
        return "not retried"
    return f"retried {retries} time{'s' if retries != 1 else ''} over {elapsed:.0f} s"


def final_error(store: str, what: str, exc: Transient, retries: int, elapsed: float, *, idempotent: bool,
                waited_too_long: bool = False) -> StoreError:
    title = store_title(store)
    tried = _tried(retries, elapsed)
    if waited_too_long and exc.retry_after is not None:
        tried += f"; it asked us to wait {exc.retry_after:.0f} s, past our deadline"
    if exc.kind == RATE_LIMITED:
        cls: type[StoreError] = StoreRateLimited
        text = f"{title} is rate-limiting us ({what}); {tried}"
    elif exc.kind == TIMEOUT:
        cls = StoreTimeout
        text = f"{title} did not answer in time ({what}); {tried}"
        if not idempotent:
            text += "; the request may or may not have been applied, check before repeating it"
    else:
        cls = StoreUnavailable
        text = f"{title} is unavailable ({what}: {exc.detail}); {tried}"
    return cls(store, text, retries=retries, status=exc.status)
