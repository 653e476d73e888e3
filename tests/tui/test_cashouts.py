"""Cashouts on the account screen: h hold, l release, x reject, each with a reason, the service's confirmation and a
worker; a refused release writes nothing. At 160x45 the summary, flags and cashouts sit beside the history."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from supportdesk.cli.context import AppContext
from supportdesk.config import Settings
from supportdesk.db.engine import read_session
from supportdesk.db.models import Cashout
from supportdesk.services import lookup
from supportdesk.tui.app import SupportDeskApp
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.error import ErrorScreen
from supportdesk.tui.screens.reason import ReasonScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.service.test_cashouts import rows
from tests.tui.conftest import QuietApp
from tests.tui.test_goodwill import focused_on, paste
from tests.tui.test_refund import SIZE, settle

WIDE = (160, 45)


def factory(engine: Engine, role: str = "agent") -> Callable[[], SupportDeskApp]:
    def make() -> SupportDeskApp:
        state = AppContext(_settings=Settings(database_url=str(engine.url), actor="tester", role=role))
        state.engine = engine  # type: ignore[misc]
        app = QuietApp(state)
        app.animation_level = "none"
        return app

    return make


async def open_cashouts(pilot, row: int = 0) -> AccountScreen:
    pilot.app.open_account("acc_0004")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, AccountScreen)
    await pilot.press("4")
    for _ in range(row):
        await pilot.press("down")
    return screen


async def ask(pilot, key: str, reason: str) -> None:
    await pilot.press(key)
    await focused_on(pilot, "reason")
    assert isinstance(pilot.app.screen, ReasonScreen)
    await paste(pilot, reason)
    await pilot.press("enter")
    await settle(pilot)


def cashout(engine: Engine, cid: str) -> Cashout:
    with read_session(engine) as s:
        return s.get(Cashout, cid)


async def test_hold_confirms_what_moves_and_who_acts(creator_engine) -> None:
    app = factory(creator_engine)()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cashouts(pilot)
        assert screen.query_one("#cashouts-table", KeyedTable).row_count == 2
        await ask(pilot, "h", "creator disputes gifts")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.text == ("Hold cashout co_1 of @dan (acc_0004): 0.50 USD for 100 diamonds is not paid "
                                   "until released. By tester (agent), reason 'creator disputes gifts', no ticket?")
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        assert "co_1 of @dan: requested -> held" in list(app._notifications)[-1].message
        assert screen.query_one("#cashouts-table", KeyedTable).focused_key == "co_1"  # the cursor stayed
    held = cashout(creator_engine, "co_1")
    assert (held.status, held.status_reason, held.status_by) == ("held", "creator disputes gifts", "tester")


async def test_agent_release_of_a_review_hold_is_refused_and_writes_nothing(creator_engine) -> None:
    before = rows(creator_engine)
    app = factory(creator_engine)()
    async with app.run_test(size=SIZE) as pilot:
        await open_cashouts(pilot, row=1)
        await ask(pilot, "l", "creator asked")
        assert isinstance(app.screen, ErrorScreen)
        assert "needs the lead role" in app.screen.text
    assert rows(creator_engine) == before and cashout(creator_engine, "co_2").status == "held"


async def test_lead_releases_a_review_hold_and_n_goes_back_to_the_reason(creator_engine) -> None:
    app = factory(creator_engine, role="lead")()
    async with app.run_test(size=SIZE) as pilot:
        await open_cashouts(pilot, row=1)
        await ask(pilot, "l", "gifts were genuine")
        assert "lifts the hold of review flag gift_laundering:pur_0002. By tester (lead)" in app.screen.text
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)  # as typed: Enter asks again
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
    released = cashout(creator_engine, "co_2")
    assert (released.status, released.hold_flag_id, released.status_by) == ("requested", None, "tester")


async def test_reject_gives_the_diamonds_back(creator_engine) -> None:
    app = factory(creator_engine)()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cashouts(pilot)
        await ask(pilot, "x", "account closed")
        assert "0.50 USD is never paid; 100 diamonds go back to @dan's balance" in app.screen.text
        await pilot.press("y")
        await settle(pilot)
        assert screen.story.balances.diamond.ledger == 150
    assert cashout(creator_engine, "co_1").status == "rejected"


async def test_cashout_keys_need_a_cashout_in_view(creator_engine) -> None:
    app = factory(creator_engine)()
    async with app.run_test(size=SIZE) as pilot:
        pilot.app.open_account("acc_0004")
        await settle(pilot)
        await pilot.press("h")  # on the Purchases tab: hidden, nothing opens
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen)


async def test_only_the_visible_tab_fills_and_m_loads_more(creator_engine, monkeypatch) -> None:
    monkeypatch.setattr(lookup, "LEDGER_PAGE", 2)
    app = factory(creator_engine)()
    async with app.run_test(size=SIZE) as pilot:
        pilot.app.open_account("acc_0003")  # @cleo: 4 entries
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#purchases-table", KeyedTable).row_count == 2
        assert screen.query_one("#ledger-table", KeyedTable).row_count == 0  # not filled until shown
        await pilot.press("2")
        await pilot.pause()
        ledger = screen.query_one("#ledger-table", KeyedTable)
        assert ledger.row_count == 2 and "m loads more" in str(screen.query_one("#ledger-note").render())
        await pilot.press("m")
        await settle(pilot)
        assert [ledger.coordinate_to_cell_key((i, 0))[0].value for i in range(ledger.row_count)] == [
            "le_0006", "le_0004", "le_0003", "le_0002"]
        assert screen.story.ledger_next is None


async def test_wide_terminal_puts_summary_flags_and_cashouts_beside_the_history(creator_engine) -> None:
    app = factory(creator_engine)()
    async with app.run_test(size=WIDE) as pilot:
        pilot.app.open_account("acc_0004")
        await settle(pilot)
        screen = app.screen
        assert screen.has_class("-wide") and screen.query_one("#side").display
        side = screen.query_one("#side-cashouts-table", KeyedTable)
        assert side.row_count == 2
        await pilot.press("4")  # focuses the panel's cashouts, not a tab
        assert screen.focused is side
        await ask(pilot, "h", "checking")
        assert isinstance(app.screen, ConfirmScreen)
