"""Handles in any case, in the search box and the palette, as agents type them."""

from __future__ import annotations

from supportdesk.tui.screens.search import SearchScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.tui.test_app import SIZE, account_on_screen, open_by_typing, settle


async def test_search_box_finds_a_handle_typed_in_capitals(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "@ANA")
        assert account_on_screen(app) == "acc_0002"


async def test_results_list_handles_in_any_case(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"USER1")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        while screen.results_for != "USER1":
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
        keys = [str(k.value) for k in screen.query_one("#results", KeyedTable).rows]
        assert "acc_0001" in keys


async def test_palette_finds_a_handle_typed_in_capitals(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"@AN")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert account_on_screen(app) == "acc_0002"
