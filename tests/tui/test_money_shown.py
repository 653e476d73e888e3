"""Every amount on every screen goes through one money formatter (ISO 4217 exponent): a 4.99 USD purchase reads
4.99 USD, a 160 JPY one 160 JPY, a 1,200 KRW one 1,200 KRW, on the search results, the account, the review
queue, the refund panel, the audit trail, a ticket, the region prices and the reconcile findings; never 499 USD."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from textual.pilot import Pilot
from textual.widgets import Tree

from supportdesk.db.engine import make_engine, write_session
from supportdesk.db.schema import ensure_schema
from supportdesk.services import audit, review
from supportdesk.services.importer import run_import
from supportdesk.tui.app import SupportDeskApp
from supportdesk.tui.screens.reconcile import ReconcileScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.service.factories import write_dataset
from tests.tui.conftest import app_factory, dataset
from tests.tui.rendered import contents, shown_now
from tests.tui.test_app import SIZE

WRONG = ("499 USD", "1.60 JPY", "12.00 KRW", "149 USD", "USD 4", "USD 0")
NOW = datetime(2026, 10, 3, tzinfo=UTC)


def buy(pid: str, store: str, txn: str, product: str, coins: int, price: int, currency: str, country: str,
        at: str) -> dict[str, Any]:
    return {"purchase_id": pid, "account_id": "acc_0005", "store": store, "store_transaction_id": txn,
            "product_id": product, "coins": coins, "price_minor": price, "currency": currency, "country": country,
            "purchased_at": at, "status": "completed"}


def money_dataset() -> dict[str, list[dict[str, Any]]]:
    """@buyer (acc_0005): two 4.99 USD web charges 30 s apart (a duplicate_charge flag), one 160 JPY on Apple and
    one 1,200 KRW on Google Play (storefront mismatches: the account is in the US)."""
    data = dataset()
    data["accounts"][5]["handle"] = "@buyer"
    for country, currency, store, price in (("JP", "JPY", "apple", 160), ("KR", "KRW", "google", 1200)):
        data["regions"].append({"country": country, "currency": currency, "coin_purchase": True, "gifting": True,
                                "cashout": True, "min_age": 18, "stores": [store],
                                "valid_from": "2024-01-01T00:00:00Z"})
        data["price_points"].append({"country": country, "store": store, "product_id": "coins_70", "coins": 70,
                                     "price_minor": price, "currency": currency,
                                     "valid_from": "2024-01-01T00:00:00Z", "valid_to": None})
    data["purchases"] += [
        buy("pur_m1", "web", "ch_m1", "coins_350", 350, 499, "USD", "US", "2026-09-30T10:00:00Z"),
        buy("pur_m2", "web", "ch_m2", "coins_350", 350, 499, "USD", "US", "2026-09-30T10:00:30Z"),
        buy("pur_m3", "apple", "2000000999", "coins_70", 70, 160, "JPY", "JP", "2026-09-29T10:00:00Z"),
        buy("pur_m4", "google", "GPA.9999-0000-0000-00001", "coins_70", 70, 1200, "KRW", "KR",
            "2026-09-28T10:00:00Z"),
    ]
    data["ledger"] += [{"entry_id": f"le_m{i}", "account_id": "acc_0005", "asset": "coin", "amount": coins,
                        "kind": "purchase", "ref": f"pur_m{i}", "at": "2026-09-30T11:00:00Z", "actor": "system"}
                       for i, coins in ((1, 350), (2, 350), (3, 70), (4, 70))]
    data["accounts"][5]["coin_balance"] = 840
    data["tickets"].append({"ticket_id": "T-3001", "account_id": "acc_0005", "subject": "charged twice",
                            "body": "", "category": "other", "status": "open", "created_at": "2026-09-30T12:00:00Z"})
    return data


@pytest.fixture
def money_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'money.db'}")
    ensure_schema(engine)
    run_import(engine, write_dataset(tmp_path / "ds", money_dataset()))
    with write_session(engine) as s:  # what a refund request under T-3001 records
        ctx = audit.ActionContext(actor="tester", reason="charged twice", ticket_id="T-3001")
        for pid, minor, currency in (("pur_m1", 499, "USD"), ("pur_m3", 160, "JPY")):
            audit.append(s, ctx, action="refund.request", target=f"rf_{pid}", account_id="acc_0005",
                         after={"purchase_id": pid, "amount_minor": minor, "currency": currency, "coins": 70})
    review.rebuild(engine)  # the queue as stored: the screen opens it without running the rules
    yield engine
    engine.dispose()


async def seen(pilot: Pilot[None]) -> str:
    """The screen as the terminal shows it at 80x24, and every cell and line it holds (also scrolled out)."""
    return await shown_now(pilot) + "\n" + contents(pilot.app)


def assert_right(text: str, *right: str) -> None:
    for amount in right:
        assert amount in text, f"{amount!r} not shown"
    for wrong in WRONG:
        assert wrong not in text, f"{wrong!r} shown"


async def rows_seen(pilot: Pilot[None], table: KeyedTable) -> str:
    """Each row highlighted in turn (its detail pane shows), all of it seen."""
    out = []
    for row in range(table.row_count):
        table.move_cursor(row=row)
        out.append(await seen(pilot))
    return "\n".join(out)


async def test_every_screen_shows_amounts_in_major_units(money_engine) -> None:
    from supportdesk.tui.screens.refund import open_refund

    app: SupportDeskApp = app_factory(money_engine)(initial_query="@buyer")
    app.backend.refund_now = lambda: NOW  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        assert_right(await seen(pilot), "@buyer")  # the search opened the one match: the account
        assert_right(contents(app), "4.99 USD", "160 JPY", "1,200 KRW")

        table = app.screen.query_one("#purchases-table", KeyedTable)
        table.move_cursor(row=table.get_row_index("pur_m1"))
        open_refund(app.screen)  # type: ignore[arg-type]
        assert_right(await seen(pilot), "4.99 USD")
        app.pop_screen()

        app.open_review()
        await shown_now(pilot)
        assert_right(await rows_seen(pilot, app.screen.query_one(KeyedTable)), "4.99 USD", "160 JPY", "1,200 KRW")
        app.pop_screen()

        app.open_audit(account_id="acc_0005")
        assert_right(await seen(pilot), "amount 4.99 USD", "amount 160 JPY")
        changes = [str(c) for c in app.screen.query_one(KeyedTable).get_column_at(5)]
        assert not any("_minor" in c for c in changes), changes  # the raw record stays in the detail pane only
        app.pop_screen()

        app.open_ticket("T-3001")
        assert_right(await seen(pilot), "amount 4.99 USD", "amount 160 JPY")
        app.pop_screen()

        for country, price in (("US", "0.99 USD"), ("JP", "160 JPY"), ("KR", "1,200 KRW")):
            app.open_region(country)
            assert_right(await seen(pilot), price)
            app.pop_screen()


async def test_reconcile_findings_show_amounts_in_major_units(make_reconcile_app) -> None:
    """@user6 was charged 1.49 USD for a 0.99 USD bundle; @user4's 160 JPY Apple purchase was refunded."""
    app = make_reconcile_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_reconcile()
        screen = app.screen
        assert isinstance(screen, ReconcileScreen)
        await asyncio.wait_for(screen.run_done.wait(), timeout=30)
        tree = screen.query_one("#rc-tree", Tree)
        out = []
        for line in range(tree.last_line + 1):
            tree.cursor_line = line
            out.append(await seen(pilot))
        assert_right("\n".join(out), "1.49 USD", "0.99 USD", "160 JPY")


def test_the_change_column_and_the_velocity_headline_format_money() -> None:
    from supportdesk.domain.review import headline
    from supportdesk.tui.format import change_text

    assert change_text(None, {"purchase_id": "pur_m1", "amount_minor": 499, "currency": "USD"}) == \
        "purchase_id pur_m1, amount 4.99 USD"
    assert change_text({"amount_minor": 1200, "currency": "KRW"}, {"amount_minor": 600, "currency": "KRW"}) == \
        "amount 1,200 KRW → 600 KRW"
    assert change_text({"status": "open"}, {"status": "solved"}) == "status open → solved"
    flag = {"rule": "velocity", "evidence": {"count": 6, "usd_minor": 123456, "window_hours": 24}}
    assert headline(flag) == "6 purchases, 1,234.56 USD within 24 h"
