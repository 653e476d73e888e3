"""A small SQLite database imported from the service factories, and an app on it at 80x24."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from supportdesk.cli.context import AppContext
from supportdesk.config import Settings
from supportdesk.db.engine import make_engine
from supportdesk.db.schema import ensure_schema
from supportdesk.services.importer import run_import
from supportdesk.tui.app import SupportDeskApp
from tests.service.factories import minimal, write_dataset


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


@pytest.fixture
def make_app(tui_engine: Engine) -> Callable[..., SupportDeskApp]:
    def make(keys: dict[str, str] | None = None, initial_query: str | None = None) -> SupportDeskApp:
        state = AppContext(_settings=Settings(database_url=str(tui_engine.url), actor="tester", keys=keys or {}))
        state.engine = tui_engine  # type: ignore[misc]  # share the test's engine (cached_property slot)
        app = QuietApp(state, initial_query=initial_query)
        app.animation_level = "none"
        return app

    return make
