"""The Textual app: search accounts, read an account's money story. Calls services in workers, via Backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Input

from supportdesk.tui.backend import Backend
from supportdesk.tui.commands import AccountsProvider
from supportdesk.tui.format import shown
from supportdesk.tui.screens.help import HelpScreen
from supportdesk.tui.screens.search import SearchInput, SearchScreen
from supportdesk.tui.widgets.ticket_bar import Working

if TYPE_CHECKING:
    from supportdesk.desk.context import AppContext


RECONCILE_ALL = "reconcile_all"  # the installed screen's name


class SupportDeskApp(App[None]):
    TITLE = "supportdesk"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere find it
    COMMANDS = App.COMMANDS | {AccountsProvider}
    BINDINGS = [
        Binding("slash", "search", "Search", show=False, id="search"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("f1", "help", "Help", show=False, id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        # Global: from every screen (no box or list of ours binds these keys; the search screen's footer shows them).
        Binding("ctrl+r", "reconcile_all", "Reconcile all", show=False, id="reconcile_all"),
        Binding("ctrl+g", "regions", "Regions", show=False, id="regions"),
        Binding("ctrl+f", "review_queue", "Review", show=False, id="review_queue"),
        Binding("ctrl+t", "tickets", "Tickets", show=False, id="tickets"),
        # Ctrl+O ("overview"): Ctrl+H arrives as Backspace in most terminals, Ctrl+B is tmux's prefix.
        Binding("ctrl+o", "home", "Home", show=False, id="home"),
    ]
    GLOBAL_ACTIONS = ("search", "help", "quit", "reconcile_all", "regions", "review_queue", "tickets", "home")
    CURSOR_BLINK: ClassVar[bool] = True  # tests and snapshots turn it off
    working: reactive[Working | None] = reactive(None)  # the ticket the agent works: every action starts with it

    def __init__(self, state: AppContext, initial_query: str | None = None) -> None:
        super().__init__()
        self.state = state
        self.backend = Backend(state)
        self.initial_query = initial_query
        # A key map entry is `binding id = "keys"`; anything else in [keys] is ignored rather than fatal.
        self.keymap = {k: v for k, v in state.settings.keys.items() if isinstance(v, str)}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A dialog (help, error, a confirmation) must be answered or closed before the app moves on.
        if action in self.GLOBAL_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        if action == "search" and isinstance(self.focused, Input) and not isinstance(self.focused, SearchInput):
            return False  # typing in another box (a reason, a country): '/' is typed into it
        return True

    def get_default_screen(self) -> SearchScreen:
        return SearchScreen(self.backend, self.initial_query, cursor_blink=self.CURSOR_BLINK)

    def on_mount(self) -> None:
        self.sub_title = self.acting_as
        if self.keymap:
            self.set_keymap(self.keymap)

    @property
    def acting_as(self) -> str:
        """Who the audit trail will name for the actions taken here, and with which role's limits."""
        me = self.state.identity  # read before the app starts (cli/main.py), so no query on the event loop
        return f"as {me.actor} ({me.role})"

    @property
    def search_screen(self) -> SearchScreen:
        return next(s for s in self.screen_stack if isinstance(s, SearchScreen))

    def open_account(self, account_id: str) -> None:
        """Show an account over the search screen (replacing any account already open)."""
        from supportdesk.tui.screens.account import AccountScreen

        self.back_to_search()
        self.push_screen(AccountScreen(self.backend, account_id))

    def open_reconcile(self, account_id: str | None = None, handle: str | None = None) -> None:
        """Reconcile everything (from the search screen) or one account (over its account screen)."""
        from supportdesk.tui.screens.account import AccountScreen
        from supportdesk.tui.screens.reconcile import ReconcileScreen

        if account_id is None:
            # Kept (installed) once opened: Esc and back again finds the last run's findings, not a new run.
            self.back_to_search()
            if self.is_screen_installed(RECONCILE_ALL):
                last = self.get_screen(RECONCILE_ALL)
                if isinstance(last, ReconcileScreen) and last.finished_at is not None and not last.running:
                    self.notify(f"The findings of {last.finished_at:%H:%M}. r runs again.")
            else:
                self.install_screen(ReconcileScreen(self.backend), RECONCILE_ALL)
            self.push_screen(RECONCILE_ALL)
            return
        screen = ReconcileScreen(self.backend, account_id, handle)
        opener = self.screen if isinstance(self.screen, AccountScreen) else None

        def returned(_: object) -> None:
            if screen.changed and opener is not None and opener.is_attached:
                opener.action_refresh()  # balances moved: show them as they are now

        self.push_screen(screen, returned)

    @property
    def working_ticket(self) -> str | None:
        return self.working.ticket_id if self.working else None

    def work_ticket(self, ticket_id: str, about: str) -> None:
        """Remember the ticket: reasons asked from now on start with it (shown at the top of every screen)."""
        self.working = Working(ticket_id, about)

    def action_stop_working(self) -> None:
        if self.working is not None:
            self.notify(shown(f"No longer working {self.working.ticket_id}."), markup=False)
            self.working = None

    def back_to_search(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, SearchScreen):
            self.pop_screen()

    def action_home(self) -> None:
        self.back_to_search()
        self.search_screen.go_home()

    def action_search(self) -> None:
        self.back_to_search()
        self.search_screen.focus_search()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    def action_reconcile_all(self) -> None:
        self.open_reconcile()

    def action_regions(self) -> None:
        from supportdesk.tui.screens.region import open_region

        open_region(self)

    def action_review_queue(self) -> None:
        from supportdesk.tui.screens.review import open_review

        open_review(self)

    def action_tickets(self) -> None:
        from supportdesk.tui.screens.tickets import open_tickets

        open_tickets(self)
