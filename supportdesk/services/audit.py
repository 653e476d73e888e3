"""The tamper-evident audit log: every record holds the hash of the one before it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from supportdesk.db.models import AuditRecord, Ticket
from supportdesk.domain.tickets import TICKET_SHAPE, ticket_id_of
from supportdesk.errors import InvalidInput, NotFound

GENESIS = "0" * 64
_LOCK_ID = 7_212_001  # pg advisory lock that serialises appends to the chain


@dataclass(frozen=True, slots=True)
class ActionContext:
    """Who acts, why, and under which ticket: every money-moving or status-changing action needs one."""

    actor: str
    reason: str
    ticket_id: str | None = None
    role: str = "agent"  # agent | lead: what this actor may do (see services/roles.py)
    credit_limit: int | None = None  # coins an agent may credit in one action; None: no limit
    policy_version: int | None = None  # the policy row in force (None: the defaults in code)


def check_ticket(session: Session, ticket_id: str | None) -> Ticket | None:
    """The one ticket check every action makes (review, fix, refund, credit, status, resolve), CLI and TUI alike:
    an action names an existing ticket, in its canonical spelling, or none."""
    if ticket_id is None:
        return None
    if ticket_id != ticket_id_of(ticket_id) or not TICKET_SHAPE.match(ticket_id):
        raise InvalidInput(f"{ticket_id!r} is not a ticket id (like T-1016)")
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id!r}: open it first (`supportdesk ticket create`) or check the id")
    return ticket


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain, ensure_ascii=False)


def plain(value: Any) -> Any:
    """JSON-safe copy (datetimes as ISO 8601 UTC): what JSON columns store and replays return."""
    return json.loads(canonical(value))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(prev_hash: str, rec: AuditRecord) -> str:
    body: dict[str, Any] = {
        "at": _stamp(rec.at),
        "actor": rec.actor,
        "action": rec.action,
        "target": rec.target,
        "account_id": rec.account_id,
        "ticket_id": rec.ticket_id,
        "idempotency_key": rec.idempotency_key,
        "reason": rec.reason,
        "before": rec.before,
        "after": rec.after,
    }
    if rec.policy_version is not None:  # records made before versioned policy hash as they always did
        body["policy_version"] = rec.policy_version
    return hashlib.sha256((prev_hash + canonical(body)).encode()).hexdigest()


def append(
    session: Session,
    ctx: ActionContext,
    *,
    action: str,
    target: str,
    account_id: str | None = None,
    key: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction; a ticket that does not exist is refused, never recorded."""
    check_ticket(session, ctx.ticket_id)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    last = session.exec(select(AuditRecord.hash).order_by(col(AuditRecord.seq).desc()).limit(1)).first()
    prev = last or GENESIS
    rec = AuditRecord(
        at=at or datetime.now(UTC),
        actor=ctx.actor,
        action=action,
        target=target,
        account_id=account_id,
        ticket_id=ctx.ticket_id,
        idempotency_key=key,
        reason=ctx.reason,
        before=plain(before) if before is not None else None,
        after=plain(after) if after is not None else None,
        prev_hash=prev,
        hash="",
        policy_version=ctx.policy_version,
    )
    rec.hash = record_hash(prev, rec)
    session.add(rec)
    session.flush()
    return rec


@dataclass(frozen=True, slots=True)
class VerifyResult:
    verified: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(session: Session) -> VerifyResult:
    """Walk the chain in order; name the first record that was edited, removed before, or moved."""
    prev = GENESIS
    count = 0
    for rec in session.exec(select(AuditRecord).order_by(col(AuditRecord.seq))).yield_per(2000):
        count += 1
        if rec.prev_hash != prev:
            return VerifyResult(False, count, rec.seq, "does not follow the record before it (removed or reordered)")
        if record_hash(prev, rec) != rec.hash:
            return VerifyResult(False, count, rec.seq, "its contents do not match its hash (edited)")
        prev = rec.hash
    return VerifyResult(True, count)
