"""Stored and typed text is data on every screen: markup shows as typed, terminal controls and bidi overrides
show escaped, and none of it crashes a screen or reaches the terminal raw."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from supportdesk.db.engine import make_engine, write_session
from supportdesk.db.models import Account, LedgerEntry, Ticket
from supportdesk.db.schema import ensure_schema
from supportdesk.domain.text import BIDI, shown
from supportdesk.errors import InvalidInput
from supportdesk.services import audit
from supportdesk.services.importer import run_import
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.error import ErrorScreen
from supportdesk.tui.screens.reason import ReasonScreen
from tests.service.factories import write_dataset
from tests.tui.conftest import app_factory, dataset
from tests.tui.rendered import contents, rendered, segments, shown_now
from tests.tui.test_app import SIZE, settle

MARKUP = "[/] [bold red]x[/] @[bold_red]FAKE[/bold_red] [link=https://evil.example]click[/link]"
CONTROLS = "\x1b[2J \x1b]52;c;ZXZpbA==\x07 \x1b]0;pwned\x07 \u202etxt.exe"
HANDLE = "@[bold_red]FAKE[/bold_red]\x1b[2J\u202e"
SUBJECT = f"{MARKUP} {CONTROLS}"
REASON = "[/] refund [bold red]now[/] \x1b]52;c;ZXZpbA==\x07 \u202edone"
ACTOR = "[/]agent\x1b[2J"


@pytest.fixture
def hostile_engine(tmp_path: Path) -> Iterator[Engine]:
    """@cleo's handle, ticket, a ledger reason and actor, and an audit record hold markup and terminal controls
    (written after the import, as any path into the database might)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'hostile.db'}")
    ensure_schema(engine)
    run_import(engine, write_dataset(tmp_path / "ds", dataset()))
    with write_session(engine) as s:
        s.get(Account, "acc_0003").handle = HANDLE  # type: ignore[union-attr]
        s.get(Ticket, "T-1002").subject = SUBJECT  # type: ignore[union-attr]
        s.add(LedgerEntry(entry_id="le_0099", account_id="acc_0003", asset="coin", amount=5, kind="purchase",
                          ref="pur_0003", at=datetime(2026, 9, 30, tzinfo=UTC), actor=ACTOR, reason=REASON))
        audit.append(s, audit.ActionContext(actor=ACTOR, reason=REASON, ticket_id="T-1002"), action="note.add",
                     target="T-1002", account_id="acc_0003", after={"status": f"open {MARKUP}"})
    yield engine
    engine.dispose()


def assert_safe(app) -> None:  # type: ignore[no-untyped-def]
    """Nothing the terminal would act on is in what the driver writes."""
    raw = "".join(segments(app))
    assert not any(c in raw for c in "\x1b\x07"), "a control character reached the terminal"
    assert not any(c in raw for c in BIDI), "a bidi override reached the terminal"


async def test_the_account_opens_and_shows_its_text_as_stored(hostile_engine) -> None:
    app = app_factory(hostile_engine)()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0003")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen) and app.screen.story is not None
        screen = rendered(app)
        assert "@[bold_red]FAKE[/bold_red]\\x1b[2J<U+202E>" in screen  # the who line, as stored
        assert_safe(app)
        for tab in ("5", "2"):  # tickets, ledger
            await pilot.press(tab)
            await pilot.pause()
            assert_safe(app)
        text = contents(app)
        assert shown(SUBJECT) in text and shown(REASON) in text and shown(ACTOR) in text
        assert "[link=https://evil.example]click[/link]" in text


async def test_ticket_and_audit_screens_show_the_text_as_stored(hostile_engine) -> None:
    app = app_factory(hostile_engine)()
    async with app.run_test(size=SIZE) as pilot:
        app.open_tickets()
        await settle(pilot)
        assert shown(SUBJECT) in contents(app)
        assert_safe(app)
        app.open_ticket("T-1002")
        await settle(pilot)
        text = contents(app)
        assert shown(SUBJECT) in text and shown(REASON) in text and shown(HANDLE) in text
        assert "[bold red]x[/]" in rendered(app)
        assert_safe(app)
        app.open_audit(account_id="acc_0003", label=HANDLE)
        await settle(pilot)
        text = contents(app)
        assert shown(ACTOR) in text and shown(REASON) in text and shown(f"open {MARKUP}") in text
        assert shown(HANDLE) in rendered(app)
        assert_safe(app)


async def test_dialogs_and_errors_show_reasons_and_handles_as_typed(hostile_engine) -> None:
    app = app_factory(hostile_engine)()
    async with app.run_test(size=SIZE) as pilot:
        await shown_now(pilot)
        question = f"Refund 4.99 USD to {HANDLE}, reason {REASON!r}?"
        app.push_screen(ConfirmScreen(question, title=HANDLE))
        screen = await shown_now(pilot)
        assert "reason '[/] refund [bold red]now[/] \\x1b]52;c;ZXZpbA==\\x07" in screen  # wraps after it
        assert "Refund 4.99 USD to @[bold_red]FAKE[/bold_red]\\x1b[2J<U+202E>," in screen
        assert_safe(app)
        await pilot.press("n")
        app.push_screen(ReasonScreen(f"Fix {MARKUP}", SUBJECT))
        screen = await shown_now(pilot)
        assert "Fix [/] [bold red]x[/]" in screen and "[link=https://evil.example]click[/link]" in screen
        assert_safe(app)
        await pilot.press("escape")
        app.push_screen(ErrorScreen.from_exception(InvalidInput(f"no account matches {HANDLE}")))
        assert "no account matches @[bold_red]FAKE[/bold_red]\\x1b[2J<U+202E>" in await shown_now(pilot)
        assert_safe(app)


@pytest.mark.parametrize("query", ["[/]", "@[bold red]x[/]", "\x1b[2J", "@\u202ecleo", "acc_[/]", "T-[/]"])
async def test_a_typed_query_with_markup_or_controls_is_answered_not_crashed(make_app, query) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("/")
        app.screen.query_one("#query").value = query
        await pilot.press("enter")
        await settle(pilot)
        status = str(app.screen.query_one("#status").render())
        assert (repr(query) in status) if query.isprintable() else ("control characters" in status)
        assert_safe(app)


async def test_the_palette_shows_a_handle_as_stored(hostile_engine) -> None:
    app = app_factory(hostile_engine)()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0003")
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "Recon":
            await pilot.press(ch)
        await settle(pilot)
        await pilot.pause(0.2)
        assert "@[bold_red]FAKE[/bold_red]" in rendered(app)
        assert_safe(app)


async def test_a_pasted_reason_with_controls_shows_them_and_keeps_them(hostile_engine) -> None:
    from textual import events
    from textual.widgets import Input

    app = app_factory(hostile_engine)()
    answers: list[object] = []
    async with app.run_test(size=SIZE) as pilot:
        await shown_now(pilot)
        app.push_screen(ReasonScreen("Refund", "pur_0002"), answers.append)
        await shown_now(pilot)
        box = app.screen.query_one("#reason", Input)
        box.post_message(events.Paste("spent [b]x[/b] \x1b[2J\u202e"))
        assert "spent [b]x[/b] ␛[2J�" in await shown_now(pilot)
        assert_safe(app)
        await pilot.press("enter")
        await pilot.pause()
    assert answers == [("spent [b]x[/b] \x1b[2J\u202e", None)]  # what was typed, as typed: the audit keeps it
