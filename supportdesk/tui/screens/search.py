"""The main screen: a search box, a status line and the matching accounts, updated as the agent types; while the
box is empty, the home panel (my open tickets, flags by rule, stale stores) in their place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.lazy import Lazy
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from supportdesk.domain.text import matches
from supportdesk.errors import SupportdeskError
from supportdesk.tui.format import shown
from supportdesk.tui.navigation import Open
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.screens.home import HomePanel
from supportdesk.tui.widgets.keyed_table import KeyedTable
from supportdesk.tui.widgets.keys_footer import KeysFooter
from supportdesk.tui.widgets.query_input import QueryInput

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend

DEBOUNCE_SECONDS = 0.15
HINT = "Type a handle, email, or an id: account, purchase, ticket, store order or txn."


class SearchInput(QueryInput):  # no key contains '?', so it opens help even while typing
    BINDINGS = [
        Binding("down", "screen.focus_results", "Results", show=False, id="focus_results"),
        Binding("escape", "clear", "Clear", id="clear_search"),
        # '/' goes to the search box; in it, '/' selects the query, so the next paste or key replaces it.
        Binding("slash", "app.search", "Search", show=False, priority=True, id="search"),
    ]

    def action_clear(self) -> None:
        self.value = ""


class SearchScreen(DeskScreen):
    # The app's global keys, shown in this screen's footer (the first screen an agent sees).
    BINDINGS = [Binding("ctrl+o", "app.home", "Home", show=False, id="home"),
                Binding("ctrl+r", "app.reconcile_all", "Reconcile all", id="reconcile_all"),
                Binding("ctrl+g", "app.regions", "Regions", id="regions"),
                Binding("ctrl+f", "app.review_queue", "Review", id="review_queue"),
                Binding("ctrl+t", "app.tickets", "Tickets", id="tickets")]

    class Results(Message):
        """A search finished: the accounts found, or why the query is invalid."""

        def __init__(self, text: str, accounts: list[dict[str, Any]], error: str | None = None) -> None:
            super().__init__()
            self.text = text
            self.accounts = accounts
            self.error = error

    def __init__(self, backend: Backend, initial_query: str | None = None, cursor_blink: bool = True) -> None:
        super().__init__()
        self.backend = backend
        self.initial_query = initial_query
        self.cursor_blink = cursor_blink
        self.accounts: list[dict[str, Any]] = []
        self.results_for: str | None = None  # the query `accounts` answers
        self.waiting_for: str | None = None  # Enter was pressed on this query before its results arrived
        self._debounce: Timer | None = None
        self.home_panel = HomePanel(backend, id="home")  # mounted lazily (compose)
        self.home_panel.display = not initial_query

    def compose(self) -> ComposeResult:
        box = SearchInput(placeholder="Search: @handle, email, acc_…, pur_…, ch_…, GPA.…, T-…", id="query")
        box.cursor_blink = self.cursor_blink
        yield box
        yield Static(self.hint, id="status", markup=False)
        table = KeyedTable(id="results")
        table.add_columns("handle", "email", "country", "status", "coins", "diamonds")
        table.display = bool(self.initial_query)
        yield table
        # Mounted after the first paint (Textual's Lazy): the search box is drawn, and can be typed in, before the
        # panel's four tables are built; its data comes after the connect anyway. Until then it is not in the DOM:
        # everything below goes through self.home_panel and asks `is_mounted` before loading or querying it.
        yield Lazy(self.home_panel)
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        if self.initial_query:
            self.query_one(SearchInput).value = self.initial_query
            self.submit(self.initial_query)

    @property
    def hint(self) -> str:
        acting = getattr(self.app, "acting_as", "")  # who the audit trail names: said before anything is done
        return f"Acting {acting}. Type a handle, email or any id; Enter opens." if acting else HINT

    def on_screen_resume(self) -> None:
        home = self.home_panel
        if home.is_mounted and home.display and home.home is not None:
            home.reload()  # back from a ticket or the queue: counts as they are now
        # Back from an account: the old query is selected, so a new paste replaces it instead of appending.
        box = self.query_one(SearchInput)
        if self.focused is box or self.focused is None:
            box.focus()
            box.select_all()

    @on(Input.Changed, "#query")
    def _typed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        if text == self.waiting_for:
            return  # set by `submit` itself (the initial query); its search is already running
        self.waiting_for = None
        if self._debounce is not None:
            self._debounce.stop()
        self.show_home(not text)  # at the first key: Tab goes to the results from then on
        if not text:
            self.show([], "", self.hint)
            return
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, lambda: self.search(text))

    @on(Input.Submitted, "#query")
    def _submitted(self, event: Input.Submitted) -> None:
        self.submit(event.value.strip())

    def submit(self, text: str) -> None:
        """Open the account if the query names one; search first when the results are not in yet."""
        if not text:
            return
        if self.results_for == text:
            self.open_match()
            return
        if self._debounce is not None:
            self._debounce.stop()
        self.waiting_for = text
        self.search(text)

    @on(DataTable.RowSelected, "#results")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open_account(event.row_key.value)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def search(self, text: str) -> None:
        try:
            message = self.Results(text, self.backend.desk.accounts.search(text).accounts)
        except SupportdeskError as exc:  # an invalid query is an answer, shown inline
            message = self.Results(text, [], exc.message)
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    def on_search_screen_results(self, message: Results) -> None:
        if message.text != self.query_one(SearchInput).value.strip():
            return  # the agent has typed on since
        if message.error:
            self.show([], message.text, message.error, error=True)
            self.waiting_for = None
            return
        status = matches(len(message.accounts), message.text, self.backend.desk.accounts.limit)
        self.show(message.accounts, message.text, status)
        if self.waiting_for == message.text:
            self.waiting_for = None
            self.open_match()

    def show(self, accounts: list[dict[str, Any]], text: str, status: str, error: bool = False) -> None:
        self.accounts, self.results_for = accounts, text
        self.show_home(not text)
        line = self.query_one("#status", Static)
        line.update(shown(status))
        line.set_class(error, "-error")
        table = self.query_one("#results", KeyedTable)
        table.clear()
        for a in accounts:
            table.add_row(a["handle"], a["email"], a["country"], a["status"], f"{a['coin_balance']:,}",
                          f"{a['diamond_balance']:,}", key=a["account_id"])

    def open_match(self) -> None:
        """Open the one match, or the exact id/handle among several; else go to the list."""
        text = self.results_for or ""
        handle = ("@" + text.lstrip("@")).lower()
        exact = [a for a in self.accounts if a["account_id"] == text or a["handle"].lower() == handle]
        chosen = exact or (self.accounts if len(self.accounts) == 1 else [])
        if chosen:
            self.open_account(chosen[0]["account_id"])
        elif self.accounts:
            self.query_one("#results", KeyedTable).focus()

    def open_account(self, account_id: str) -> None:
        self.post_message(Open.Account(account_id, from_search=True))

    def action_focus_results(self) -> None:
        home = self.home_panel
        if not home.display:
            self.query_one("#results", KeyedTable).focus()
        elif home.is_mounted:
            home.query_one("#home-tickets").focus()

    def show_home(self, home: bool = True) -> None:
        """The home panel in place of the results (while the box is empty), loaded afresh when it comes back."""
        panel = self.home_panel
        if home and not panel.display and panel.is_mounted:  # (not yet mounted: it loads when it mounts)
            panel.reload()
        panel.display = home
        self.query_one("#results", KeyedTable).display = not home

    def go_home(self) -> None:
        """Ctrl+O: an empty box, the home panel reloaded, the cursor in the box."""
        box = self.query_one(SearchInput)
        box.value = ""
        self.show([], "", self.hint)
        if self.home_panel.is_mounted:
            self.home_panel.reload()
        box.focus()

    def focus_search(self) -> None:
        box = self.query_one(SearchInput)
        box.focus()
        box.select_all()
