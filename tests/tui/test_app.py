"""The app as an agent uses it: search, open, read, back out; help, palette, errors, confirmation."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from textual import events
from textual.pilot import Pilot
from textual.widgets import Markdown, Static, TabbedContent

from supportdesk.desk.accounts import LedgerCheck
from supportdesk.errors import NotFound
from supportdesk.tui.app import SupportDeskApp
from supportdesk.tui.screens.account import AccountScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.error import ErrorScreen
from supportdesk.tui.screens.help import HelpScreen
from supportdesk.tui.screens.search import SearchInput, SearchScreen
from supportdesk.tui.widgets.keyed_table import KeyedTable
from tests.tui.conftest import dataset

SIZE = (80, 24)


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and their messages land (no fixed sleeps)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_by_typing(pilot: Pilot[None], text: str) -> None:
    """Paste `text` into the search box (as agents paste ids) and press Enter."""
    box = pilot.app.screen.query_one(SearchInput)
    box.post_message(events.Paste(text))
    await pilot.pause()
    assert box.value == text
    await pilot.press("enter")
    await settle(pilot)


def account_on_screen(app: SupportDeskApp) -> str:
    screen = app.screen
    assert isinstance(screen, AccountScreen), f"expected the account screen, got {screen!r}"
    assert screen.story is not None
    return screen.story.account.account_id


async def test_search_by_handle_opens_the_account(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.focused, SearchInput)  # focused on start
        await open_by_typing(pilot, "@ana")
        assert account_on_screen(app) == "acc_0002"
        who = app.screen.query_one("#who", Static)
        assert "@ana" in str(who.render())


async def test_exact_handle_wins_over_prefix_matches(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "@user1")  # also a prefix of @user10, @user11
        assert account_on_screen(app) == "acc_0001"


async def test_search_by_store_transaction_id_opens_the_account(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "ch_abc123")
        assert account_on_screen(app) == "acc_0000"
        purchases = app.screen.query_one("#purchases-table", KeyedTable)
        assert purchases.focused_key == "pur_0001"
        assert "0.99 USD" in [str(c) for c in purchases.get_row("pur_0001")]


async def test_results_update_as_the_agent_types_then_enter_on_a_row(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"@user")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        while screen.results_for != "@user":  # the debounced search lands without Enter
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
        table = screen.query_one("#results", KeyedTable)
        assert table.row_count == sum(a["handle"].startswith("@user") for a in dataset()["accounts"])
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        assert account_on_screen(app) == table.coordinate_to_cell_key((1, 0)).row_key.value


async def test_escape_returns_to_search(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "@ana")
        assert isinstance(app.screen, AccountScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("slash")
        assert isinstance(app.focused, SearchInput)


async def test_help_opens_on_question_mark_and_escape_closes(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")  # even while the search box has focus
        assert isinstance(app.screen, HelpScreen)
        assert "command palette" in app.screen.query_one(Markdown).source
        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)
        assert app.query_one(SearchInput).value == ""  # '?' was not typed into the search


async def test_palette_finds_and_opens_an_account(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"@ana")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert account_on_screen(app) == "acc_0002"


async def test_invalid_query_shows_the_error_inline(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "two words")
        assert isinstance(app.screen, SearchScreen)  # no modal, no account
        status = app.screen.query_one("#status", Static)
        assert "cannot be a handle" in str(status.render())
        assert status.has_class("-error")


async def test_failed_load_shows_the_error_modal(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_gone")
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert app.screen.text.startswith("no account matches 'acc_gone' (searched as account id")
        await pilot.press("escape")
        assert isinstance(app.screen, AccountScreen)
        assert "Could not load" in str(app.screen.query_one("#who", Static).render())


async def test_unexpected_exception_shows_type_and_message(make_app) -> None:
    app = make_app()

    def broken(query: str, **_: object) -> dict[str, object]:
        raise KeyError("balances")

    app.backend.story = broken  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        app.open_account("acc_0000")
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert app.screen.text == "KeyError: 'balances'"
        assert app.is_running


async def test_copy_puts_the_focused_row_id_on_the_clipboard(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "@user0")
        await pilot.press("c")
        assert app.clipboard == "pur_0001"
        await pilot.press("5", "c")  # tickets tab
        assert app.clipboard == "T-1001"


async def test_keymap_from_settings_remaps_a_binding(make_app) -> None:
    app = make_app(keys={"back": "backspace"})
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "@ana")
        await pilot.press("escape")
        assert isinstance(app.screen, AccountScreen)  # escape no longer goes back
        await pilot.press("backspace")
        assert isinstance(app.screen, SearchScreen)


async def test_initial_query_opens_the_account(make_app) -> None:
    app = make_app(initial_query="T-1001")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert account_on_screen(app) == "acc_0000"


async def test_confirm_returns_true_on_y_and_false_on_n_or_escape(make_app) -> None:
    app = make_app()
    answers: list[bool | None] = []
    question = "Credit 700 coins to @ana (purchase pur_123), reason missing coins, ticket T-9?"
    async with app.run_test(size=SIZE) as pilot:
        for key in ("y", "n", "escape"):
            app.push_screen(ConfirmScreen(question), answers.append)
            await pilot.pause()
            assert question in str(app.screen.query_one("#text", Static).render())
            await pilot.press(key)
            await pilot.pause()
    assert answers == [True, False, False]


def test_not_found_message_is_the_services() -> None:
    assert ErrorScreen.from_exception(NotFound("no account")).text == "no account"


async def test_palette_search_accounts_command_goes_back_to_the_search_box(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "@ana")
        await pilot.press("ctrl+p", *"Search accounts")
        await settle(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        assert isinstance(app.focused, SearchInput)


async def test_q_quits_but_not_while_typing(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        assert app.query_one(SearchInput).value == "q"
        assert app.is_running
        await pilot.press("tab", "q")
        assert not app.is_running


def test_importing_the_app_loads_no_database_code() -> None:
    code = ("import sys, supportdesk.tui.app; "
            "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'babel', 'supportdesk.services.lookup') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


async def test_truncated_ledger_says_how_much_is_shown(make_app) -> None:
    app = make_app()
    real_check = app.backend.ledger_check

    def long_ledger(account_id: str) -> LedgerCheck:
        # as if 1,234 entries and the service sent the newest few
        return dataclasses.replace(real_check(account_id), ledger_total=1234)

    app.backend.ledger_check = long_ledger  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await open_by_typing(pilot, "@cleo")
        await pilot.press("2")
        tabs = app.screen.query_one(TabbedContent)
        assert tabs.active == "ledger"
        assert str(tabs.get_tab("ledger").label) == "Ledger 4 of 1,234"
        note = app.screen.query_one("#ledger-note", Static)
        assert note.display and "Newest 4 of 1,234" in str(note.render())
        who = str(app.screen.query_one("#balances", Static).render())
        assert "drift +10" in who and "debt 330" in who  # the debt is the ledger's (-330), not the cache's
