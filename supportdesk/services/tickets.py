"""Tickets: imported or new, everything done under them, and their resolution (audited, once)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, cast
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from supportdesk.db.models import Account, AuditRecord, LedgerEntry, Ticket
from supportdesk.domain import limits
from supportdesk.domain.tickets import DONE, FIRST_NUMBER, SOLVED, filter_statuses, ticket_id_of
from supportdesk.errors import Conflict, InvalidInput, NotFound
from supportdesk.services import audit
from supportdesk.services.audit import ActionContext, check_ticket
from supportdesk.services.once import run_once

CATEGORIES = ("missing_coins", "refund_request", "wrong_amount", "region", "suspicious", "other")
LIST_LIMIT = 200
ID_ATTEMPTS = 5


def get(session: Session, ticket_id: str) -> Ticket:
    ticket = check_ticket(session, ticket_id_of(ticket_id or ""))
    assert ticket is not None
    return ticket


def list_tickets(session: Session, *, status: str | None = None, account_id: str | None = None) -> dict[str, Any]:
    """Newest first; `status` is a filter name (see domain.tickets.FILTERS; default: unsolved)."""
    statuses = filter_statuses(status)
    stmt = select(Ticket, Account.handle).join(Account, Account.account_id == Ticket.account_id)
    if statuses is not None:
        stmt = stmt.where(col(Ticket.status).in_(statuses))
    if account_id:
        stmt = stmt.where(Ticket.account_id == account_id)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(col(Ticket.created_at).desc()).limit(LIST_LIMIT)).all()
    return {"tickets": [{**t.model_dump(), "handle": handle} for t, handle in rows], "total": int(total),
            "filter": (status or "unsolved").strip().lower(), "statuses": list(statuses) if statuses else None}


def show(session: Session, ticket_id: str) -> dict[str, Any]:
    """The ticket, its account, and every action taken under it (audit trail and ledger entries)."""
    ticket = get(session, ticket_id)
    account = session.get(Account, ticket.account_id)
    actions = session.exec(select(AuditRecord).where(AuditRecord.ticket_id == ticket.ticket_id)
                           .order_by(col(AuditRecord.seq))).all()
    entries = session.exec(select(LedgerEntry).where(LedgerEntry.ticket_id == ticket.ticket_id)
                           .order_by(col(LedgerEntry.seq))).all()
    return {"ticket": {**ticket.model_dump(), "handle": account.handle if account else None,
                       "actions": [a.model_dump(exclude={"prev_hash", "hash"}) for a in actions],
                       "entries": [e.model_dump(exclude={"seq"}) for e in entries]}}


def next_ticket_id(session: Session) -> str:
    """The next number after the highest T-<number> (imported or ours): T-1017 after T-1016."""
    number = cast(func.substr(Ticket.ticket_id, 3), BigInteger)
    highest = session.exec(select(func.max(number))
                           .where(col(Ticket.ticket_id).regexp_match("^T-[0-9]{1,12}$"))).one()
    return f"T-{max(int(highest or 0) + 1, FIRST_NUMBER)}"


def create(session: Session, account_id: str, subject: str, body: str, category: str,
           ctx: ActionContext) -> dict[str, Any]:
    """Open a ticket with the next number; two agents at once get two numbers (the id is unique: retry)."""
    subject = limits.check_text("subject", subject.strip(), limits.SUBJECT)
    body = limits.check_text("ticket body", body, limits.BODY)
    if not subject:
        raise InvalidInput("a ticket needs a subject")
    if category not in CATEGORIES:
        raise InvalidInput(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    if session.get(Account, account_id) is None:
        raise NotFound(f"no account {account_id!r}")
    for _ in range(ID_ATTEMPTS):
        ticket = Ticket(ticket_id=next_ticket_id(session), account_id=account_id, subject=subject, body=body,
                        category=category, status="open", created_at=datetime.now(UTC))
        try:
            with session.begin_nested():  # another agent took the number meanwhile: take the next one
                session.add(ticket)
                session.flush()
            break
        except IntegrityError:
            continue
    else:
        raise Conflict("other agents are opening tickets right now; try again")
    ticket_id = ticket.ticket_id
    audit.append(session, ActionContext(ctx.actor, ctx.reason or "new ticket", ticket_id), action="ticket.create",
                 target=ticket_id, account_id=account_id, after={"subject": ticket.subject, "category": category})
    return {"ticket": ticket.model_dump()}


def resolve(session: Session, ticket_id: str, note: str, ctx: ActionContext) -> dict[str, Any]:
    """Resolve (status solved) with a note, once: the same note again replays; a solved or closed ticket is not
    solved again."""
    if not note or not note.strip():
        raise InvalidInput("resolving a ticket needs a resolution note")
    limits.check_text("resolution note", note, limits.NOTE)
    ticket_id = ticket_id_of(ticket_id)
    current = get(session, ticket_id)
    if current.status in DONE and current.resolution != note.strip():
        who = f" by {current.resolved_by}: {current.resolution}" if current.resolved_by else ""
        raise Conflict(f"{ticket_id} was already {current.status}{who}")
    ctx = ActionContext(ctx.actor, note, ticket_id, ctx.role, ctx.credit_limit)

    def perform() -> dict[str, Any]:
        ticket = get(session, ticket_id)
        if ticket.status in DONE:
            raise Conflict(f"{ticket_id} was already {ticket.status}")
        before = ticket.status
        ticket.status, ticket.resolution = SOLVED, note.strip()
        ticket.resolved_by, ticket.resolved_at = ctx.actor, datetime.now(UTC)
        session.add(ticket)
        session.flush()
        audit.append(session, ctx, action="ticket.resolve", target=ticket_id, account_id=ticket.account_id,
                     key=f"ticket.resolve:{ticket_id}", before={"status": before},
                     after={"status": SOLVED, "resolution": ticket.resolution})
        return {"ticket": ticket.model_dump()}

    check_ticket(session, ticket_id)
    return run_once(session, key=f"ticket.resolve:{ticket_id}", action="ticket.resolve",
                    request={"ticket": ticket_id, "note": note.strip()}, ctx=ctx, perform=perform)
