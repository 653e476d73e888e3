"""A fake clock whose sleep moves time forward: retries and deadlines are tested without waiting."""

from __future__ import annotations

from dataclasses import dataclass, field

from supportdesk.stores.policy import RetryPolicy


@dataclass
class FakeTime:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def policy(self, **over: float) -> RetryPolicy:
        params = {"timeout": 0.5, "deadline": 60.0, **over}
        return RetryPolicy(sleep=self.sleep, clock=self.clock, jitter=lambda: 0.5, **params)  # type: ignore[arg-type]
