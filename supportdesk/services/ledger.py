"""The one way money moves: entries, the cached balance and the audit record in one transaction."""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, text, update
from sqlmodel import Session, col, select

from supportdesk.db.models import Account, LedgerEntry
from supportdesk.domain.ledger import Posting, check_posting, may_leave
from supportdesk.errors import InvalidInput, NotFound
from supportdesk.services import audit
from supportdesk.services.audit import ActionContext, check_ticket
from supportdesk.services.once import check_context, run_once
from supportdesk.services.roles import check_postings

BALANCE_COLUMN = {"coin": "coin_balance", "diamond": "diamond_balance"}


ID_ALPHABET = string.digits + string.ascii_lowercase
ID_CHARS = 14  # as long as imported entry ids (le_ and 14 base-36 characters): about 72 random bits


def new_id(prefix: str) -> str:
    """An id shaped like the imported ones; unique by chance (72 bits) and by the column's unique index."""
    return f"{prefix}_{''.join(secrets.choice(ID_ALPHABET) for _ in range(ID_CHARS))}"


def lock_account(session: Session, account_id: str) -> Account:
    stmt = select(Account).where(col(Account.account_id) == account_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    account = session.exec(stmt).first()
    if account is None:
        raise NotFound(f"no account {account_id!r}")
    return account


def ledger_balance(session: Session, account_id: str, asset: str) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(col(LedgerEntry.amount)), 0)).where(
            col(LedgerEntry.account_id) == account_id, col(LedgerEntry.asset) == asset
        )
    ).one()
    return int(total)


def post_entries(
    session: Session, postings: list[Posting], ctx: ActionContext, *, key: str | None, action: str
) -> list[dict[str, Any]]:
    """Write entries, move cached balances with an atomic increment, audit each; in the caller's transaction."""
    check_context(ctx)
    check_ticket(session, ctx.ticket_id)
    check_postings(ctx, postings)
    written = []
    now = datetime.now(UTC)
    for index, p in enumerate(postings):
        check_posting(p)
        account = lock_account(session, p.account_id)
        before = ledger_balance(session, p.account_id, p.asset)
        cached_before = getattr(account, BALANCE_COLUMN[p.asset])
        if not may_leave(before + p.amount, p):
            raise InvalidInput(
                f"{account.handle} has {before:,} {p.asset}s; a {p.kind} of {p.amount:,} would leave a negative "
                "balance, which only a clawback may do"
            )
        entry = LedgerEntry(
            entry_id=new_id("le"), account_id=p.account_id, asset=p.asset, amount=p.amount, kind=p.kind,
            ref=p.ref, reverses=p.reverses, at=now, actor=ctx.actor, reason=ctx.reason, ticket_id=ctx.ticket_id,
            idempotency_key=f"{key}#{index}" if key else None,
        )
        session.add(entry)
        column = getattr(Account, BALANCE_COLUMN[p.asset])
        session.execute(
            update(Account).where(col(Account.account_id) == p.account_id).values({column: column + p.amount})
        )
        session.flush()
        audit.append(
            session, ctx, action=f"ledger.{p.kind}", target=entry.entry_id, account_id=p.account_id, key=key,
            before={"asset": p.asset, "ledger": before, "cached": cached_before},
            after={"asset": p.asset, "ledger": before + p.amount, "cached": cached_before + p.amount,
                   "entry": {**asdict(p), "entry_id": entry.entry_id, "action": action}},
            at=now,
        )
        written.append({**asdict(p), "entry_id": entry.entry_id, "balance_after": before + p.amount})
    session.expire_all()
    return written


def post(
    session: Session, postings: list[Posting], ctx: ActionContext, *, key: str, action: str = "post"
) -> dict[str, Any]:
    """Post once per idempotency key: the same key again returns the first result and writes nothing."""
    request = {"postings": [asdict(p) for p in postings], "ticket": ctx.ticket_id}
    return run_once(
        session, key=key, action=action, request=request, ctx=ctx,
        perform=lambda: {"entries": post_entries(session, postings, ctx, key=key, action=action)},
    )


def resync_cached(session: Session, account_id: str, asset: str, ctx: ActionContext, *, key: str) -> dict[str, Any]:
    """Set the cached balance to the ledger's sum (the ledger is the truth), audited, once per key."""

    def perform() -> dict[str, Any]:
        account = lock_account(session, account_id)
        column = BALANCE_COLUMN[asset]
        truth = ledger_balance(session, account_id, asset)
        cached = getattr(account, column)
        session.execute(text(f"UPDATE accounts SET {column} = :v WHERE account_id = :a"), {"v": truth, "a": account_id})
        audit.append(
            session, ctx, action="balance.resync", target=account_id, account_id=account_id, key=key,
            before={"asset": asset, "cached": cached}, after={"asset": asset, "cached": truth},
        )
        session.expire_all()
        return {"account_id": account_id, "asset": asset, "cached_before": cached, "cached_after": truth}

    if asset not in BALANCE_COLUMN:
        raise InvalidInput(f"asset must be coin or diamond, not {asset!r}")
    return run_once(session, key=key, action="balance.resync", request={"account": account_id, "asset": asset},
                    ctx=ctx, perform=perform)
