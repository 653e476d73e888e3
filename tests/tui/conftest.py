"""Small SQLite databases imported from the service factories, and an app on them at 80x24."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from supportdesk.cli.context import AppContext
from supportdesk.config import Settings
from supportdesk.db.engine import make_engine, write_session
from supportdesk.db.models import Account, Cashout, LedgerEntry, ReviewFlag, StoreRecord
from supportdesk.db.schema import ensure_schema
from supportdesk.desk import Desk
from supportdesk.services.importer import run_import
from supportdesk.tui.app import SupportDeskApp
from tests.service.factories import account, minimal, write_dataset


class QuietApp(SupportDeskApp):
    """No blinking cursor, so screens are the same every run."""

    CURSOR_BLINK = False


def dataset() -> dict[str, list[dict[str, Any]]]:
    """minimal() plus @ana, and @cleo: a refunded purchase clawed back after the coins were gifted away
    (a debt, limited) with a cached balance that drifted from the ledger; @dan the creator who got the gift."""
    data = minimal(12)  # @user1 and @user10, @user11: a handle that is also a prefix of others
    data["accounts"][2]["handle"] = "@ana"
    data["accounts"][3].update(handle="@cleo", email="cleo@example.com", country="US", status="limited",
                               coin_balance=-320)
    data["accounts"][4].update(handle="@dan", kind="creator", diamond_balance=200)
    data["gifts"].append({"gift_id": "lion", "name": "Lion", "coins": 100, "diamonds": 50})
    data["purchases"] += [
        purchase("pur_0002", "apple", "2000000123456789", 350, 499, "2026-09-20T08:30:00Z", "refunded"),
        purchase("pur_0003", "google", "GPA.1234-5678-9012-34567", 70, 99, "2026-09-25T19:05:00Z", "completed"),
    ]
    data["ledger"] += [
        entry("le_0002", "acc_0003", 350, "purchase", "pur_0002", "2026-09-20T08:30:05Z"),
        entry("le_0003", "acc_0003", 70, "purchase", "pur_0003", "2026-09-25T19:05:04Z"),
        entry("le_0004", "acc_0003", -400, "gift_sent", "ev_0001", "2026-09-26T21:00:00Z"),
        entry("le_0005", "acc_0004", 200, "gift_received", "ev_0001", "2026-09-26T21:00:00Z", asset="diamond"),
        entry("le_0006", "acc_0003", -350, "refund_clawback", "pur_0002", "2026-09-30T10:00:00Z"),
    ]
    data["gift_events"] = [{"event_id": "ev_0001", "sender_id": "acc_0003", "creator_id": "acc_0004",
                            "gift_id": "lion", "quantity": 4, "coins": 400, "diamonds": 200,
                            "at": "2026-09-26T21:00:00Z"}]
    data["tickets"].append({"ticket_id": "T-1002", "account_id": "acc_0003", "subject": "My coins went negative",
                            "body": "", "category": "coins_disappeared", "status": "open",
                            "created_at": "2026-09-30T11:00:00Z"})
    return data


def purchase(pid: str, store: str, txn: str, coins: int, price: int, at: str, status: str) -> dict[str, Any]:
    return {"purchase_id": pid, "account_id": "acc_0003", "store": store, "store_transaction_id": txn,
            "product_id": f"coins_{coins}", "coins": coins, "price_minor": price, "currency": "USD",
            "country": "US", "purchased_at": at, "status": status}


def entry(eid: str, account: str, amount: int, kind: str, ref: str, at: str, asset: str = "coin") -> dict[str, Any]:
    return {"entry_id": eid, "account_id": account, "asset": asset, "amount": amount, "kind": kind, "ref": ref,
            "at": at, "actor": "system"}


@pytest.fixture
def tui_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'tui.db'}")
    ensure_schema(engine)
    run_import(engine, write_dataset(tmp_path / "ds", dataset()))
    yield engine
    engine.dispose()


def app_factory(engine: Engine) -> Callable[..., SupportDeskApp]:
    def make(keys: dict[str, str] | None = None, initial_query: str | None = None,
             stores: dict[str, Any] | None = None, clients: dict[str, Any] | None = None) -> SupportDeskApp:
        """`clients`: fake store clients, injected through the app's desk (as the CLI tests do)."""
        settings = Settings(database_url=str(engine.url), actor="tester", keys=keys or {}, stores=stores or {})
        state = AppContext(_settings=settings)
        state.engine = engine  # type: ignore[misc]  # share the test's engine (cached_property slot)
        app = QuietApp(state, initial_query=initial_query)
        if clients:
            app.backend.desk = Desk.open(state, clients=clients)  # the app's one desk, with the fakes
        app.animation_level = "none"
        return app

    return make


@pytest.fixture
def make_app(tui_engine: Engine) -> Callable[..., SupportDeskApp]:
    return app_factory(tui_engine)


# --- reconcile: one account per finding kind, as the service tests plant them --------------------------------

AT = datetime(2026, 10, 1, 12, tzinfo=UTC)
T = "2026-10-01T12:00:00Z"


def web_purchase(pid: str, acc: str, txn: str, *, price: int = 99, **over: Any) -> dict[str, Any]:
    row = {"purchase_id": pid, "account_id": acc, "store": "web", "store_transaction_id": txn,
           "product_id": "coins_70", "coins": 70, "price_minor": price, "currency": "USD", "country": "US",
           "purchased_at": T, "status": "completed"}
    return {**row, **over}


def credit(eid: str, acc: str, pid: str) -> dict[str, Any]:
    return {"entry_id": eid, "account_id": acc, "asset": "coin", "amount": 70, "kind": "purchase", "ref": pid,
            "at": T, "actor": "system"}


def store_record(txn: str, acc: str, *, store: str = "web", price: int = 99, cur: str = "USD",
                 country: str = "US", state: str = "purchased") -> StoreRecord:
    return StoreRecord(store=store, store_transaction_id=txn, account_id=acc, account_ref=acc,
                       product_id="coins_70", price_minor=price, currency=cur, country=country, purchased_at=AT,
                       state=state, refunded_minor=None, refunded_at=AT if state != "purchased" else None,
                       raw={}, fetched_at=AT)


def reconcile_dataset() -> dict[str, list[dict[str, Any]]]:
    """@user0 clean; @user1 paid, never credited; @user2 credited twice; @user3 charged by the store with no
    purchase here; @user4 refunded by Apple (JPY) and kept the coins; @user5's cached balance drifted;
    @user6 charged 1.49 for a 0.99 bundle (report only)."""
    data = minimal()
    data["regions"].append({"country": "JP", "currency": "JPY", "coin_purchase": True, "gifting": True,
                            "cashout": True, "min_age": 18, "stores": ["apple"],
                            "valid_from": "2024-01-01T00:00:00Z"})
    data["price_points"].append({"country": "JP", "store": "apple", "product_id": "coins_70", "coins": 70,
                                 "price_minor": 160, "currency": "JPY", "valid_from": "2024-01-01T00:00:00Z",
                                 "valid_to": None})
    data["accounts"] = [account(i) for i in range(8)]
    for i, coins in ((0, 70), (2, 140), (4, 70), (5, 500), (6, 70)):
        data["accounts"][i]["coin_balance"] = coins
    data["purchases"] = [
        web_purchase("pur_0001", "acc_0000", "ch_abc123"),
        web_purchase("pur_0002", "acc_0001", "ch_uncredited"),
        web_purchase("pur_0003", "acc_0002", "ch_twice"),
        web_purchase("pur_0004", "acc_0004", "2000000001", store="apple", price=160, currency="JPY",
                     country="JP"),
        web_purchase("pur_0006", "acc_0006", "ch_mismatch", price=149),
    ]
    data["ledger"] = [credit("le_0001", "acc_0000", "pur_0001"), credit("le_0002", "acc_0002", "pur_0003"),
                      credit("le_0003", "acc_0002", "pur_0003"), credit("le_0004", "acc_0004", "pur_0004"),
                      credit("le_0006", "acc_0006", "pur_0006")]
    data["tickets"].append({"ticket_id": "T-2001", "account_id": "acc_0001", "subject": "I paid, no coins",
                            "body": "", "category": "missing_coins", "status": "open", "created_at": T})
    return data


@pytest.fixture
def reconcile_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'reconcile.db'}")
    ensure_schema(engine)
    run_import(engine, write_dataset(tmp_path / "ds", reconcile_dataset()))
    with write_session(engine) as s:  # what a store sync would have fetched
        s.add_all([
            store_record("ch_abc123", "acc_0000"), store_record("ch_uncredited", "acc_0001"),
            store_record("ch_twice", "acc_0002"), store_record("ch_missing", "acc_0003"),
            store_record("2000000001", "acc_0004", store="apple", price=160, cur="JPY", country="JP",
                         state="refunded"),
            store_record("ch_mismatch", "acc_0006", price=149),
        ])
    yield engine
    engine.dispose()


@pytest.fixture
def make_reconcile_app(reconcile_engine: Engine) -> Callable[..., SupportDeskApp]:
    return app_factory(reconcile_engine)


# --- cashouts: a creator with one requested cashout and one a review flag holds -------------------------------------

FLAG = "gift_laundering:pur_0002"


@pytest.fixture
def creator_engine(tui_engine: Engine) -> Engine:
    """@dan (acc_0004) cashed out twice: co_1 requested (100 diamonds, 0.50 USD), co_2 held by a review flag on
    @cleo's purchase (50 diamonds, 0.25 USD); each took its diamonds from the ledger."""
    at = datetime(2026, 9, 28, 12, tzinfo=UTC)
    with write_session(tui_engine) as s:
        s.add(ReviewFlag(flag_id=FLAG, rule="gift_laundering", account_id="acc_0003", purchase_id="pur_0002",
                         score=85, evidence={"creator_id": "acc_0004"}, created_at=at))
        s.add(Cashout(cashout_id="co_1", creator_id="acc_0004", diamonds=100, amount_minor=50, currency="USD",
                      status="requested", at=at.replace(day=29)))
        s.add(Cashout(cashout_id="co_2", creator_id="acc_0004", diamonds=50, amount_minor=25, currency="USD",
                      status="held", at=at, hold_flag_id=FLAG, status_reason="laundering confirmed",
                      status_by="lee", status_at=at))
        for cid, d in (("co_1", 100), ("co_2", 50)):
            s.add(LedgerEntry(entry_id=f"le_{cid}", account_id="acc_0004", asset="diamond", amount=-d,
                              kind="cashout", ref=cid, at=at, actor="system"))
        s.get(Account, "acc_0004").diamond_balance = 50
    return tui_engine
