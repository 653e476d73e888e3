"""The review queue as an agent uses it: open it from the search screen, read a flag's evidence, filter by rule,
limit the account with a reason and a confirmation; the decision is in the database, once, audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import delete, select
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from supportdesk.cli.context import AppContext
from supportdesk.config import Settings
from supportdesk.db.engine import make_engine, read_session, write_session
from supportdesk.db.models import Account, AuditRecord, ReviewFlag
from supportdesk.db.schema import ensure_schema
from supportdesk.domain.review import RULES
from supportdesk.services import review
from supportdesk.services.importer import run_import
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import ReasonScreen
from supportdesk.tui.screens.review import ReviewScreen
from supportdesk.tui.screens.rule_picker import RulePicker
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.service.factories import write_dataset
from tests.service.test_review import T0, World, laundering_world
from tests.tui.conftest import QuietApp

SIZE = (80, 24)


def world(kind: str) -> World:
    if kind == "laundering":
        return laundering_world(560)[0]
    w = World()
    w.buy(0, T0, "coins_700")
    w.buy(0, T0 + timedelta(seconds=40), "coins_700")  # duplicate_charge on @user0
    w.accounts[1]["country"] = "KR"
    w.buy(1, T0)  # storefront_mismatch on @user1
    if kind == "three":
        w.accounts[2]["country"] = "KR"
        w.buy(2, T0)  # storefront_mismatch on @user2
    return w


@pytest.fixture(params=["two"], ids=["two_flags"])
def review_app(tmp_path: Path, request: pytest.FixtureRequest):
    w = world(request.param)
    engine = make_engine(f"sqlite:///{tmp_path / 'review.db'}")
    ensure_schema(engine)
    run_import(engine, write_dataset(tmp_path / "ds", w.files()))
    review.rebuild(engine)  # the queue as a schedule or `supportdesk review` left it: opening does not rebuild
    state = AppContext(_settings=Settings(database_url=str(engine.url), actor="tester"))
    state.engine = engine  # type: ignore[misc]
    app = QuietApp(state)
    app.animation_level = "none"
    yield app, engine
    engine.dispose()


async def loaded(pilot: Pilot[None]) -> ReviewScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen), f"expected the review screen, got {screen!r}"
    return screen


async def open_queue(pilot: Pilot[None]) -> ReviewScreen:
    await pilot.press("ctrl+f")
    return await loaded(pilot)


def text(screen: ReviewScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def evidence(screen: ReviewScreen) -> str:
    """The detail pane as plain text (it holds Rich renderables)."""
    from rich.console import Console

    console = Console(width=78, record=True, color_system=None)
    console.print(screen.query_one("#rv-evidence", Static).content)
    return console.export_text()


async def test_limit_a_flag_from_the_queue(review_app):
    app, engine = review_app
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_queue(pilot)
        table = screen.query_one(KeyedTable)
        assert table.row_count == 2
        assert [f["rule"] for f in screen.shown] == ["duplicate_charge", "storefront_mismatch"]  # by score
        assert "charged again 40 s after" in evidence(screen)

        await pilot.press("f", "down", "enter")  # the rule list: every rule, then the rules in order
        assert [f["rule"] for f in screen.shown] == ["duplicate_charge"] and table.row_count == 1
        await pilot.press("s")
        assert "lowest score first" in text(screen, "#rv-status")

        await pilot.press("l")
        assert isinstance(app.screen, ReasonScreen)
        box = app.focused
        assert isinstance(box, Input)
        box.post_message(events.Paste("charged twice, card testing"))
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        assert "limit @user0" in str(app.screen.query_one("#text", Static).render())
        await pilot.press("y")
        screen = await loaded(pilot)
        assert table.row_count == 0  # decided: gone from the open queue

    with read_session(engine) as s:
        assert s.get(Account, "acc_0000").status == "limited"
        flag = s.exec(select(ReviewFlag).where(ReviewFlag.rule == "duplicate_charge")).one()
        assert (flag.status, flag.decided_by, flag.reason) == ("limited", "tester", "charged twice, card testing")
        actions = [r.action for r in s.exec(select(AuditRecord).where(AuditRecord.action != "import.ledger").order_by(AuditRecord.seq)).all()]
    assert actions == ["account.status", "review.limit"]


async def test_palette_and_escape(review_app):
    app, _ = review_app
    async with app.run_test(size=SIZE) as pilot:
        await open_queue(pilot)
        await pilot.press("d")  # dismiss asks for a reason; Esc cancels with nothing written
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ReviewScreen)


async def test_opening_does_not_rebuild_and_r_does(review_app):
    app, engine = review_app
    with write_session(engine) as s:  # a flag the rules no longer raise, and none of those they do
        s.execute(delete(ReviewFlag))
        s.add(ReviewFlag(flag_id="flg_stale", rule="velocity", account_id="acc_0002", score=10, evidence={
            "count": 6, "usd_minor": 600, "window_hours": 24, "purchases": []}, created_at=T0))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_queue(pilot)
        assert [f["flag_id"] for f in screen.shown] == ["flg_stale"]  # as stored: the rules did not run
        assert "1 open flag " in text(screen, "#rv-status")
        await pilot.press("r")
        await loaded(pilot)
        assert [f["rule"] for f in screen.shown] == ["duplicate_charge", "storefront_mismatch"]
        assert "1 cleared" in text(screen, "#rv-status")
    with read_session(engine) as s:
        assert s.get(ReviewFlag, "flg_stale").status == "cleared"


three_flags = pytest.mark.parametrize("review_app", ["three"], ids=["three_flags"], indirect=True)


async def decide(pilot: Pilot[None], key: str, reason: str) -> None:
    await pilot.press(key)
    box = pilot.app.focused
    assert isinstance(box, Input)
    box.post_message(events.Paste(reason))
    await pilot.pause()
    await pilot.press("enter", "y")
    await loaded(pilot)


@three_flags
async def test_rule_picked_from_a_list_with_counts(review_app):
    app, _ = review_app
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_queue(pilot)
        await pilot.press("f")
        picker = app.screen
        assert isinstance(picker, RulePicker)
        options = picker.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert len(labels) == 1 + len(RULES)
        assert labels[0].split() == ["every", "rule", "3"]
        assert labels[RULES.index("storefront_mismatch") + 1].split() == ["storefront_mismatch", "2"]
        await pilot.press(*["down"] * (RULES.index("storefront_mismatch") + 1), "enter")
        assert app.screen is screen
        assert [f["rule"] for f in screen.shown] == ["storefront_mismatch"] * 2
        await pilot.press("f", "escape")  # Esc keeps the filter
        assert screen.rule == "storefront_mismatch"
        await pilot.press("f", "home", "enter")  # every rule again
        assert screen.rule is None and screen.query_one(KeyedTable).row_count == 3


@three_flags
async def test_cursor_stays_on_the_row_after_a_decision(review_app):
    app, _ = review_app
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_queue(pilot)
        table = screen.query_one(KeyedTable)
        keys = [f["flag_id"] for f in screen.shown]
        await pilot.press("down")
        assert table.cursor_row == 1
        await decide(pilot, "d", "same person, two devices")
        assert table.row_count == 2 and table.cursor_row == 1  # not back to the top: the next flag
        assert table.focused_key == keys[2]
        await decide(pilot, "d", "same person, two devices")
        assert table.row_count == 1 and table.focused_key == keys[0]  # the last row gone: the one above


async def test_o_opens_the_highlighted_account(review_app):
    app, _ = review_app
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_queue(pilot)
        await pilot.press("down", "o")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen)
        assert app.screen.account_id == screen.shown[1]["account_id"] == "acc_0001"
        await pilot.press("escape")
        assert app.screen is screen  # Esc comes back to the queue


async def test_decided_flags_shown_with_status_and_who(review_app):
    app, _ = review_app
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_queue(pilot)
        table = screen.query_one(KeyedTable)
        await decide(pilot, "d", "known customer")
        assert table.row_count == 1
        await pilot.press("D")
        screen = await loaded(pilot)
        assert table.row_count == 2 and "2 flags" in text(screen, "#rv-status")
        decided = next(f for f in screen.shown if f["status"] == "dismissed")
        row = [str(c) for c in table.get_row(decided["flag_id"])]
        assert row[2] == "@user0" and row[3].startswith("dismissed by tester · ")
        table.move_cursor(row=screen.shown.index(decided))
        await pilot.pause()
        assert "dismissed by tester" in evidence(screen) and "known customer" in evidence(screen)
        assert "@user0" in evidence(screen)
        await pilot.press("D")
        await loaded(pilot)
        assert table.row_count == 1


@pytest.mark.parametrize("review_app", ["laundering"], ids=["laundering"], indirect=True)
async def test_creator_shown_by_handle(review_app):
    app, _ = review_app
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_queue(pilot)
        assert [f["rule"] for f in screen.shown] == ["gift_laundering"]
        pane = evidence(screen)
        assert "gifted to @user1," in pane and "coins -> @user1" in pane and "acc_0001" not in pane


@three_flags
def test_rule_list_snapshot(review_app, snap_compare) -> None:
    """The queue at 80x24 with the rule list open over it: every rule and its count of open flags."""
    app, _ = review_app

    async def pick(pilot: Pilot[None]) -> None:
        await open_queue(pilot)
        await pilot.press("f", "down")

    assert snap_compare(app, terminal_size=SIZE, run_before=pick)
