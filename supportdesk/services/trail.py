"""Reading the audit trail: by ticket, by account, or all; and verifying its hash chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists
from sqlmodel import Session, col, select

from supportdesk.db.models import AuditRecord, LedgerEntry
from supportdesk.services.audit import verify
from supportdesk.services.import_audit import imported_mismatch

TRAIL_LIMIT = 1000


def entries(session: Session, *, ticket_id: str | None = None, account_id: str | None = None) -> dict[str, Any]:
    stmt = select(AuditRecord)
    if ticket_id:
        stmt = stmt.where(col(AuditRecord.ticket_id) == ticket_id)
    if account_id:
        stmt = stmt.where(col(AuditRecord.account_id) == account_id)
    rows = session.exec(stmt.order_by(col(AuditRecord.seq).desc()).limit(TRAIL_LIMIT)).all()
    return {"entries": [r.model_dump() for r in rows]}


def verified(session: Session) -> dict[str, Any]:
    """The chain itself, then a cross-check: every entry support posted has its audit record (a chain alone
    cannot show that its newest records were cut off)."""
    result = verify(session)
    body: dict[str, Any] = {"verified": result.verified, "records": result.records}
    if not result.verified:
        body["first_bad"] = {"seq": result.first_bad_seq, "problem": result.problem}
        return body
    orphan = session.exec(
        select(col(LedgerEntry.entry_id)).where(
            col(LedgerEntry.idempotency_key).is_not(None),
            ~exists().where(col(AuditRecord.target) == LedgerEntry.entry_id),
        ).limit(1)
    ).first()
    if orphan:
        body.update(verified=False, first_bad={"seq": None, "problem": f"the audit record of ledger entry {orphan} "
                                               "is missing (removed from the end of the log?)"})
        return body
    edited = ledger_mismatch(session) or imported_mismatch(session)
    if edited:
        body.update(verified=False, first_bad={"seq": edited[0], "problem": edited[1]})
    return body


_AUDITED = ("account_id", "asset", "amount", "kind")


def ledger_mismatch(session: Session, batch: int = 2000) -> tuple[int, str] | None:
    """Every ledger entry support posted against what its audit record says was posted: the chain covers the
    amount, so a ledger row edited in the database (triggers dropped by its owner) is found."""
    records = select(col(AuditRecord.seq), col(AuditRecord.target), col(AuditRecord.after)).where(
        col(AuditRecord.action).like("ledger.%")).order_by(col(AuditRecord.seq))
    chunk: list[tuple[int, str, dict[str, Any]]] = []
    for seq, target, after in session.exec(records).yield_per(batch):
        chunk.append((seq or 0, target, (after or {}).get("entry") or {}))  # seq: the primary key, never None
        if len(chunk) >= batch:
            found = _compare(session, chunk)
            if found:
                return found
            chunk = []
    return _compare(session, chunk) if chunk else None


def _compare(session: Session, chunk: list[tuple[int, str, dict[str, Any]]]) -> tuple[int, str] | None:
    ids = [target for _, target, _ in chunk]
    rows = {e.entry_id: e for e in session.exec(select(LedgerEntry).where(col(LedgerEntry.entry_id).in_(ids)))}
    for seq, target, said in chunk:
        entry = rows.get(target)
        if entry is None:
            return seq, f"ledger entry {target} of this audit record is missing (deleted)"
        for field in _AUDITED:
            if field in said and getattr(entry, field) != said[field]:
                return seq, (f"ledger entry {target} has {field} {getattr(entry, field)!r} but its audit record "
                             f"says {said[field]!r} (edited)")
    return None
