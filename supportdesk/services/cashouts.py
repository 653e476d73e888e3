"""Hold, release or reject a creator's cashout: with a reason, audited, once per key, lead-only where a review
flag caused the hold (here and, on PostgreSQL, in the database: migration 0010's trigger).

A cashout's diamonds left the creator's balance when it was requested (its `cashout` ledger entry). A hold stops the
payout until released; a release puts it back in the payout queue (`requested`); a rejection ends it and gives the
diamonds back with a `reversal` of that entry. Paid and rejected cashouts do not change any more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, AuditRecord, Cashout, LedgerEntry, ReviewFlag
from supportdesk.domain.ledger import Posting
from supportdesk.domain.money import format_money
from supportdesk.errors import Conflict, InvalidInput, NotFound
from supportdesk.services import audit
from supportdesk.services.audit import ActionContext, check_ticket
from supportdesk.services.ledger import post_entries
from supportdesk.services.once import check_context, run_once
from supportdesk.services.roles import require_lead

ACTIONS = ("hold", "release", "reject")
# The statuses each action may start from, and the status it leads to.
FROM = {"hold": ("requested",), "release": ("held",), "reject": ("requested", "held")}
TO = {"hold": "held", "release": "requested", "reject": "rejected"}
FINAL = ("paid", "rejected")


def _cashout(session: Session, cashout_id: str, *, lock: bool = False) -> Cashout:
    cashout = session.get(Cashout, cashout_id, with_for_update=lock or None)
    if cashout is None:
        raise NotFound(f"no cashout {cashout_id!r}: see the creator's cashouts with `supportdesk account ID`")
    return cashout


def _version(session: Session, cashout_id: str) -> int:
    """How many status changes the cashout has had: the default key is per (action, version), so the same request
    runs once while hold, release and hold again are three actions."""
    return int(session.exec(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.target == cashout_id, col(AuditRecord.action).like("cashout.%"))).one())


def _check(cashout: Cashout, action: str, ctx: ActionContext) -> None:
    """What the action may do from the cashout's status, and who may do it; raises before anything is written."""
    if cashout.status in FINAL:
        raise InvalidInput(f"cashout {cashout.cashout_id} is {cashout.status}: a {cashout.status} cashout cannot be "
                           f"{'held' if action == 'hold' else action + 'd'}")
    if cashout.status not in FROM[action] and cashout.status != TO[action]:
        raise InvalidInput(f"cannot {action} cashout {cashout.cashout_id}: it is {cashout.status}")
    if cashout.status == "held" and cashout.hold_flag_id and action != "hold":
        require_lead(ctx, f"lifting the hold review flag {cashout.hold_flag_id} put on cashout {cashout.cashout_id}"
                          f" ({action})")


def _returned(session: Session, cashout: Cashout) -> LedgerEntry | None:
    """The cashout's entry that took the diamonds, if the ledger has one and nothing reversed it yet."""
    entry = session.exec(select(LedgerEntry).where(LedgerEntry.ref == cashout.cashout_id,
                                                   LedgerEntry.kind == "cashout")).first()
    if entry is None:
        return None
    undone = session.exec(select(LedgerEntry.entry_id).where(LedgerEntry.reverses == entry.entry_id)).first()
    return None if undone else entry


def plan(session: Session, cashout_id: str, action: str, ctx: ActionContext) -> dict[str, Any]:
    """Everything checked before the confirmation (action, reason, ticket, cashout, status, role); nothing written."""
    if action not in ACTIONS:
        raise InvalidInput(f"the cashout action must be one of {', '.join(ACTIONS)}, not {action!r}")
    check_context(ctx)
    check_ticket(session, ctx.ticket_id)
    cashout = _cashout(session, cashout_id)
    _check(cashout, action, ctx)
    creator = session.get(Account, cashout.creator_id)
    flag = session.get(ReviewFlag, cashout.hold_flag_id) if cashout.hold_flag_id else None
    entry = _returned(session, cashout) if action == "reject" else None
    return {
        "cashout_id": cashout.cashout_id, "creator_id": cashout.creator_id,
        "handle": creator.handle if creator else cashout.creator_id, "action": action,
        "before": cashout.status, "after": TO[action], "diamonds": cashout.diamonds,
        "amount_minor": cashout.amount_minor, "currency": cashout.currency,
        "hold_flag_id": cashout.hold_flag_id, "hold_flag_rule": flag.rule if flag else None,
        "diamonds_returned": -entry.amount if entry else 0, "reason": ctx.reason.strip(), "ticket_id": ctx.ticket_id,
        "actor": ctx.actor, "role": ctx.role, "version": _version(session, cashout.cashout_id),
    }


def question(plan: dict[str, Any]) -> str:
    """The confirmation: exactly what moves (diamonds, money) and who acts."""
    co = f"cashout {plan['cashout_id']} of {plan['handle']} ({plan['creator_id']})"
    money = format_money(plan["amount_minor"], plan["currency"])
    diamonds = f"{plan['diamonds']:,} diamonds"
    if plan["action"] == "hold":
        moves = f"{money} for {diamonds} is not paid until released"
    elif plan["action"] == "release":
        flag = f"; lifts the hold of review flag {plan['hold_flag_id']}" if plan["hold_flag_id"] else ""
        moves = f"{money} for {diamonds} goes back to the payout queue{flag}"
    else:
        back = (f"{plan['diamonds_returned']:,} diamonds go back to {plan['handle']}'s balance"
                if plan["diamonds_returned"] else "no diamonds move (the ledger has no cashout entry to reverse)")
        moves = f"{money} is never paid; {back}"
    ticket = f", ticket {plan['ticket_id']}" if plan["ticket_id"] else ", no ticket"
    return (f"{plan['action'].capitalize()} {co}: {moves}. By {plan['actor']} ({plan['role']}), "
            f"reason {plan['reason']!r}{ticket}?")


def act(engine: Engine, plan: dict[str, Any], ctx: ActionContext, *, key: str | None = None) -> dict[str, Any]:
    """Apply the planned action once per key (default: the cashout, the action and its version); a cashout that
    already has the status is left alone (changed: false)."""
    if plan["before"] == plan["after"]:  # nothing to do, so nothing written (not even a key)
        return {**_base(plan), "before": plan["before"], "after": plan["after"], "changed": False, "entry_id": None,
                "diamonds_returned": 0, "replayed": False}
    key = key or f"cashout:{plan['cashout_id']}:{plan['action']}:{plan['version']}"
    request = {"cashout": plan["cashout_id"], "action": plan["action"], "ticket": ctx.ticket_id}
    with write_session(engine) as session:
        return run_once(session, key=key, action=f"cashout.{plan['action']}", request=request, ctx=ctx,
                        perform=lambda: _perform(session, plan, ctx, key))


def _perform(session: Session, plan: dict[str, Any], ctx: ActionContext, key: str) -> dict[str, Any]:
    action = plan["action"]
    cashout = _cashout(session, plan["cashout_id"], lock=True)
    base = _base(plan)
    if cashout.status == TO[action]:
        return {**base, "before": cashout.status, "after": cashout.status, "changed": False, "entry_id": None,
                "diamonds_returned": 0}
    if cashout.status != plan["before"]:
        raise Conflict(f"cashout {cashout.cashout_id} changed while you looked: it is now {cashout.status}")
    _check(cashout, action, ctx)  # again, under the row lock: a plan made under another role is no pass
    before = {"status": cashout.status, "hold_flag_id": cashout.hold_flag_id}
    entry_id, returned = None, 0
    if action == "reject" and (entry := _returned(session, cashout)) is not None:
        posting = Posting(cashout.creator_id, "diamond", -entry.amount, "reversal", ref=cashout.cashout_id,
                          reverses=entry.entry_id)
        written = post_entries(session, [posting], ctx, key=key, action="cashout.reject")
        entry_id, returned = written[0]["entry_id"], -entry.amount
        cashout = _cashout(session, plan["cashout_id"], lock=True)  # post_entries expired the session
    cashout.status = TO[action]
    cashout.status_reason, cashout.status_by, cashout.status_at = ctx.reason.strip(), ctx.actor, datetime.now(UTC)
    if action != "hold":
        cashout.hold_flag_id = None  # the hold is over; the audit record keeps which flag caused it
    session.add(cashout)
    session.flush()
    audit.append(session, ctx, action=f"cashout.{action}", target=cashout.cashout_id,
                 account_id=cashout.creator_id, key=key, before=before,
                 after={"status": cashout.status, "diamonds_returned": returned, "entry_id": entry_id})
    return {**base, "before": before["status"], "after": cashout.status, "changed": True, "entry_id": entry_id,
            "diamonds_returned": returned}


def _base(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: plan[k] for k in ("cashout_id", "creator_id", "handle", "action", "diamonds", "amount_minor",
                                 "currency", "hold_flag_id", "reason", "ticket_id")}


def plan_action(engine: Engine, cashout_id: str, action: str, ctx: ActionContext) -> dict[str, Any]:
    with read_session(engine) as session:
        return plan(session, cashout_id, action, ctx)
