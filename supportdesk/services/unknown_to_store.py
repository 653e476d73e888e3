"""`unknown_to_store`: a purchase we hold and credited that its store answers "no such transaction / order /
charge" for (after Apple's Production to Sandbox fallback). The classic case is a forged receipt."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from supportdesk.db.models import LedgerEntry, Purchase, StoreAbsence, StoreRecord
from supportdesk.domain.findings import Finding


def _live_credit() -> Any:
    """A purchase credit of the purchase in the enclosing query that no reversal has taken back."""
    rev = aliased(LedgerEntry)
    return and_(col(LedgerEntry.ref) == Purchase.purchase_id, col(LedgerEntry.kind) == "purchase",
                ~exists().where(col(rev.reverses) == LedgerEntry.entry_id))


def query() -> Any:
    """Completed, still-credited purchases whose store said it has no such transaction and no sync found one."""
    known = exists().where(col(StoreRecord.store) == Purchase.store,
                           col(StoreRecord.store_transaction_id) == Purchase.store_transaction_id)
    return (select(Purchase, StoreAbsence)
            .join(StoreAbsence, and_(col(StoreAbsence.store) == Purchase.store,
                                     col(StoreAbsence.store_transaction_id) == Purchase.store_transaction_id))
            .where(col(Purchase.status) == "completed", ~known, exists().where(_live_credit())))


def findings(session: Session, rows: Iterable[Any]) -> Iterator[Finding]:
    """Evidence: what we credited (each live credit entry) and what the store said."""
    for p, absence in list(rows):
        credits = list(session.execute(select(LedgerEntry).where(
            col(LedgerEntry.ref) == p.purchase_id, _live_credit()).order_by(col(LedgerEntry.seq))).scalars())
        credited = sum(e.amount for e in credits)
        yield Finding("unknown_to_store", p.account_id, p.store, p.store_transaction_id, p.purchase_id, -credited,
                      {"purchase": p.model_dump(), "credited_coins": credited,
                       "credits": [{"entry_id": e.entry_id, "amount": e.amount, "at": e.at} for e in credits],
                       "store_answers": {p.store: {"answer": absence.answer, "checked_at": absence.checked_at}},
                       "extra_entries": [e.entry_id for e in credits]})
