"""Reconcile findings: what each kind means, how its idempotency key is derived, and how much to claw back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = (
    "missing_purchase", "uncredited_purchase", "duplicate_credit", "unapplied_refund", "balance_drift",
    "amount_mismatch", "wrong_credit_amount", "misdirected_credit", "unknown_to_store",
)
FIXABLE = {"missing_purchase", "uncredited_purchase", "duplicate_credit", "unapplied_refund", "balance_drift",
           "wrong_credit_amount", "misdirected_credit", "unknown_to_store"}
# Besides `coins`, the evidence a confirmation binds: a finding whose numbers changed is not the one confirmed.
NUMBERS = {
    "balance_drift": ("asset", "cached", "ledger", "last_entry_seq"), "duplicate_credit": ("extra_entries",),
    "unapplied_refund": ("new_status", "clawed"), "missing_purchase": ("bonus_coins",),
    "amount_mismatch": ("charged", "bundle_coins"), "wrong_credit_amount": ("entries", "credited", "expected"),
    "misdirected_credit": ("entries", "owner_credited"), "unknown_to_store": ("extra_entries",),
}
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
        return self.kind in FIXABLE and self.account_id is not None and "why_not_fixable" not in self.detail

    @property
    def decidable(self) -> bool:
        """A charge that matches no price and that we hold no purchase for: the agent decides (never a fix)."""
        return self.kind == "amount_mismatch" and bool(self.detail.get("decisions")) and self.account_id is not None

    @property
    def identity(self) -> str:
        """What the finding is about, without its numbers: the same identity in a later run is the same finding."""
        if self.kind == "balance_drift":
            return f"balance_drift:{self.account_id}:{self.detail['asset']}"
        if self.kind == "duplicate_credit":
            return f"duplicate_credit:{self.purchase_id}"
        return f"{self.kind}:{self.store}:{self.store_transaction_id or self.purchase_id}"

    @property
    def numbers(self) -> dict[str, Any]:
        return {"coins": self.coins, **{k: self.detail.get(k) for k in NUMBERS.get(self.kind, ())}}

    def changes_from(self, confirmed: Finding) -> list[str]:
        """How this (fresh) finding differs from the confirmed one, in words; empty when it still stands as is."""
        now, then = self.numbers, confirmed.numbers
        return [f"{k} {then.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(now) | set(then))
                if now.get(k) != then.get(k)]

    @property
    def key(self) -> str:
        """Derived from the finding itself, so every agent and every run fixing it uses the same key.

        A drift's key names the ledger state it corrects (the last entry seen and both numbers): a drift that
        comes back after new entries is a new fix, not a replay of the old one; so does a store refund's that
        grew after it was clawed back (the coins clawed so far)."""
        if self.kind == "balance_drift":
            d = self.detail
            seen = d.get("last_entry_seq")
            return (f"reconcile:balance_drift:{self.account_id}:{d['asset']}:@{seen if seen is not None else 0}:"
                    f"{d['cached']}->{d['ledger']}")
        if self.kind == "unapplied_refund" and "clawed" in self.detail:
            # A refund that grew after its clawback: the coins clawed so far and the store's refunded amount are in
            # the key, so each growth is a new fix (the first one's key, without them, is the same as before).
            refunded = self.detail["store_record"].get("refunded_minor")
            return f"reconcile:{self.identity}:after:{self.detail['clawed']}:refunded:{refunded}"
        return f"reconcile:{self.identity}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "fixable": self.fixable, "decidable": self.decidable, "idempotency_key": self.key}


def clawback_coins(coins: int, price_minor: int | None, refunded_minor: int | None) -> int:
    """Coins to claw back for a refund: all of them, or the refunded share rounded down for a partial refund."""
    if not price_minor or refunded_minor is None or refunded_minor >= price_minor:
        return coins
    return coins * max(refunded_minor, 0) // price_minor


def summarise(findings: list[Finding]) -> dict[str, Any]:
    by_kind = {k: 0 for k in KINDS}
    for f in findings:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
    return {"total": len(findings), "by_kind": by_kind,
            "accounts": len({f.account_id for f in findings if f.account_id})}
