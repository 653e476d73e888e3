"""Who may do what: some actions need a lead (config: `[agent] role`, `[policy.roles]`)."""

from __future__ import annotations

from collections.abc import Iterable

from supportdesk.domain.ledger import Posting
from supportdesk.errors import Forbidden
from supportdesk.services.audit import ActionContext

LEAD_STATUSES = {"suspended", "banned"}
# Goodwill credits are limited; a purchase credit is backed by the store's record of the charge.
CREDIT_KINDS = {"grant", "adjustment"}


def require_lead(ctx: ActionContext, what: str) -> None:
    if ctx.role != "lead":
        raise Forbidden(f"{what} needs the lead role; {ctx.actor} is an {ctx.role}. Ask a lead to do it.")


def check_postings(ctx: ActionContext, postings: Iterable[Posting]) -> None:
    """Refuse, before anything is written, what this role may not post."""
    for p in postings:
        if p.asset == "diamond" and p.kind == "refund_clawback":
            require_lead(ctx, f"clawing back {-p.amount:,} diamonds from creator {p.account_id}")
        if (p.asset == "coin" and p.kind in CREDIT_KINDS and ctx.credit_limit is not None
                and p.amount > ctx.credit_limit):
            require_lead(ctx, f"a credit of {p.amount:,} coins (agents may credit up to {ctx.credit_limit:,})")


def check_status(ctx: ActionContext, status: str, current: str | None = None) -> None:
    """Setting a lead status, or lifting one (reactivating a suspended account), needs a lead."""
    if status in LEAD_STATUSES:
        require_lead(ctx, f"setting an account {status}")
    if current in LEAD_STATUSES and current != status:
        require_lead(ctx, f"changing a {current} account to {status}")
