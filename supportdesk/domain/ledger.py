"""Ledger rules, free of SQL: kinds, assets, and which postings may take a balance below zero."""

from __future__ import annotations

from dataclasses import dataclass

from supportdesk.domain.money import MAX_COINS, check_amount
from supportdesk.errors import InvalidInput

ASSETS = ("coin", "diamond")
KINDS = ("purchase", "gift_sent", "gift_received", "refund_clawback", "grant", "adjustment", "cashout", "reversal")
# Kinds whose sign is fixed; adjustment and reversal may go either way.
POSITIVE = {"purchase", "gift_received", "grant"}
NEGATIVE = {"gift_sent", "refund_clawback", "cashout"}
# Only a clawback may leave a debt (domain.md): a refund clawback, or the reversal of a credit made in error.
MAY_GO_NEGATIVE = {"refund_clawback", "reversal"}
# Kinds that move one asset only: a fan buys and spends coins, a creator earns and cashes out diamonds.
ASSET_OF = {"purchase": "coin", "gift_sent": "coin", "gift_received": "diamond", "cashout": "diamond"}


@dataclass(frozen=True, slots=True)
class Posting:
    account_id: str
    asset: str
    amount: int
    kind: str
    ref: str | None = None
    reverses: str | None = None


def amount_problem(kind: str, amount: int, asset: str) -> str | None:
    """Why an amount cannot be posted under this kind, or None. Cheap: the importer calls it per line."""
    if ASSET_OF.get(kind, asset) != asset:
        return f"a {kind} moves {ASSET_OF[kind]}s, not {asset}s"
    if amount == 0:
        return f"a {kind} of 0 {asset}s moves nothing"
    if kind in POSITIVE and amount < 0:
        return f"a {kind} must be positive, got {amount}"
    if kind in NEGATIVE and amount > 0:
        return f"a {kind} must be negative, got {amount}"
    if abs(amount) > MAX_COINS:
        return f"{kind} amount {amount} is outside the allowed range (at most {MAX_COINS:,})"
    return None


def check_posting(p: Posting) -> Posting:
    if p.asset not in ASSETS:
        raise InvalidInput(f"asset must be one of {', '.join(ASSETS)}, not {p.asset!r}")
    if p.kind not in KINDS:
        raise InvalidInput(f"ledger kind must be one of {', '.join(KINDS)}, not {p.kind!r}")
    check_amount(p.amount, what=f"{p.kind} amount", bound=MAX_COINS, allow_negative=True)
    problem = amount_problem(p.kind, p.amount, p.asset)
    if problem:
        raise InvalidInput(problem)
    if p.kind == "reversal" and not p.reverses:
        raise InvalidInput("a reversal must name the entry it reverses")
    return p


def may_leave(balance_after: int, p: Posting) -> bool:
    """A posting may leave a negative balance only if it is a clawback (or it does not lower the balance)."""
    return balance_after >= 0 or p.amount > 0 or p.kind in MAY_GO_NEGATIVE
