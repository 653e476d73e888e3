"""What one running emulator knows: the loaded records, the clock, the faults and every mutation since.

Handlers run on the server's event loop and never await half way through a change, so no lock is needed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from supportdesk.emulator.clock import Clock, parse_timestamp
from supportdesk.emulator.faults import Fault, FaultInjector
from supportdesk.emulator.pki import GOOGLE_PROJECT, Keys
from supportdesk.emulator.ratelimit import AppleRateLimits
from supportdesk.emulator.records import StoreRecords
from supportdesk.emulator.rtdn import RtdnQueue, rtdn_events

DEFAULT_BUNDLE_ID = "com.supportdesk.coins"
DEFAULT_APP_APPLE_ID = 1234567890
DEFAULT_SUBSCRIPTION = f"projects/{GOOGLE_PROJECT}/subscriptions/play-rtdn"


@dataclass
class Identity:
    """The app the stores think they serve."""

    bundle_id: str = DEFAULT_BUNDLE_ID
    app_apple_id: int = DEFAULT_APP_APPLE_ID
    package_name: str = DEFAULT_BUNDLE_ID
    subscription: str = DEFAULT_SUBSCRIPTION
    base_url: str = "http://127.0.0.1:0"
    environment: str = "Production"  # Apple's: Production or Sandbox (--environment)

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/google/token"


@dataclass
class GoogleToken:
    expires_at: float  # wall clock: clients sign and cache tokens by real time
    scopes: tuple[str, ...]


@dataclass
class EmulatorState:
    records: StoreRecords
    keys: Keys
    identity: Identity
    clock: Clock
    faults: FaultInjector
    google_tokens: dict[str, GoogleToken] = field(default_factory=dict)
    realism: Realism = field(default_factory=lambda: Realism())
    notify_url: str | None = None  # where emulator/deliver.py posts notifications (the app's listener)

    def __post_init__(self) -> None:
        self._initial = (copy.deepcopy(self.records), self.clock.fixed_ms, copy.deepcopy(self.faults.faults))
        self.reset()

    def reset(self) -> None:
        """Back to the records as loaded, the starting clock and faults; keys and issued tokens stay."""
        records, fixed_ms, faults = copy.deepcopy(self._initial)
        self.records = records
        self.clock.fixed_ms = fixed_ms
        self.faults.replace(faults)
        self.faults.reseed()
        self.apple = {t["transactionId"]: t for t in records.apple}
        self.google_by_token = {p["purchaseToken"]: p for p in records.google}
        self.google_by_order = {p["orderId"]: p for p in records.google}
        self.charges = {c["id"]: c for c in records.charges}
        self.disputes = {d["id"]: d for d in records.disputes}
        self.consumption: list[dict[str, Any]] = []
        self.idempotency: dict[str, tuple[str, int, bytes]] = {}
        self.rtdn = RtdnQueue(rtdn_events(records.google, self.identity.package_name),
                              ack_deadline_s=self.realism.ack_deadline_s)
        self.apple_limits = AppleRateLimits(self.identity.environment, enabled=self.realism.rate_limits)

    def now_ms(self) -> int:
        return self.clock.now_ms()


@dataclass(frozen=True)
class Realism:
    """The real services' inconvenient behaviour; on by default, tunable so tests need not wait long."""

    rate_limits: bool = True  # Apple's per-endpoint limits (ratelimit.py)
    pull_hold_s: float = 2.0  # how long an empty Pub/Sub pull is held before it answers (pubsub.py)
    ack_deadline_s: float = 10.0  # Pub/Sub's default ack deadline: un-acked messages come back after it


def build_state(
    records: StoreRecords,
    keys: Keys,
    *,
    now: str | None = None,
    faults: list[Fault] | None = None,
    seed: int = 0,
    base_url: str = "http://127.0.0.1:0",
    environment: str = "Production",
    realism: Realism | None = None,
) -> EmulatorState:
    bundle_ids = {t.get("bundleId") for t in records.apple} - {None}
    # The data's bundleId is what is served; configure the emulator with it when the data agrees on one.
    bundle_id = str(bundle_ids.pop()) if len(bundle_ids) == 1 else DEFAULT_BUNDLE_ID
    identity = Identity(bundle_id=bundle_id, base_url=base_url, environment=environment)
    return EmulatorState(
        records=records,
        keys=keys,
        identity=identity,
        clock=Clock(parse_timestamp(now) if now else None),
        faults=FaultInjector(faults or [], seed),
        realism=realism or Realism(),
    )
