"""Goodwill credits and status changes by an agent: checked, confirmed in plain words, audited, idempotent."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from supportdesk.db.engine import read_session, write_session
from supportdesk.domain.ledger import Posting
from supportdesk.domain.money import MAX_COINS, check_amount
from supportdesk.errors import InvalidInput
from supportdesk.services import ledger, lookup
from supportdesk.services.accounts import set_status
from supportdesk.services.audit import ActionContext, canonical, check_ticket
from supportdesk.services.once import check_context
from supportdesk.services.roles import check_postings, check_status

# A status move an agent names, and the status it leads to.
MOVES = {"limit": "limited", "unlimit": "active", "suspend": "suspended", "reactivate": "active"}
# The statuses each move may start from: a limit never replaces a suspension, an unlimit lifts only a limit.
FROM = {"limit": {"active"}, "unlimit": {"limited"}, "suspend": {"active", "limited"},
        "reactivate": {"suspended", "limited"}}


def check_coins(coins: int) -> int:
    check_amount(coins, what="coins", bound=MAX_COINS)
    if coins <= 0:
        raise InvalidInput(f"a credit must be a positive number of coins, got {coins}")
    return coins


def credit_key(account_id: str, coins: int, ticket_id: str | None, reason: str) -> str:
    """The default key: the same credit (account, coins, ticket, reason) moves coins once."""
    digest = hashlib.sha256(canonical([account_id, coins, ticket_id, reason.strip()]).encode()).hexdigest()
    return f"credit:{account_id}:{digest[:32]}"


def credit_plan(session: Session, query: str, coins: int, ctx: ActionContext) -> dict[str, Any]:
    """Everything checked before the confirmation: account, amount, reason, ticket, role; nothing written."""
    check_coins(coins)
    check_context(ctx)
    check_ticket(session, ctx.ticket_id)
    account = lookup.resolve_account(session, query)
    check_postings(ctx, [Posting(account.account_id, "coin", coins, "grant")])
    return {"account_id": account.account_id, "handle": account.handle, "coins": coins,
            "reason": ctx.reason.strip(), "ticket_id": ctx.ticket_id}


def credit_question(plan: dict[str, Any]) -> str:
    ticket = f", ticket {plan['ticket_id']}" if plan["ticket_id"] else ", no ticket"
    return (f"Credit {plan['coins']:,} coins to {plan['handle']} ({plan['account_id']}), "
            f"reason {plan['reason']!r}{ticket}?")


def credit(engine: Engine, plan: dict[str, Any], ctx: ActionContext, *, key: str | None = None) -> dict[str, Any]:
    """Post the planned grant once per key (default: derived from the credit itself)."""
    key = key or credit_key(plan["account_id"], plan["coins"], plan["ticket_id"], plan["reason"])
    posting = Posting(plan["account_id"], "coin", plan["coins"], "grant", ref=plan["ticket_id"])
    with write_session(engine) as session:
        done = ledger.post(session, [posting], ctx, key=key, action="credit")
    entry = done["entries"][0]
    return {**plan, "key": key, "entry_id": entry["entry_id"], "balance_after": entry["balance_after"],
            "replayed": done["replayed"]}


def status_plan(session: Session, query: str, move: str, ctx: ActionContext) -> dict[str, Any]:
    if move not in MOVES:
        raise InvalidInput(f"the status change must be one of {', '.join(MOVES)}, not {move!r}")
    check_context(ctx)
    check_ticket(session, ctx.ticket_id)
    account = lookup.resolve_account(session, query)
    status = MOVES[move]
    if account.status != status and account.status not in FROM[move]:
        raise InvalidInput(f"cannot {move} {account.handle}: the account is {account.status}")
    check_status(ctx, status, current=account.status)
    return {"account_id": account.account_id, "handle": account.handle, "move": move,
            "before": account.status, "after": status, "reason": ctx.reason.strip(), "ticket_id": ctx.ticket_id}


def status_question(plan: dict[str, Any]) -> str:
    ticket = f", ticket {plan['ticket_id']}" if plan["ticket_id"] else ", no ticket"
    return (f"{plan['move'].capitalize()} {plan['handle']} ({plan['account_id']}): {plan['before']} -> "
            f"{plan['after']}, reason {plan['reason']!r}{ticket}?")


def change_status(engine: Engine, plan: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Set the status (audited with the reason); an account that already has it is left alone (changed: false)."""
    with write_session(engine) as session:
        changed = set_status(session, plan["account_id"], plan["after"], ctx, key=None)
    return {**plan, "changed": changed}


def plan_credit(engine: Engine, query: str, coins: int, ctx: ActionContext) -> dict[str, Any]:
    with read_session(engine) as session:
        return credit_plan(session, query, coins, ctx)


def plan_status(engine: Engine, query: str, move: str, ctx: ActionContext) -> dict[str, Any]:
    with read_session(engine) as session:
        return status_plan(session, query, move, ctx)
