"""Fault injection for the store emulator.

SPEC is a comma-separated list of ``STORE:KIND[=ARG][@RATE][*COUNT]``:

- STORE: ``apple`` | ``google`` | ``web`` | ``all``
- KIND:
  ``latency=MS`` (delay, then answer normally),
  ``timeout[=MS]`` (delay longer than any client deadline, default 30000 ms, then answer normally),
  ``429[=SECONDS]`` (rate limited in the store's error shape, with ``Retry-After``, default 1 s; Apple sends it
  as the epoch milliseconds that many seconds ahead, as Apple does),
  ``500`` / ``503`` (server error in the store's error shape),
  ``malformed`` (status 200 with a body that is not valid JSON),
  ``bad_signature`` (Apple: JWS payloads with a broken signature; other stores: like malformed),
  ``expired_token`` (Google: the token endpoint issues tokens that are already expired and API calls
  answer 401; Apple and web: 401)
- RATE: probability 0..1 that a matching request is hit (default 1), drawn from an RNG seeded by ``--seed``
- COUNT: only the next COUNT hits fire, then the fault is gone

Example: ``google:429=1*2,apple:latency=200@0.5`` gives the next two Google API calls a 429 with
``Retry-After: 1`` and delays half of the Apple calls by 200 ms. Faults never apply to ``/_emulator/*``;
Google's token endpoint only sees ``expired_token``. Rules are tried in order: delays add up and the first
other rule that fires decides the answer.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from typing import Any

STORES = ("apple", "google", "web", "all")
KINDS = ("latency", "timeout", "429", "500", "503", "malformed", "bad_signature", "expired_token")
DELAY_KINDS = ("latency", "timeout")
_DEFAULT_ARG = {"latency": 0, "timeout": 30_000, "429": 1}
_SPEC = re.compile(
    r"^(?P<store>[a-z]+):(?P<kind>[a-z0-9_]+)(?:=(?P<arg>\d+))?(?:@(?P<rate>\d*\.?\d+))?(?:\*(?P<count>\d+))?$"
)


class FaultSpecError(ValueError):
    """A fault spec that does not follow the grammar in this module's docstring."""


@dataclass
class Fault:
    store: str
    kind: str
    arg: int | None = None
    rate: float = 1.0
    count: int | None = None  # None: for ever

    def __post_init__(self) -> None:
        if self.store not in STORES:
            raise FaultSpecError(f"unknown store {self.store!r} (use {', '.join(STORES)})")
        if self.kind not in KINDS:
            raise FaultSpecError(f"unknown fault kind {self.kind!r} (use {', '.join(KINDS)})")
        if not 0.0 <= self.rate <= 1.0:
            raise FaultSpecError(f"rate {self.rate} is not between 0 and 1")
        if self.count is not None and self.count < 1:
            raise FaultSpecError("count must be at least 1")
        if self.arg is None:
            self.arg = _DEFAULT_ARG.get(self.kind)

    @classmethod
    def parse(cls, text: str) -> Fault:
        match = _SPEC.match(text.strip())
        if not match:
            raise FaultSpecError(f"bad fault {text!r}: expected STORE:KIND[=ARG][@RATE][*COUNT]")
        arg, rate, count = match["arg"], match["rate"], match["count"]
        return cls(
            store=match["store"],
            kind=match["kind"],
            arg=int(arg) if arg else None,
            rate=float(rate) if rate else 1.0,
            count=int(count) if count else None,
        )

    @classmethod
    def from_json(cls, item: Any) -> Fault:
        """A spec string or an object with the dataclass fields (the control endpoint takes both)."""
        if isinstance(item, str):
            return cls.parse(item)
        if isinstance(item, dict):
            try:
                return cls(**item)
            except TypeError as exc:
                raise FaultSpecError(f"bad fault object {item!r}: {exc}") from None
        raise FaultSpecError(f"bad fault {item!r}: expected a spec string or an object")

    def matches(self, store: str, kinds: tuple[str, ...] | None) -> bool:
        return self.store in (store, "all") and (kinds is None or self.kind in kinds)


def parse_spec(spec: str | None) -> list[Fault]:
    return [Fault.parse(part) for part in (spec or "").split(",") if part.strip()]


class FaultInjector:
    """The active faults; ``draw`` decides what happens to one request."""

    def __init__(self, faults: list[Fault], seed: int = 0) -> None:
        self.seed = seed
        self.faults = list(faults)
        self._rng = random.Random(seed)

    def replace(self, faults: list[Fault]) -> None:
        self.faults = list(faults)

    def reseed(self) -> None:
        self._rng = random.Random(self.seed)

    def describe(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.faults]

    def draw(self, store: str, kinds: tuple[str, ...] | None = None) -> tuple[int, Fault | None]:
        """Return (delay in ms, the fault that decides the answer or None) and use up counts."""
        delay_ms, decisive = 0, None
        for fault in list(self.faults):
            if not fault.matches(store, kinds) or not self._fires(fault):
                continue
            self._use(fault)
            if fault.kind in DELAY_KINDS:
                delay_ms += fault.arg or 0
                continue
            decisive = fault
            break
        return delay_ms, decisive

    def _fires(self, fault: Fault) -> bool:
        return fault.rate >= 1.0 or self._rng.random() < fault.rate

    def _use(self, fault: Fault) -> None:
        if fault.count is None:
            return
        fault.count -= 1
        if fault.count == 0:
            self.faults.remove(fault)
