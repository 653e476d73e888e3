"""A ticket's conversation: customer messages, replies (recorded, then handed to the outbox) and internal notes;
macros filled from the account, the purchase and the last decision under the ticket. Audited, once per key."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import (
    Account,
    AuditRecord,
    IdempotencyKey,
    LedgerEntry,
    Purchase,
    Ticket,
    TicketMessage,
)
from supportdesk.domain import refunds as rules
from supportdesk.domain.conversation import (
    CUSTOMER,
    KINDS,
    NOTE,
    PLACEHOLDERS,
    REPLY,
    REPLY_STATUSES,
    Macro,
    check_body,
    fill,
    fix_sentence,
    macros_from_config,
    placeholders,
    unknown_placeholders,
)
from supportdesk.domain.money import format_money
from supportdesk.domain.text import day
from supportdesk.domain.tickets import ticket_id_of, ticket_status
from supportdesk.errors import Conflict, InvalidInput, NotFound, SupportdeskError
from supportdesk.services import audit, refunds
from supportdesk.services.audit import ActionContext
from supportdesk.services.once import caller_key, check_context, run_once
from supportdesk.services.outbox import OutboundReply, Outbox
from supportdesk.services.tickets import get, locked, move

# What a message does to the ticket's status when none is asked for (Zendesk's habits).
AFTER_CUSTOMER = {"new": "open", "pending": "open", "solved": "open"}  # the customer wrote again: ours to answer
AFTER_REPLY = {"new": "open"}
REASONS = {CUSTOMER: "the customer wrote", REPLY: "reply to the customer", NOTE: "internal note"}


class OutboxUnavailable(SupportdeskError):
    code = "outbox_unavailable"


def message_id_for(key: str) -> str:
    """The message id is derived from its idempotency key: the same reply retried has the same id everywhere."""
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _last_message(session: Session, ticket_id: str) -> TicketMessage | None:
    return session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
                        .order_by(col(TicketMessage.created_at).desc(), col(TicketMessage.message_id).desc())
                        .limit(1)).first()


def _check_status(kind: str, status: str | None) -> str | None:
    if status is None or not status.strip():
        return None
    if kind != REPLY:
        raise InvalidInput("only a reply sets the ticket's status (a note or a customer message does not)")
    after = ticket_status(status)
    if after not in REPLY_STATUSES:
        raise InvalidInput(f"a reply leaves the ticket {', '.join(REPLY_STATUSES)}, not {after!r} "
                           "(a lead closes tickets with `ticket status`)")
    return after


def check(session: Session, ticket_id: str, kind: str, body: str, status: str | None = None
          ) -> tuple[Ticket, Account, str, str | None]:
    """Everything a message is refused for, before anything is written (also what --dry-run runs)."""
    if kind not in KINDS:
        raise InvalidInput(f"a message is one of {', '.join(KINDS)}, not {kind!r}")
    text = check_body(kind, body)
    after = _check_status(kind, status)
    ticket = get(session, ticket_id_of(ticket_id))
    if ticket.status == "closed" and kind != NOTE:
        raise Conflict(f"{ticket.ticket_id} is closed: it takes no more messages (open a new ticket)")
    account = session.get(Account, ticket.account_id)
    if account is None:
        raise NotFound(f"the account of {ticket.ticket_id} ({ticket.account_id}) does not exist")
    return ticket, account, text, after


def record(session: Session, ticket_id: str, kind: str, body: str, ctx: ActionContext, *,
           status: str | None = None, macro: str | None = None, key: str | None = None) -> dict[str, Any]:
    """Add one message, audited, once, in the caller's transaction; a reply may set the status.

    The default key makes the same message retried (the last one on the ticket, same kind, author and text) a
    replay, and the same text after other messages a new message; `key` (the caller's) overrides that."""
    ticket, account, text, after = check(session, ticket_id, kind, body, status)
    ticket_id = ticket.ticket_id
    ticket = locked(session, ticket_id)
    author = (account.handle if kind == CUSTOMER else ctx.actor)
    ctx = ActionContext(ctx.actor, (ctx.reason or "").strip() or (f"{REASONS[kind]} (macro {macro})" if macro
                                                                   else REASONS[kind]),
                        ticket_id, ctx.role, ctx.credit_limit, ctx.policy_version)
    check_context(ctx)
    last = _last_message(session, ticket_id)
    if key is None and last is not None and (last.kind, last.author, last.body) == (kind, author, text):
        return {**_result(session, last, ticket_id), "replayed": True}
    key = caller_key(key) or f"ticket.{kind}:{ticket_id}:{_digest(text)[:16]}:after:{last.message_id if last else '-'}"
    message_id = message_id_for(key)
    to = account.email if kind == REPLY else None

    def perform() -> dict[str, Any]:
        now = datetime.now(UTC)
        session.add(TicketMessage(message_id=message_id, ticket_id=ticket_id, kind=kind, author=author, body=text,
                                  created_at=now, idempotency_key=key, macro=macro))
        session.flush()
        audit.append(session, ctx, action=f"ticket.{kind}", target=message_id, account_id=ticket.account_id,
                     key=key, after={"kind": kind, "author": author, "chars": len(text), "sha256": _digest(text),
                                     "macro": macro, "to": to}, at=now)
        target = after or (AFTER_REPLY if kind == REPLY else AFTER_CUSTOMER if kind == CUSTOMER else {}
                           ).get(ticket.status)
        if target and target != ticket.status:
            move(session, ticket, target, ctx, key=f"{key}:status", resolution=f"replied ({message_id})")
        return {"message_id": message_id}

    result = run_once(session, key=key, action=f"ticket.{kind}",
                      request={"ticket": ticket_id, "kind": kind, "sha256": _digest(text), "status": after,
                               "macro": macro}, ctx=ctx, perform=perform)
    row = session.get(TicketMessage, result["message_id"])
    assert row is not None
    return {**_result(session, row, ticket_id), "replayed": result["replayed"]}


def _result(session: Session, row: TicketMessage, ticket_id: str) -> dict[str, Any]:
    session.refresh(row)
    return {"message": row.model_dump(exclude={"idempotency_key"}), "ticket": get(session, ticket_id).model_dump()}


def reply(engine: Any, ticket_id: str, body: str, ctx: ActionContext, outbox: Outbox, *,
          status: str | None = None, macro: str | None = None, key: str | None = None) -> dict[str, Any]:
    """Record the reply (committed), hand it to the outbox, mark it sent: a crash in between cannot send it twice
    (services/outbox.py); running the same reply again finishes one that was recorded but not handed over."""
    with write_session(engine) as session:
        result = record(session, ticket_id, REPLY, body, ctx, status=status, macro=macro, key=key)
    message = result["message"]
    if message["sent_at"] is None:
        message["sent_at"] = deliver(engine, message["message_id"], outbox, resume=result["replayed"])
        result["sent_now"] = True
    else:
        result["sent_now"] = False
    return result


def deliver(engine: Any, message_id: str, outbox: Outbox, *, resume: bool) -> datetime:
    """Hand one recorded reply to the outbox, then mark it sent; returns when."""
    with read_session(engine) as session:
        row = session.get(TicketMessage, message_id)
        if row is None or row.kind != REPLY:
            raise NotFound(f"no reply {message_id!r}")
        ticket = get(session, row.ticket_id)
        account = session.get(Account, ticket.account_id)
        to = account.email if account else ""
        account_id = ticket.account_id
    now = datetime.now(UTC)
    try:
        outbox.send(OutboundReply(message_id=message_id, ticket=row.ticket_id, account=account_id, to=to,
                                  body=row.body, author=row.author, sent_at=audit.plain(now)), resume=resume)
    except OSError as exc:
        raise OutboxUnavailable(f"the reply is recorded ({message_id}) but the outbox could not take it: "
                                f"{exc.strerror or exc}; run the same reply again to send it") from None
    with write_session(engine) as session:
        session.execute(update(TicketMessage).where(col(TicketMessage.message_id) == message_id,
                                                    col(TicketMessage.sent_at).is_(None)).values(sent_at=now))
    return now


# -- macros --------------------------------------------------------------------------------------------------------
def macros(raw: Any) -> dict[str, Macro]:
    return macros_from_config(raw)


def macro_list(raw: Any) -> dict[str, Any]:
    """Every macro with its placeholders; a macro with an unknown placeholder says which."""
    out = []
    for m in macros(raw).values():
        try:
            used, unknown = placeholders(m.body), unknown_placeholders(m.body)
        except InvalidInput as exc:
            used, unknown = [], [exc.message]
        out.append({"name": m.name, "title": m.title, "body": m.body, "placeholders": used, "unknown": unknown})
    return {"macros": out, "placeholders": PLACEHOLDERS}


def last_decision(session: Session, ticket_id: str) -> dict[str, Any] | None:
    """The newest refund decision or reconcile fix made under the ticket: `kind` (refund | fix), `sentence` (for
    the customer), `purchase_id`, `action`."""
    keys = session.exec(select(AuditRecord.idempotency_key).where(
        AuditRecord.ticket_id == ticket_id, col(AuditRecord.idempotency_key).is_not(None))
        .order_by(col(AuditRecord.seq).desc())).all()
    seen: set[str] = set()
    for key in keys:
        if key is None or key in seen:
            continue
        seen.add(key)
        row = session.get(IdempotencyKey, key)
        if row is None:
            continue
        if row.action == "refund.apply" and row.result.get("decision"):
            return {"kind": "refund", "action": row.action, "sentence": row.result["decision"]["explanation"],
                    "purchase_id": (row.result.get("purchase") or {}).get("purchase_id")}
        if row.action.startswith("reconcile."):
            return _fix(session, ticket_id, key, row.action.removeprefix("reconcile."))
    return None


def _fix(session: Session, ticket_id: str, key: str, kind: str) -> dict[str, Any]:
    ticket = get(session, ticket_id)
    entries = session.exec(select(LedgerEntry).where(
        LedgerEntry.account_id == ticket.account_id, LedgerEntry.asset == "coin",
        col(LedgerEntry.idempotency_key).startswith(f"{key}#"))).all()
    coins = sum(e.amount for e in entries)
    refs = [e.ref for e in entries if e.ref and session.get(Purchase, e.ref) is not None]
    purchase_id = refs[0] if refs else None
    return {"kind": "fix", "action": f"reconcile.{kind}", "sentence": fix_sentence(kind, coins, purchase_id),
            "purchase_id": purchase_id}


def macro_values(session: Session, ticket_id: str, *, agent: str, purchase: str | None = None,
                 now: datetime | None = None, policy: rules.Policy | None = None
                 ) -> tuple[dict[str, str | None], dict[str, str]]:
    """The value of every placeholder for this ticket (None: nothing fills it) and why each None is None."""
    ticket = get(session, ticket_id_of(ticket_id))
    account = session.get(Account, ticket.account_id)
    assert account is not None
    decision = last_decision(session, ticket.ticket_id)
    why: dict[str, str] = {}
    values: dict[str, str | None] = {
        "handle": account.handle, "email": account.email, "balance": f"{account.coin_balance:,}",
        "diamonds": f"{account.diamond_balance:,}", "ticket": ticket.ticket_id, "subject": ticket.subject,
        "agent": agent, "fix": None, "decision": None}
    row: Purchase | None = None
    if purchase:
        row = refunds.resolve_purchase(session, purchase)
        if row.account_id != account.account_id:
            raise InvalidInput(f"purchase {row.purchase_id} is not {account.handle}'s (the ticket's account)")
    elif decision is not None and decision["purchase_id"]:
        row = session.get(Purchase, decision["purchase_id"])
    if decision is not None and decision["kind"] == "fix":
        values["fix"] = decision["sentence"]
    else:
        why["fix"] = f"no reconcile fix was applied under {ticket.ticket_id}"
    if decision is not None and decision["kind"] == "refund" and (row is None
                                                                  or decision["purchase_id"] == row.purchase_id):
        values["decision"] = decision["sentence"]
    elif row is not None:  # no decision recorded for it: the decision now, as `refund` would show it
        values["decision"] = refunds.decide(session, row.purchase_id, now or datetime.now(UTC), policy
                                            )["decision"]["explanation"]
    else:
        why["decision"] = (f"no refund decision was made under {ticket.ticket_id}: pass the purchase "
                           "(--purchase) to use the decision for it now")
    if row is not None:
        values.update(purchase=row.purchase_id, purchase_coins=f"{row.coins:,}",
                      purchase_price=format_money(row.price_minor, row.currency), purchase_date=day(row.purchased_at),
                      purchase_store=row.store)
    else:
        for name in ("purchase", "purchase_coins", "purchase_price", "purchase_date", "purchase_store"):
            why[name] = f"no purchase: pass one (--purchase) or decide a refund under {ticket.ticket_id} first"
    return values, why


def render_macro(session: Session, ticket_id: str, name: str, raw_macros: Any, *, agent: str,
                 purchase: str | None = None, now: datetime | None = None,
                 policy: rules.Policy | None = None) -> dict[str, Any]:
    """The macro filled for this ticket: `macro`, `title`, `body`; an unknown macro or placeholder is an error."""
    table = macros(raw_macros)
    macro = table.get((name or "").strip())
    if macro is None:
        raise NotFound(f"no macro {name!r}; macros: {', '.join(table)} (`supportdesk macro list`)")
    values, why = macro_values(session, ticket_id, agent=agent, purchase=purchase, now=now, policy=policy)
    return {"macro": macro.name, "title": macro.title, "body": fill(macro, values, why)}
