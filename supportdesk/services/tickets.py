"""Tickets: imported or new, everything done under them, and their resolution (audited, once)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, cast
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from supportdesk.db.models import Account, AuditRecord, ConsumptionRequest, LedgerEntry, Ticket, TicketMessage
from supportdesk.domain import limits
from supportdesk.domain.text import shown
from supportdesk.domain.tickets import (
    DONE,
    FIRST_NUMBER,
    SOLVED,
    filter_statuses,
    ticket_id_of,
    ticket_status,
)
from supportdesk.errors import Conflict, InvalidInput, NotFound
from supportdesk.services import audit
from supportdesk.services.audit import ActionContext, check_ticket
from supportdesk.services.once import run_once
from supportdesk.services.roles import require_lead

CATEGORIES = ("missing_coins", "refund_request", "wrong_amount", "region", "suspicious", "other")
LIST_LIMIT = 200
ID_ATTEMPTS = 5


def get(session: Session, ticket_id: str) -> Ticket:
    ticket = check_ticket(session, ticket_id_of(ticket_id or ""))
    assert ticket is not None
    return ticket


def list_tickets(session: Session, *, status: str | None = None, account_id: str | None = None,
                 assignee: str | None = None) -> dict[str, Any]:
    """Newest first; `status` is a filter name (see domain.tickets.FILTERS; default: unsolved); `assignee`: only
    the tickets assigned to that agent (my tickets)."""
    statuses = filter_statuses(status)
    stmt = select(Ticket, Account.handle).join(Account, col(Account.account_id) == Ticket.account_id)
    if statuses is not None:
        stmt = stmt.where(col(Ticket.status).in_(statuses))
    if account_id:
        stmt = stmt.where(Ticket.account_id == account_id)
    if assignee:
        stmt = stmt.where(Ticket.assignee == assignee)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(col(Ticket.created_at).desc()).limit(LIST_LIMIT)).all()
    due = answer_deadlines(session, [t.ticket_id for t, _ in rows])
    return {"tickets": [{**t.model_dump(), "handle": handle, "answer_due_at": due.get(t.ticket_id)}
                        for t, handle in rows], "total": int(total),
            "filter": (status or "unsolved").strip().lower(), "statuses": list(statuses) if statuses else None,
            "assignee": assignee}


def show(session: Session, ticket_id: str) -> dict[str, Any]:
    """The ticket, its account, and every action taken under it (audit trail and ledger entries)."""
    ticket = get(session, ticket_id)
    account = session.get(Account, ticket.account_id)
    actions = session.exec(select(AuditRecord).where(AuditRecord.ticket_id == ticket.ticket_id)
                           .order_by(col(AuditRecord.seq))).all()
    entries = session.exec(select(LedgerEntry).where(LedgerEntry.ticket_id == ticket.ticket_id)
                           .order_by(col(LedgerEntry.seq))).all()
    return {"ticket": {**ticket.model_dump(), "handle": account.handle if account else None,
                       "answer_due_at": answer_deadlines(session, [ticket.ticket_id]).get(ticket.ticket_id),
                       "messages": conversation(session, ticket, account.handle if account else None),
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


def answer_deadlines(session: Session, ticket_ids: list[str]) -> dict[str, datetime]:
    """Ticket id -> when the store's question must be answered (an App Store consumption request: 12 hours)."""
    if not ticket_ids:
        return {}
    rows = session.exec(select(ConsumptionRequest.ticket_id, ConsumptionRequest.answer_due_at).where(
        col(ConsumptionRequest.ticket_id).in_(ticket_ids))).all()
    return dict(rows)


def with_deadlines(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ticket rows with their `answer_due_at` (None when the store asked nothing)."""
    due = answer_deadlines(session, [r["ticket_id"] for r in rows])
    return [{**r, "answer_due_at": due.get(r["ticket_id"])} for r in rows]


# -- the conversation ----------------------------------------------------------------------------------------------
def conversation(session: Session, ticket: Ticket, handle: str | None) -> list[dict[str, Any]]:
    """Oldest first: what the customer wrote when the ticket was opened (the ticket's body), then every message."""
    first = ([{"message_id": None, "kind": "customer", "author": handle or ticket.account_id, "body": ticket.body,
               "created_at": ticket.created_at, "macro": None, "sent_at": None}] if ticket.body.strip() else [])
    rows = session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.ticket_id)
                        .order_by(col(TicketMessage.created_at), col(TicketMessage.message_id))).all()
    return first + [m.model_dump(exclude={"ticket_id", "idempotency_key"}) for m in rows]


# -- status and assignee -------------------------------------------------------------------------------------------
def locked(session: Session, ticket_id: str) -> Ticket:
    """The ticket, checked, and locked for this transaction (PostgreSQL: FOR UPDATE; SQLite writes one at a time)."""
    get(session, ticket_id)
    ticket = session.exec(select(Ticket).where(Ticket.ticket_id == ticket_id).with_for_update()).one()
    session.refresh(ticket)
    return ticket


def check_move(ctx: ActionContext, before: str, after: str) -> None:
    """Agents move tickets between open, pending, on-hold and solved; closing one, or reopening a closed one, is a
    lead's; nothing goes back to new."""
    if after == "new" and before != "new":
        raise InvalidInput("a ticket cannot go back to new: set it open")
    if after == "closed":
        require_lead(ctx, "closing a ticket (it takes no more replies)")
    if before == "closed":
        require_lead(ctx, "reopening a closed ticket")


def move(session: Session, ticket: Ticket, after: str, ctx: ActionContext, *, key: str,
         resolution: str | None = None) -> dict[str, Any]:
    """Set the status in the caller's transaction, audited; solving records who and why (the resolution)."""
    before = ticket.status
    check_move(ctx, before, after)
    ticket.status = after
    if after == SOLVED:
        ticket.resolution = (resolution or ctx.reason).strip()
        ticket.resolved_by, ticket.resolved_at = ctx.actor, datetime.now(UTC)
    session.add(ticket)
    session.flush()
    audit.append(session, ctx, action="ticket.status", target=ticket.ticket_id, account_id=ticket.account_id,
                 key=key, before={"status": before}, after={"status": after})
    return {"status": after, "before": before}


def version(session: Session, ticket_id: str) -> int:
    """How many audited actions the ticket has had: part of a state change's key, so the same change asked
    again after others is a new change, and asked again at once is the same one."""
    return int(session.exec(select(func.count()).select_from(AuditRecord)
                            .where(AuditRecord.ticket_id == ticket_id)).one())


def set_status(session: Session, ticket_id: str, status: str, ctx: ActionContext) -> dict[str, Any]:
    """Move a ticket to `status` (new, open, pending, on-hold, solved, closed or a help desk's word for one) with a
    reason; already there: nothing is written (`changed` false)."""
    after = ticket_status(status)
    ticket_id = ticket_id_of(ticket_id)
    ticket = locked(session, ticket_id)
    ctx = ActionContext(ctx.actor, ctx.reason, ticket_id, ctx.role, ctx.credit_limit, ctx.policy_version)
    if ticket.status == after:
        return {"ticket": ticket.model_dump(), "changed": False, "replayed": True}
    check_move(ctx, ticket.status, after)
    key = f"ticket.status:{ticket_id}:{ticket.status}->{after}@{version(session, ticket_id)}"
    result = run_once(session, key=key, action="ticket.status", request={"ticket": ticket_id, "status": after},
                      ctx=ctx, perform=lambda: {"move": move(session, ticket, after, ctx, key=key)})
    return {"ticket": get(session, ticket_id).model_dump(), "changed": True, "replayed": result["replayed"]}


def assign(session: Session, ticket_id: str, to: str | None, ctx: ActionContext) -> dict[str, Any]:
    """Assign the ticket to `to` (None: to nobody), audited. An agent takes unassigned tickets and hands on their
    own; taking one from another agent is a lead's. Already so: nothing is written (`changed` false)."""
    to = (to or "").strip() or None
    if to is not None:
        limits.check_text("assignee", to, limits.ACTOR)
        if any(not (c.isalnum() or c in "._-@") for c in to):
            raise InvalidInput(f"{shown(to)!r} is not an agent's name (letters, digits, . _ - @)")
    ticket_id = ticket_id_of(ticket_id)
    ticket = locked(session, ticket_id)
    before = ticket.assignee
    if before == to:
        return {"ticket": ticket.model_dump(), "changed": False, "replayed": True}
    if before is not None and before != ctx.actor:
        require_lead(ctx, f"taking {ticket_id} from {before}")
    ctx = ActionContext(ctx.actor, ctx.reason or (f"assigned to {to}" if to else "unassigned"), ticket_id, ctx.role,
                        ctx.credit_limit, ctx.policy_version)
    key = f"ticket.assign:{ticket_id}:{before or '-'}->{to or '-'}@{version(session, ticket_id)}"

    def perform() -> dict[str, Any]:
        ticket.assignee = to
        session.add(ticket)
        session.flush()
        audit.append(session, ctx, action="ticket.assign", target=ticket_id, account_id=ticket.account_id, key=key,
                     before={"assignee": before}, after={"assignee": to})
        return {"assignee": to, "before": before}

    result = run_once(session, key=key, action="ticket.assign", request={"ticket": ticket_id, "to": to},
                      ctx=ctx, perform=perform)
    return {"ticket": get(session, ticket_id).model_dump(), "changed": True, "previous": before,
            "replayed": result["replayed"]}

