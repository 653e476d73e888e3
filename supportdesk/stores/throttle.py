"""Client-side pacing: a token bucket per store endpoint, so a sync stays under the store's published limits
instead of learning them from 429s.

Apple publishes a limit per endpoint (App Store Server API, "Identifying rate limits",
developer.apple.com/documentation/appstoreserverapi/identifying-rate-limits): 50 requests/s for most, 10/s for
Get Refund History and Look Up Order ID, and the Sandbox environment gets 10 % of that. Google Play's
Developer API gives each quota bucket 3,000 queries a minute, buckets independent (Orders; One-time purchases)
(developers.google.com/android-publisher/quotas), so a minute's worth may go at once; the processor allows 100
reads/s in live mode (docs.stripe.com/rate-limits). Each store's table may set `requests_per_second` to lower (or
raise) the default for all its endpoints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from supportdesk.errors import ConfigError

SAFETY = 0.9  # pace a little under the published limit: our clock and the store's drift apart
APPLE_RATES = {"transaction": 50.0, "history": 50.0, "refund_history": 10.0, "order_lookup": 10.0,
               "notification_history": 50.0, "consumption": 50.0}
SANDBOX_SHARE = 0.1
GOOGLE_BUCKETS = {"orders": 50.0, "purchases": 50.0}  # 3,000 a minute each
GOOGLE_BURST_SECONDS = 60.0  # a per-minute quota: a minute's worth may be spent at once
WEB_RATE = 100.0


class TokenBucket:
    """`rate` tokens a second, at most `burst_seconds` worth (at least 1) held at once."""

    def __init__(self, rate: float, *, burst_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * burst_seconds)
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.stamp = clock()
        self.held_until = 0.0  # a store's Retry-After: nobody sends on this endpoint before then
        self.lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        """The store said to wait (429 with Retry-After): every caller of this bucket waits, not only one."""
        with self.lock:
            self.held_until = max(self.held_until, self.clock() + seconds)

    def take(self) -> float:
        """Take one token, sleeping until there is one (and until a hold ends); returns the seconds waited."""
        held = 0.0
        with self.lock:
            now = self.clock()
            if self.held_until > now:
                held = self.held_until - now
                now = self.held_until
                self.tokens = 0.0  # start again after the hold at the paced rate, not a burst
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1
            wait = held + (-self.tokens / self.rate if self.tokens < 0 else 0.0)
        if wait > 0:
            self.sleep(wait)
        return wait


class Throttle:
    """One bucket per endpoint name; endpoints without a rate share the store's default bucket (if any)."""

    def __init__(self, rates: Mapping[str, float], default: float | None = None, **bucket: Any) -> None:
        self.buckets = {name: TokenBucket(rate * SAFETY, **bucket) for name, rate in rates.items()}
        self.default = TokenBucket(default * SAFETY, **bucket) if default else None

    def wait(self, endpoint: str | None) -> float:
        bucket = self.buckets.get(endpoint or "", self.default)
        return bucket.take() if bucket is not None else 0.0

    def hold(self, endpoint: str | None, seconds: float) -> None:
        bucket = self.buckets.get(endpoint or "", self.default)
        if bucket is not None and seconds > 0:
            bucket.hold(seconds)


def store_throttle(store: str, config: Mapping[str, Any], **bucket: Any) -> Throttle:
    """The store's buckets: its documented limits, or `requests_per_second` from its config table."""
    override = config.get("requests_per_second")
    if override is not None and (isinstance(override, bool) or not isinstance(override, int | float)
                                 or override <= 0):
        raise ConfigError(f"[stores.{store}] requests_per_second must be a positive number, not {override!r}")
    if store == "apple":
        share = SANDBOX_SHARE if config.get("environment") == "Sandbox" else 1.0
        rates = {k: (float(override) if override else v * share) for k, v in APPLE_RATES.items()}
        return Throttle(rates, **bucket)
    if store == "google":
        rates = {k: float(override) if override else v for k, v in GOOGLE_BUCKETS.items()}
        return Throttle(rates, burst_seconds=GOOGLE_BURST_SECONDS, **bucket)
    return Throttle({}, float(override) if override else WEB_RATE, **bucket)
