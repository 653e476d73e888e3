"""The review queue as an agent uses it: open it from the search screen, read a flag's evidence, filter by rule,
limit the account with a reason and a confirmation; the decision is in the database, once, audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static

from supportdesk.cli.context import AppContext
from supportdesk.config import Settings
from supportdesk.db.engine import make_engine, read_session
from supportdesk.db.models import Account, AuditRecord, ReviewFlag
from supportdesk.db.schema import ensure_schema
from supportdesk.services.importer import run_import
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import ReasonScreen
from supportdesk.tui.screens.review import ReviewScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.service.factories import write_dataset
from tests.service.test_review import T0, World
from tests.tui.conftest import QuietApp

SIZE = (80, 24)


@pytest.fixture
def review_app(tmp_path: Path):
    w = World()
    w.buy(0, T0, "coins_700")
    w.buy(0, T0 + timedelta(seconds=40), "coins_700")  # duplicate_charge on @user0
    w.accounts[1]["country"] = "KR"
    w.buy(1, T0)  # storefront_mismatch on @user1
    engine = make_engine(f"sqlite:///{tmp_path / 'review.db'}")
    ensure_schema(engine)
    run_import(engine, write_dataset(tmp_path / "ds", w.files()))
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
        await pilot.press("ctrl+f")
        screen = await loaded(pilot)
        table = screen.query_one(KeyedTable)
        assert table.row_count == 2
        assert [f["rule"] for f in screen.shown] == ["duplicate_charge", "storefront_mismatch"]  # by score
        assert "charged again 40 s after" in evidence(screen)

        await pilot.press("f")  # filter: the first rule in the cycle
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
        await pilot.press("ctrl+f")
        await loaded(pilot)
        await pilot.press("d")  # dismiss asks for a reason; Esc cancels with nothing written
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ReviewScreen)
