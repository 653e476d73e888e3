"""The home panel under the empty search box: my open tickets (deadlines first), flags by rule, stale stores;
Enter opens each, typing searches at once, Ctrl+O comes back from anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual.pilot import Pilot

from supportdesk.db.engine import write_session
from supportdesk.db.models import ConsumptionRequest, ReviewFlag, SyncCursor
from supportdesk.tui.screens.home import HomePanel
from supportdesk.tui.screens.review import ReviewScreen
from supportdesk.tui.screens.search import SearchInput, SearchScreen
from supportdesk.tui.screens.tickets import TicketScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.tui.test_app import SIZE, settle

NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)
EVIDENCE = {"velocity": {"count": 6, "usd_minor": 30000, "window_hours": 24},
            "underage": {"age": 16, "country": "US", "min_age": 18}}


@pytest.fixture
def home_app(make_app, tui_engine):
    """T-1002 (@cleo) waits on Apple's consumption request (due in 9 hours); two velocity flags and one underage;
    the web store synced an hour ago, Google failed, Apple never ran."""
    with write_session(tui_engine) as s:
        s.add_all([
            ConsumptionRequest(store_transaction_id="2000000123456789", ticket_id="T-1002", account_id="acc_0003",
                               requested_at=NOW - timedelta(hours=3), answer_due_at=NOW + timedelta(hours=9)),
            *(ReviewFlag(flag_id=f"fl_{i}", rule=rule, account_id="acc_0003", score=50 + i, evidence=EVIDENCE[rule],
                         created_at=NOW) for i, rule in enumerate(["velocity", "velocity", "underage"])),
            SyncCursor(store="web", scope="all", synced_until=NOW, last_run_at=NOW - timedelta(hours=1),
                       status="ok"),
            SyncCursor(store="google", scope="all", last_run_at=NOW - timedelta(hours=2), status="failed",
                       error="quota exceeded"),
        ])
    app = make_app(stores={"apple": {"environment": "Sandbox"}, "web": {"secret_key": "sk_test"}})
    app.backend.desk.clock = NOW  # the stores' clock, read once per desk
    return app


async def loaded(pilot: Pilot[None]) -> HomePanel:
    panel = pilot.app.screen.home_panel  # mounted after the first paint (Lazy): not queried before it is
    for _ in range(10):  # the worker's message, then the tables' next frame (a loaded machine needs more turns)
        await settle(pilot)
        if panel.is_mounted and panel.home is not None:
            break
    await pilot.pause()
    assert panel.home is not None and panel.display
    return panel


def rows(panel: HomePanel, table: str) -> list[str]:
    t = panel.query_one(table, KeyedTable)
    return [t.coordinate_to_cell_key((i, 0)).row_key.value for i in range(t.row_count)]


async def test_home_is_the_first_screen_and_enter_opens_a_ticket(home_app) -> None:
    async with home_app.run_test(size=SIZE) as pilot:
        panel = await loaded(pilot)
        assert isinstance(home_app.focused, SearchInput)  # typing searches at once
        assert rows(panel, "#home-tickets") == ["T-1002", "T-1001"]  # the store deadline first
        assert "due in 9h 00m" in str(panel.query_one("#home-tickets", KeyedTable).get_row_at(0))
        assert rows(panel, "#home-flags") == ["underage", "velocity"]
        assert rows(panel, "#home-stores") == ["apple", "web", "google"]
        assert "stale: apple, google" in str(panel.query_one("#home-reconcile").render())
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(home_app.screen, TicketScreen) and home_app.screen.ticket_id == "T-1002"
        await pilot.press("ctrl+o")  # home from anywhere
        await settle(pilot)
        assert isinstance(home_app.screen, SearchScreen) and isinstance(home_app.focused, SearchInput)
        assert panel.display


async def test_enter_on_a_rule_opens_the_queue_of_that_rule(home_app) -> None:
    async with home_app.run_test(size=SIZE) as pilot:
        panel = await loaded(pilot)
        panel.query_one("#home-flags", KeyedTable).focus()
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(home_app.screen, ReviewScreen) and home_app.screen.rule == "velocity"


async def test_typing_searches_and_an_empty_box_brings_home_back(home_app) -> None:
    async with home_app.run_test(size=SIZE) as pilot:
        panel = await loaded(pilot)
        await pilot.press("@", "u", "s", "e")
        assert not panel.display  # at the first key
        await pilot.press("enter")  # searches now: several match, so the list takes the cursor
        await settle(pilot)
        results = home_app.query_one("#results", KeyedTable)
        assert results.display and results.row_count > 1 and home_app.focused is results
        await pilot.press("slash", "escape")  # back in the box, cleared
        await settle(pilot)
        assert panel.display and not results.display
