"""The region screen at 80x24: pick a country by name or code, move the as-of date across a suspension, read the
prices and the timeline; open it from a purchase at that purchase's country and time."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Static

from supportdesk.db.engine import make_engine
from supportdesk.db.schema import ensure_schema
from supportdesk.services.importer import run_import
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.region import RegionScreen
from supportdesk.tui.screens.search import SearchScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.service.factories import account, write_dataset
from tests.tui.conftest import dataset
from tests.tui.test_app import SIZE, settle

SUSPENDED = "2026-07-01T00:00:00Z"


@pytest.fixture
def tui_engine(tmp_path: Path) -> Iterator[Engine]:
    """The TUI dataset plus Vietnam: coin sales suspended from 2026-07-01, a promotion, and @minh's purchases
    either side of the suspension."""
    data = dataset()
    base = {"country": "VN", "currency": "VND", "coin_purchase": True, "gifting": True, "cashout": True,
            "min_age": 18, "stores": ["apple", "google"], "valid_from": "2024-01-01T00:00:00Z"}
    data["regions"] += [base, {**base, "coin_purchase": False, "valid_from": SUSPENDED,
                               "note": "Coin sales suspended by local regulation"}]
    price = {"country": "VN", "store": "apple", "product_id": "coins_70", "coins": 70, "price_minor": 25000,
             "currency": "VND", "valid_from": "2024-01-01T00:00:00Z", "valid_to": None}
    data["price_points"] += [price, {**price, "product_id": "coins_700", "coins": 700, "price_minor": 249000},
                             {**price, "product_id": "coins_700", "coins": 700, "price_minor": 249000,
                              "valid_from": "2026-06-20T00:00:00Z", "valid_to": "2026-06-27T00:00:00Z",
                              "bonus_coins": 140}]
    data["accounts"].append(account(20, handle="@minh", country="VN"))
    data["purchases"] += [
        {"purchase_id": f"pur_vn_{n}", "account_id": "acc_0020", "store": "apple", "store_transaction_id": f"vn{n}",
         "product_id": "coins_70", "coins": 70, "price_minor": 25000, "currency": "VND", "country": "VN",
         "purchased_at": at, "status": "completed"}
        for n, at in (("before", "2026-06-30T09:00:00Z"), ("after", "2026-07-02T09:00:00Z"))]
    engine = make_engine(f"sqlite:///{tmp_path / 'tui.db'}")
    ensure_schema(engine)
    run_import(engine, write_dataset(tmp_path / "ds", data))
    yield engine
    engine.dispose()


def region_screen(pilot: Pilot[None]) -> RegionScreen:
    screen = pilot.app.screen
    assert isinstance(screen, RegionScreen), f"expected the region screen, got {screen!r}"
    return screen


def plain(renderable: object) -> str:
    console = Console(width=76, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def summary(screen: RegionScreen) -> str:
    return str(screen.query_one("#summary", Static).render())


async def typed(pilot: Pilot[None], *keys: str) -> None:
    await pilot.press(*keys)
    await pilot.pause(0.3)  # the picker's debounce
    await settle(pilot)


async def test_pick_by_name_then_move_the_date_across_the_suspension(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+g")  # binding id `regions` on the search screen
        await settle(pilot)
        screen = region_screen(pilot)
        assert app.focused is screen.query_one("#country", Input)
        picker = screen.query_one("#countries", OptionList)
        assert picker.get_option_at_index(0).id == "US"  # open at once, countries with region rows first

        await typed(pilot, *"viet nam")
        assert [picker.get_option_at_index(i).id for i in range(picker.option_count)] == ["VN"]
        await pilot.press("enter")
        await settle(pilot)
        assert screen.current is not None and screen.current.country == "VN"
        assert not picker.display  # closed once chosen
        prices = screen.query_one("#prices-table", DataTable)
        assert app.focused is prices and prices.row_count == 2
        assert "25,000 VND" in [str(c) for c in prices.get_row_at(0)]

        await pilot.press("d", *"2026-06-30", "enter")  # d: the as-of box
        await settle(pilot)
        assert "Vietnam (VN) as of 2026-06-30 00:00 UTC: available" in summary(screen)

        await pilot.press("d", *"2026-07-02", "enter")
        await settle(pilot)
        text = summary(screen)
        assert "Vietnam (VN) as of 2026-07-02 00:00 UTC: unavailable" in text
        assert "Coin sales suspended by local regulation" in text
        assert screen.current.allows.to_json() == {"buy_coins": False, "send_gifts": True, "cash_out": True}

        await pilot.press("f", *"JP", "enter")  # f: back to the country box; a code typed goes straight there
        await settle(pilot)
        assert screen.current.country == "JP" and "no region row: unavailable" in summary(screen)


async def test_promotion_and_timeline(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RegionScreen(app.backend, "VNM", "2026-06-21"))
        await settle(pilot)
        screen = region_screen(pilot)
        rows = [[str(c) for c in screen.query_one("#prices-table", DataTable).get_row_at(i)] for i in range(3)]
        assert rows[2][:5] == ["apple", "coins_700", "700", "+140", "249,000 VND"]
        assert rows[2][6] == "2026-06-27"

        await pilot.press("h")
        timeline = screen.query_one("#timeline", OptionList)
        assert app.focused is timeline and timeline.option_count == 2
        newest, oldest = (plain(timeline.get_option_at_index(i).prompt) for i in (0, 1))
        assert "2026-07-01" in newest and "buy coins yes -> no" in newest
        assert "(in force)" in oldest  # as of 2026-06-21, the first row rules
        timeline.highlighted = 0
        await pilot.press("enter")  # the region as it was from the suspension
        await settle(pilot)
        assert screen.query_one("#at", Input).value == SUSPENDED
        assert screen.current is not None and screen.current.available is False


@pytest.mark.parametrize(("country", "message"), [
    ("XX", "'XX' is not an ISO 3166-1 country code"),
    ("Atlantis", "no country called 'Atlantis'"),
])
async def test_bad_country_shows_the_error_inline(make_app, country, message) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RegionScreen(app.backend))
        await settle(pilot)
        screen = region_screen(pilot)
        screen.query_one("#country", Input).value = country
        picker = screen.query_one("#countries", OptionList)
        for _ in range(200):  # until the debounced search lands (it finds none): on a loaded machine, past 0.3 s
            await pilot.pause(0.05)
            await settle(pilot)
            if not picker.option_count:
                break
        await pilot.press("enter")
        await settle(pilot)
        assert message in summary(screen)
        assert screen.query_one("#summary", Static).has_class("-error")
        assert isinstance(app.screen, RegionScreen)  # no modal


async def test_bad_date_shows_the_error_inline(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RegionScreen(app.backend, "VN", "next full moon"))
        await settle(pilot)
        assert "'next full moon' is not a time" in summary(region_screen(pilot))


async def test_from_a_purchase_opens_at_its_country_and_time(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0020")
        await settle(pilot)
        account = app.screen
        assert isinstance(account, AccountScreen)
        table = account.query_one("#purchases-table", KeyedTable)
        marks = {key.value: str(table.get_row(key)[5]) for key in table.rows}
        assert marks == {"pur_vn_after": "✗", "pur_vn_before": "✓"}  # the rgn column
        assert table.focused_key == "pur_vn_after"  # newest first
        await pilot.press("g")
        await settle(pilot)
        screen = region_screen(pilot)
        assert screen.current is not None and screen.current.country == "VN"
        assert screen.query_one("#at", Input).value == "2026-07-02T09:00:00Z"
        assert not screen.query_one("#countries", OptionList).display  # opened at a country: no picker
        text = summary(screen)
        assert "✗ purchase pur_vn_after via apple: buy coins: not allowed in VN since 2026-07-01" in text
        assert text.count("Coin sales suspended by local regulation") == 1  # said once, not twice
        await pilot.press("f", *"US", "enter")
        await settle(pilot)
        assert "United States (US)" in summary(screen) and "pur_vn_after" not in summary(screen)
        await pilot.press("escape")
        assert app.screen is account


async def test_palette_opens_regions(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"Regions")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        region_screen(pilot)
        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)


def test_region_screen(make_app, snap_compare) -> None:
    """Vietnam as of 2026-06-21: allowed, the prices with the week's promotion, the suspension ahead."""
    async def open_it(pilot: Pilot[None]) -> None:
        pilot.app.push_screen(RegionScreen(pilot.app.backend, "VNM", "2026-06-21"))  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=open_it)
