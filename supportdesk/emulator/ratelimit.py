"""Apple's per-endpoint rate limits, as the App Store Server API documents them.

Source: "Identifying rate limits" (developer.apple.com/documentation/appstoreserverapi/identifying-rate-limits):
limits per endpoint in requests per second (50 for most; 10 for Get Refund History and Look Up Order ID), the
Sandbox environment 10 % of Production's; past the limit a 429 with errorCode 4290000 (RateLimitExceededError)
and a `Retry-After` header holding the UNIX time in *milliseconds* when the next request may be made.
Apple counts over an hour; the emulator refills a one-second bucket, which is stricter, so a client paced
here is paced for Apple too. Wall-clock time, not the emulator clock: the client compares Retry-After with its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

APPLE_LIMITS = {"transaction": 50.0, "history": 50.0, "refund_history": 10.0, "order_lookup": 10.0,
                "notification_history": 50.0, "consumption": 50.0}  # fmt: skip
SANDBOX_SHARE = 0.1


class Bucket:
    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate, self.capacity, self.clock = rate, max(1.0, rate), clock
        self.tokens, self.stamp = self.capacity, clock()

    def take(self) -> float | None:
        """None if a request may pass now; else the wall time (s) at which the next one may."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return now + (1 - self.tokens) / self.rate


class AppleRateLimits:
    def __init__(self, environment: str, *, enabled: bool = True, clock: Callable[[], float] = time.time) -> None:
        share = SANDBOX_SHARE if environment == "Sandbox" else 1.0
        self.enabled = enabled
        self.buckets = {name: Bucket(rate * share, clock) for name, rate in APPLE_LIMITS.items()}

    def retry_at_ms(self, endpoint: str) -> int | None:
        """None if the request passes; else Retry-After's value, epoch milliseconds."""
        if not self.enabled:
            return None
        when = self.buckets[endpoint].take()
        return None if when is None else int(when * 1000) + 1
