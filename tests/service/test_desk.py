"""The desk (the application layer) with injected fake store clients: no patching, no network, a tiny database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supportdesk.db.engine import write_session
from supportdesk.db.models import Account, Purchase
from supportdesk.desk import Desk
from supportdesk.desk.context import AppContext
from supportdesk.stores.errors import StoreNotFound
from tests.service.test_reconcile import record, world  # noqa: F401  (world: the fixture with prices and credits)

NOW = datetime.now(UTC).replace(microsecond=0)


class FakeWeb:
    """The web processor's client as the sync uses it: no charges listed, no disputes, and "no such charge"."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def dispute_pages(self, **_: Any) -> list[list[dict[str, Any]]]:
        return [[]]

    def charge_pages(self, **_: Any) -> list[list[dict[str, Any]]]:
        return [[]]

    def get_charge(self, charge_id: str) -> dict[str, Any]:
        self.asked.append(charge_id)
        raise StoreNotFound("web", f"No such charge: {charge_id}", status=404, store_code="resource_missing")

    def close(self) -> None:
        pass


def account(account_id: str, coins: int) -> Account:
    """An account whose cached coin balance is `coins` and whose ledger is empty: a balance_drift."""
    return Account(account_id=account_id, handle=f"@{account_id}", email=f"{account_id}@example.com", country="US",
                   kind="viewer", status="active", created_at=NOW - timedelta(days=10), coin_balance=coins,
                   diamond_balance=0)


@pytest.fixture
def desk(db_url: str) -> Desk:
    return Desk.open(AppContext(db_url=db_url), clients={"web": FakeWeb()})


def test_injected_store_clients_are_the_ones_synced(desk: Desk) -> None:
    with write_session(desk.engine) as session:
        session.add(account("acc_1", 0))
        session.flush()
        session.add(Purchase(purchase_id="pur_1", account_id="acc_1", store="web", store_transaction_id="ch_1",
                             product_id="coins_70", coins=70, price_minor=99, currency="USD", country="US",
                             purchased_at=NOW - timedelta(days=2), status="completed"))
    assert desk.reconcile.configured_stores() == ["web"]  # none in the config: the injected one counts
    result = desk.stores.sync(desk.stores.window("7d"), stores=["web"], account_id=desk.account_id("@acc_1"))
    assert desk.clients is not None and desk.clients["web"].asked == ["ch_1"]
    assert not result.failed and result.synced["web"].not_found == 1
    synced = desk.reconcile.sync_first(desk.reconcile.scope("@acc_1"))
    assert synced is not None and not synced.failed and desk.clients["web"].asked == ["ch_1", "ch_1"]


def test_a_fix_applies_exactly_the_confirmed_findings(desk: Desk) -> None:
    with write_session(desk.engine) as session:
        session.add(account("acc_1", 50))
    found = desk.reconcile.detect(desk.reconcile.scope())
    assert [f.kind for f in found.fixable] == ["balance_drift"]
    with write_session(desk.engine) as session:  # drifts after the agent confirmed: waits for the next run
        session.add(account("acc_2", 30))
    done = desk.reconcile.fix_confirmed(found.fixable, desk.acting(reason="resync after the outage"))
    assert [a["account_id"] for a in done.applied] == ["acc_1"] and not done.failed and not done.skipped
    assert done.to_json() == {"applied": done.applied, "failed": [], "skipped": []}
    again = desk.reconcile.detect(desk.reconcile.scope())
    assert [(f.kind, f.account_id) for f in again.findings] == [("balance_drift", "acc_2")]
    body = again.to_json()
    assert body["summary"]["total"] == 1 and body["findings"][0]["stale"] is False and "synced" not in body


class FakeProcessor(FakeWeb):
    """The web processor as a refund uses it: no refund of ours yet, then one refund per idempotency key."""

    def __init__(self) -> None:
        super().__init__()
        self.refunds: list[tuple[str, str, int]] = []

    def find_our_refund(self, charge: str, refund_id: str) -> dict[str, Any] | None:
        return None

    def create_refund(self, charge: str, *, idempotency_key: str, amount: int, reason: str) -> dict[str, Any]:
        self.refunds.append((charge, idempotency_key, amount))
        return {"id": f"re_{len(self.refunds)}", "status": "succeeded"}


@pytest.mark.usefixtures("world")
def test_deciding_to_refund_a_charge_calls_the_injected_store_once(db_url: str) -> None:
    processor = FakeProcessor()
    desk = Desk.open(AppContext(db_url=db_url), clients={"web": processor})
    with write_session(desk.engine) as s:
        s.add(record("ch_odd", "acc_0003", price=123))
    found = desk.reconcile.detect(desk.reconcile.scope("acc_0003"))
    f = desk.reconcile.decidable(found.findings, "ch_odd")
    done = desk.reconcile.decide(f, "refund_charge", desk.acting(reason="priced wrong"))
    assert [(a["kind"], a["store_refund_id"], a["entries"]) for a in done.applied] == [("amount_mismatch", "re_1", [])]
    assert [(charge, amount) for charge, _, amount in processor.refunds] == [("ch_odd", 123)]
    again = desk.reconcile.decide(f, "refund_charge", desk.acting(reason="priced wrong"))
    assert again.applied[0]["replayed"] is True and len(processor.refunds) == 1  # the store is not asked twice
