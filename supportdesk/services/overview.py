"""The home screen's read: my open tickets with their deadlines, open review flags by rule, the last reconcile
and which store is stale. Reads only; each part is one small query."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, or_, select

from supportdesk.db.models import Account, AuditRecord, ConsumptionRequest, ReviewFlag, SyncCursor, Ticket
from supportdesk.domain.overview import STALE_AFTER, freshness
from supportdesk.domain.review import RULES
from supportdesk.domain.tickets import UNSOLVED, deadlines_first
from supportdesk.services.tickets import answer_deadlines

TICKETS_SHOWN = 50
ALL_SCOPE = "all"  # stores.cursors.ALL: the cursor of a sync of every account


def my_open_tickets(session: Session, actor: str, limit: int = TICKETS_SHOWN) -> dict[str, Any]:
    """Unsolved tickets assigned to `actor` or to nobody yet (up for taking: a store's consumption request arrives
    unassigned), those with a store deadline first (soonest first), then newest."""
    base = select(Ticket, Account.handle).join(Account, col(Account.account_id) == col(Ticket.account_id)).where(
        col(Ticket.status).in_(UNSOLVED), or_(col(Ticket.assignee) == actor, col(Ticket.assignee).is_(None)))
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    waiting = session.exec(base.join(ConsumptionRequest, col(ConsumptionRequest.ticket_id) == col(Ticket.ticket_id))
                           .order_by(col(ConsumptionRequest.answer_due_at)).limit(limit)).all()
    newest = session.exec(base.order_by(col(Ticket.created_at).desc()).limit(limit)).all()
    rows, seen = [], set()
    for ticket, handle in [*waiting, *newest]:
        if ticket.ticket_id not in seen:
            seen.add(ticket.ticket_id)
            rows.append({**ticket.model_dump(), "handle": handle})
    due = answer_deadlines(session, [r["ticket_id"] for r in rows])
    tickets = deadlines_first([{**r, "answer_due_at": due.get(r["ticket_id"])} for r in rows])[:limit]
    return {"tickets": tickets, "total": int(total), "mine": True}


def open_flags_by_rule(session: Session) -> list[dict[str, Any]]:
    """Open review flags per rule (rules with none left out), in the rules' order, with the top score."""
    rows = session.exec(select(ReviewFlag.rule, func.count(), func.max(ReviewFlag.score))
                        .where(ReviewFlag.status == "open").group_by(ReviewFlag.rule)).all()
    counts = {rule: (int(n), int(top or 0)) for rule, n, top in rows}
    order = [*RULES, *sorted(set(counts) - set(RULES))]
    return [{"rule": r, "open": counts[r][0], "top_score": counts[r][1]} for r in order if r in counts]


def stores(session: Session, now: datetime, configured: list[str], stale_after: timedelta = STALE_AFTER
           ) -> list[dict[str, Any]]:
    """Each configured (or once synced) store's full sync: fresh, failed, old or never run."""
    cursors = {c.store: c for c in session.exec(select(SyncCursor).where(SyncCursor.scope == ALL_SCOPE)).all()}
    out = []
    for store in [*configured, *sorted(set(cursors) - set(configured))]:
        c = cursors.get(store)
        state = (freshness(store, now, stale_after=stale_after) if c is None else
                 freshness(store, now, stale_after=stale_after, status=c.status, last_run_at=c.last_run_at,
                           synced_until=c.synced_until, error=c.error))
        out.append({**asdict(state), "stale": state.stale})
    return out


def last_reconcile(session: Session) -> dict[str, Any]:
    """The last full sync (reconcile --all syncs first) and the last reconcile fix applied (the audit)."""
    synced = session.exec(select(func.max(SyncCursor.last_run_at)).where(SyncCursor.scope == ALL_SCOPE)).one()
    fix = session.exec(select(AuditRecord).where(col(AuditRecord.action).startswith("reconcile."))
                       .order_by(col(AuditRecord.seq).desc()).limit(1)).first()
    return {"synced_at": synced, "fix": None if fix is None else {
        "at": fix.at, "actor": fix.actor, "action": fix.action, "target": fix.target}}


def overview(session: Session, actor: str, now: datetime, configured: list[str]) -> dict[str, Any]:
    return {"now": now, "actor": actor, "tickets": my_open_tickets(session, actor),
            "flags": open_flags_by_rule(session), "stores": stores(session, now, configured),
            "reconcile": last_reconcile(session)}
