"""Reconcile findings: what each kind means, how its idempotency key is derived, and how much to claw back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = (
    "missing_purchase", "uncredited_purchase", "duplicate_credit", "unapplied_refund", "balance_drift",
    "amount_mismatch", "unknown_to_store",
)
FIXABLE = {"missing_purchase", "uncredited_purchase", "duplicate_credit", "unapplied_refund", "balance_drift",
           "unknown_to_store"}
# What our purchase status becomes when the store took the money back.
REFUND_STATUS = {"refunded": "refunded", "revoked": "revoked", "charged_back": "charged_back"}


@dataclass(frozen=True)
class Finding:
    kind: str
    account_id: str | None
    store: str | None
    store_transaction_id: str | None
    purchase_id: str | None
    coins: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def fixable(self) -> bool:
        return self.kind in FIXABLE and self.account_id is not None

    @property
    def key(self) -> str:
        """Derived from the finding itself, so every agent and every run fixing it uses the same key."""
        if self.kind == "balance_drift":
            d = self.detail
            return f"reconcile:balance_drift:{self.account_id}:{d['asset']}:{d['cached']}->{d['ledger']}"
        if self.kind == "duplicate_credit":
            return f"reconcile:duplicate_credit:{self.purchase_id}"
        return f"reconcile:{self.kind}:{self.store}:{self.store_transaction_id or self.purchase_id}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "fixable": self.fixable, "idempotency_key": self.key}


def clawback_coins(coins: int, price_minor: int | None, refunded_minor: int | None) -> int:
    """Coins to claw back for a refund: all of them, or the refunded share rounded down for a partial refund."""
    if not price_minor or refunded_minor is None or refunded_minor >= price_minor:
        return coins
    return coins * max(refunded_minor, 0) // price_minor


def summarise(findings: list[Finding]) -> dict[str, Any]:
    by_kind = {k: 0 for k in KINDS}
    for f in findings:
        by_kind[f.kind] += 1
    return {"total": len(findings), "by_kind": by_kind,
            "accounts": len({f.account_id for f in findings if f.account_id})}
