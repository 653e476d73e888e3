"""What a store answered "no such transaction / order / charge" for: the evidence of `unknown_to_store`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from supportdesk.db.engine import write_session
from supportdesk.db.models import StoreAbsence
from supportdesk.stores.upsert import dialect_insert


def record_absences(engine: Engine, store: str, absent: dict[str, str], *, now: datetime | None = None) -> None:
    """Keep the latest answer per transaction (a later sync that finds it writes a store record instead).
    A dialect upsert, so two syncs at once cannot collide on the key."""
    if not absent:
        return
    at = now or datetime.now(UTC)
    rows = [{"store": store, "store_transaction_id": tid, "answer": answer, "checked_at": at}
            for tid, answer in absent.items()]
    with write_session(engine) as session:
        stmt = dialect_insert(session)(StoreAbsence.__table__).values(rows)  # type: ignore[attr-defined]
        session.execute(stmt.on_conflict_do_update(
            index_elements=["store", "store_transaction_id"],
            set_={"answer": stmt.excluded.answer, "checked_at": stmt.excluded.checked_at}))
