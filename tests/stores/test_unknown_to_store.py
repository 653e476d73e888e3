"""`unknown_to_store`: a purchase we hold and credited that its store says it never charged, found after a sync
against the emulator (each store's "no such" answer kept as evidence) and reversed once, by a lead, with a ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, LedgerEntry, Purchase, Ticket
from supportdesk.errors import Forbidden, InvalidInput
from supportdesk.services.audit import ActionContext
from supportdesk.services.fixes import apply_fix
from supportdesk.services.reconcile import Scope, reconcile
from tests.stores.store_data import NOW_DT, UNKNOWN
from tests.stores.test_sync import db, run, settings  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")]
LEAD = ActionContext("lead-1", "the store never charged it", ticket_id="T-77", role="lead")


def credit_unknown(engine: Engine) -> None:
    """Our purchases the stores never charged (a forged receipt): credited like any other."""
    with write_session(engine) as session:
        session.add(Ticket(ticket_id="T-77", account_id="acc_3", subject="forged receipts", category="billing",
                           status="open", created_at=NOW_DT - timedelta(days=1)))
        for n, (store, tid) in enumerate(UNKNOWN):
            pid = session.exec(select(Purchase.purchase_id).where(
                Purchase.store == store, Purchase.store_transaction_id == tid)).one()
            session.add(LedgerEntry(entry_id=f"le_unknown_{n}", account_id="acc_3", asset="coin", amount=70,
                                    kind="purchase", ref=pid, at=NOW_DT - timedelta(days=2), actor="system"))
        session.get(Account, "acc_3").coin_balance = 70 * len(UNKNOWN)


def unknown_findings(engine: Engine) -> list:
    return [f for f in reconcile(engine, Scope()).findings if f.kind == "unknown_to_store"]


def test_a_credited_purchase_every_store_says_it_never_charged_is_reported(db, settings):  # noqa: F811
    credit_unknown(db)
    assert unknown_findings(db) == []  # nothing asked yet: no evidence, no finding
    run(db, settings)
    found = {f.store: f for f in unknown_findings(db)}
    assert set(found) == {"apple", "google", "web"}
    for store, tid in UNKNOWN:
        f = found[store]
        assert (f.account_id, f.store_transaction_id, f.coins) == ("acc_3", tid, -70)
        assert f.detail["credited_coins"] == 70 and len(f.detail["credits"]) == 1
        assert f.detail["store_answers"][store]["answer"]  # the store's own words
        assert f.fixable and f.key == f"reconcile:unknown_to_store:{store}:{tid}"


def test_the_fix_is_a_leads_with_a_ticket_and_reverses_the_credit_once(db, settings):  # noqa: F811
    credit_unknown(db)
    run(db, settings)
    f = next(f for f in unknown_findings(db) if f.store == "web")
    with pytest.raises(Forbidden), write_session(db) as s:
        apply_fix(s, f, ActionContext("agent-1", "looks forged", ticket_id="T-77"))
    with pytest.raises(InvalidInput, match="ticket"), write_session(db) as s:
        apply_fix(s, f, ActionContext("lead-1", "looks forged", role="lead"))
    with write_session(db) as s:
        assert apply_fix(s, f, LEAD)["replayed"] is False
    with write_session(db) as s:
        assert apply_fix(s, f, LEAD)["replayed"] is True
    with read_session(db) as s:
        reversals = s.exec(select(LedgerEntry).where(LedgerEntry.kind == "reversal")).all()
        assert [(e.amount, e.reverses, e.ticket_id) for e in reversals] == [(-70, "le_unknown_2", "T-77")]
        assert s.get(Account, "acc_3").coin_balance == 140
    assert {f.store for f in unknown_findings(db)} == {"apple", "google"}
    run(db, settings)  # asked again: still unknown, but the credit is gone
    assert {f.store for f in unknown_findings(db)} == {"apple", "google"}
