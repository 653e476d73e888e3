"""planted.json: what the generator planted, so end-to-end tests can check that reconcile and review find it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from supportdesk.dataset.units import iso


@dataclass(frozen=True)
class PlantedFinding:
    kind: str
    account_id: str
    store: str | None
    store_transaction_id: str | None
    purchase_id: str | None


@dataclass(frozen=True)
class PlantedFlag:
    rule: str
    account_id: str
    purchase_id: str | None
    store_transaction_id: str | None


@dataclass(frozen=True)
class NearMiss:
    """A case on a clean account that sits just inside a threshold: it must trip nothing."""

    case: str
    account_id: str
    purchase_id: str | None
    note: str


@dataclass
class Manifest:
    now: datetime
    findings: list[PlantedFinding] = field(default_factory=list)
    flags: list[PlantedFlag] = field(default_factory=list)
    clean_accounts: list[str] = field(default_factory=list)
    near_misses: list[NearMiss] = field(default_factory=list)
    # Accounts that take part in a planted case without being its subject (the creator a launderer pays).
    accomplices: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "findings": [asdict(f) for f in self.findings],
            "flags": [asdict(f) for f in self.flags],
            "clean_accounts": self.clean_accounts,
            "near_misses": [asdict(n) for n in self.near_misses],
            "accomplices": self.accomplices,
            "now": iso(self.now),
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
