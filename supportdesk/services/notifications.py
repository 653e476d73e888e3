"""Store notifications received as they happen (`supportdesk listen`): once per notification id, their store
records written through the sync's upsert, and an App Store consumption request opening a ticket with its
12-hour answer deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import ConsumptionRequest, StoreNotification
from supportdesk.services import tickets
from supportdesk.services.audit import ActionContext
from supportdesk.stores.records import NormalisedRecord
from supportdesk.stores.upsert import dialect_insert, resolve_accounts, upsert_batch

ANSWER_WITHIN = timedelta(hours=12)  # Apple: answer a CONSUMPTION_REQUEST within 12 hours
LISTENER = "listener"


@dataclass(frozen=True)
class Notification:
    source: str  # apple | web | google
    notification_id: str  # Apple's notificationUUID, the processor's event id, Pub/Sub's messageId
    kind: str  # REFUND, charge.refunded, ...
    records: list[NormalisedRecord]
    signed_at: datetime | None = None


def accept(engine: Engine, note: Notification) -> dict[str, Any]:
    """Write what the notification says, once. The records go first (an idempotent upsert) and the notification
    id after, so a failure in between is retried by the store's redelivery rather than lost."""
    with read_session(engine) as session:
        if session.get(StoreNotification, (note.source, note.notification_id)) is not None:
            return {"duplicate": True, "notification_id": note.notification_id}
    written = upsert_batch(engine, note.records)
    ticket = None
    if note.kind == "CONSUMPTION_REQUEST" and note.records:
        ticket = _consumption_ticket(engine, note)
    _remember(engine, note)
    return {"duplicate": False, "notification_id": note.notification_id, "inserted": len(written.inserted),
            "updated": len(written.updated), "ticket": ticket}


def _remember(engine: Engine, note: Notification) -> None:
    """The notification id, with ON CONFLICT DO NOTHING: two deliveries at once both succeed, one row stays."""
    tid = note.records[0].store_transaction_id if note.records else None
    row = {"source": note.source, "notification_id": note.notification_id, "kind": note.kind,
           "store_transaction_id": tid, "received_at": datetime.now(UTC)}
    with write_session(engine) as session:
        table = StoreNotification.__table__  # type: ignore[attr-defined]
        session.execute(dialect_insert(session)(table).values([row]).on_conflict_do_nothing(
            index_elements=["source", "notification_id"]))


def _consumption_ticket(engine: Engine, note: Notification) -> dict[str, Any] | None:
    """Open a ticket for the transaction's account (or move the deadline of the one already open)."""
    record = note.records[0]
    requested = note.signed_at or datetime.now(UTC)
    due = requested + ANSWER_WITHIN
    with write_session(engine) as session:
        existing = session.get(ConsumptionRequest, record.store_transaction_id)
        if existing is not None:
            existing.requested_at, existing.answer_due_at = requested, due
            return {"ticket_id": existing.ticket_id, "answer_due_at": due, "opened": False}
        account = resolve_accounts(session, [record]).get(record.store_transaction_id)
        if account is None:
            return None
        ctx = ActionContext(LISTENER, "App Store consumption request")
        subject = f"App Store consumption request for {record.store_transaction_id}: answer by {due:%Y-%m-%d %H:%M} UTC"
        body = ("Apple asks for consumption information about a refund request for this transaction "
                "(supportdesk refund answers it). Apple ignores an answer after the deadline.")
        ticket = tickets.create(session, account, subject, body, "refund_request", ctx)["ticket"]
        session.add(ConsumptionRequest(store_transaction_id=record.store_transaction_id,
                                       ticket_id=ticket["ticket_id"], account_id=account, requested_at=requested,
                                       answer_due_at=due))
        return {"ticket_id": ticket["ticket_id"], "answer_due_at": due, "opened": True}
