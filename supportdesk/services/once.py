"""Exactly-once actions: a unique idempotency key row decides, not a read-then-write."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from supportdesk.db.models import IdempotencyKey
from supportdesk.domain import limits
from supportdesk.errors import Conflict, InvalidInput
from supportdesk.services.audit import ActionContext, canonical, check_ticket, plain

MAX_KEY = 200
# Keys a caller chooses (`--idempotency-key`) live here: never `reconcile:...`, `refund:...` or another key the
# system derives, so a chosen key can neither block nor replay a system action.
CALLER_NAMESPACE = "user:"


def caller_key(key: str | None) -> str | None:
    """The caller's key in the caller namespace (unchanged if it is already there); None: derive the default."""
    if key is None:
        return None
    if not key.strip():
        raise InvalidInput("--idempotency-key must not be empty (leave it out to use the default key)")
    return key if key.startswith(CALLER_NAMESPACE) else CALLER_NAMESPACE + key


def request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(request).encode()).hexdigest()


def check_context(ctx: ActionContext) -> None:
    if not ctx.actor or not ctx.actor.strip():
        raise InvalidInput("an actor is required")
    limits.check_text("actor", ctx.actor, limits.ACTOR)
    if not ctx.reason or not ctx.reason.strip():
        raise InvalidInput("a reason is required for every action that moves money or changes a status")
    limits.check_text("reason", ctx.reason, limits.REASON)


def run_once(
    session: Session,
    *,
    key: str,
    action: str,
    request: dict[str, Any],
    ctx: ActionContext,
    perform: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Run `perform` in the caller's transaction unless `key` already ran; return the result with `replayed`.

    The key row is inserted first: a concurrent second caller blocks on the unique index (PostgreSQL) or on
    the write lock (SQLite) and then finds the first caller's row, so the work is done exactly once.
    """
    check_context(ctx)
    check_ticket(session, ctx.ticket_id)
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(f"an idempotency key must be 1 to {MAX_KEY} characters")
    digest = request_hash(request)
    row = IdempotencyKey(
        key=key, action=action, request_hash=digest, actor=ctx.actor, result={}, created_at=datetime.now(UTC)
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return _replay(session, key, action, digest)
    result = plain(perform())
    row.result = result
    session.add(row)
    session.flush()
    return {**result, "replayed": False}


def _replay(session: Session, key: str, action: str, digest: str) -> dict[str, Any]:
    session.expire_all()
    first = session.get(IdempotencyKey, key)
    if first is None:  # the other writer rolled back; the caller may simply retry
        raise Conflict(f"idempotency key {key!r} is being used by another action right now; try again")
    if first.action != action or first.request_hash != digest:
        raise Conflict(
            f"idempotency key {key!r} was already used for a different request ({first.action}); "
            "use a new key or repeat the original request"
        )
    return {**first.result, "replayed": True}
