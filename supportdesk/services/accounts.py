"""Account status changes, audited: limiting an account that owes coins, and lifting it."""

from __future__ import annotations

from sqlmodel import Session

from supportdesk.errors import InvalidInput
from supportdesk.services import audit
from supportdesk.services.audit import ActionContext
from supportdesk.services.ledger import lock_account
from supportdesk.services.roles import check_status

STATUSES = ("active", "limited", "suspended", "banned")


def set_status(session: Session, account_id: str, status: str, ctx: ActionContext, *, key: str | None) -> bool:
    """Change the status (in the caller's transaction); False when it already had it."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    check_status(ctx, status)
    account = lock_account(session, account_id)
    if account.status == status:
        return False
    check_status(ctx, status, current=account.status)
    before = account.status
    account.status = status
    session.add(account)
    session.flush()
    audit.append(session, ctx, action="account.status", target=account_id, account_id=account_id, key=key,
                 before={"status": before}, after={"status": status})
    return True


def limit_if_in_debt(session: Session, account_id: str, ctx: ActionContext, *, key: str | None) -> bool:
    """domain.md: an account with a negative coin balance is limited (cannot send gifts) until it is covered."""
    account = lock_account(session, account_id)
    session.refresh(account)
    if account.coin_balance < 0 and account.status == "active":
        return set_status(session, account_id, "limited", ctx, key=key)
    return False
