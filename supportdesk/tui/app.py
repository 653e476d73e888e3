"""The Textual app: search accounts, read an account's money story. Calls services in workers, via Backend.

Only the search screen is imported with the app: every other screen, the account screen's flows and the palette
are loaded the first time they are opened (tui/registry.py), so the first paint waits for nothing else of ours."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from platformdirs import user_data_dir, user_downloads_dir
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from supportdesk.tui.backend import Backend
from supportdesk.tui.format import shown
from supportdesk.tui.navigation import Desk, Open
from supportdesk.tui.registry import (
    ACCOUNT,
    AUDIT,
    HELP,
    OPEN_ACCOUNT_REFUND,
    OPEN_CASHOUT,
    OPEN_CREDIT,
    OPEN_NEW_TICKET,
    OPEN_STATUS,
    PALETTE,
    PURCHASE,
    RECONCILE,
    REFUND,
    REGION,
    REVIEW,
    TICKET,
    TICKETS,
    showing,
)
from supportdesk.tui.screens.search import HINT, SearchInput, SearchScreen
from supportdesk.tui.widgets.ticket_bar import Working

if TYPE_CHECKING:
    from supportdesk.desk.context import AppContext


RECONCILE_ALL = "reconcile_all"  # the installed screen's name


def screenshot_folder() -> Path:
    """The Downloads folder when there is one, else `<data folder>/screenshots`."""
    downloads = Path(user_downloads_dir())
    return downloads if downloads.is_dir() else Path(user_data_dir("supportdesk", appauthor=False)) / "screenshots"


class SupportDeskApp(App[None]):
    TITLE = "supportdesk"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere find it
    COMMANDS = App.COMMANDS | {PALETTE.load}  # the palette's module loads when it first opens
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
        # Connecting, checking the schema and reading the policy and the identity happen in a worker once the first
        # screen is drawn (`connect`); a failure there ends the app and is raised again by `run_checked`.
        self.startup_error: BaseException | None = None
        self.keymap: dict[str, str] = {}  # the config file's [keys], set with the settings (`use_keymap`)

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
        if self.state.settings_read:
            self.use_keymap()
        if self.state.connected:
            self.sub_title = self.acting_as
            gc.freeze()
        else:
            self.sub_title = "connecting…"
            self.call_after_refresh(self.connect)  # after the first paint: the import of the database code takes the GIL

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def connect(self) -> None:
        """The settings (the config file validated), the engine (schema checked, policy read) and who acts: off
        the event loop, after the first paint. Whatever needs the engine meanwhile (the home panel, a search) waits
        for it in its own worker (desk/context.py makes each once, under a lock)."""
        self.state.settings  # noqa: B018
        self.state.engine  # noqa: B018
        self.state.identity  # noqa: B018

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "connect":
            return
        if event.state is WorkerState.SUCCESS:
            self.use_keymap()
            self.sub_title = self.acting_as
            # What is alive once the app has started and connected (modules, classes, the engine) lives as long
            # as the app: out of the collector's generations, a full collection (a screen that builds thousands
            # of cells triggers some) no longer walks it. Opening a 200k-entry account: about 0.6x the CPU.
            gc.freeze()
            try:
                status = self.search_screen.query_one("#status", Static)
            except Exception:  # noqa: BLE001 - no search screen (a test's own screen): nothing to say there
                return
            if str(status.render()) == HINT:  # still the first hint: now it can say who acts
                status.update(self.search_screen.hint)
        elif event.state is WorkerState.ERROR:
            # The database cannot be used: nothing here can work. The caller prints the error as the CLI does.
            self.startup_error = event.worker.error
            self.exit(return_code=1)

    def use_keymap(self) -> None:
        """The config file's [keys]: an entry is `binding id = "keys"`; anything else there is ignored rather than
        fatal. Read with the settings, so the keys a user remapped take effect once the app has connected."""
        self.keymap = {k: v for k, v in self.state.settings.keys.items() if isinstance(v, str)}
        if self.keymap:
            self.set_keymap(self.keymap)

    def run_checked(self) -> None:
        """Run the app; an error met while connecting (after the screen was drawn) is raised again here, once
        the terminal is back, so the CLI reports it as it reports any other (message and exit code)."""
        self.run()
        if self.startup_error is not None:
            raise self.startup_error

    @property
    def acting_as(self) -> str:
        """Who the audit trail will name for the actions taken here, and with which role's limits ("" until the
        connect worker has read it: never a query on the event loop)."""
        if not self.state.connected:
            return ""
        me = self.state.identity
        return f"as {me.actor} ({me.role})"

    @property
    def search_screen(self) -> SearchScreen:
        return next(s for s in self.screen_stack if isinstance(s, SearchScreen))

    # --- navigation: screens post Open.X (tui/navigation.py), the App pushes -------------------------------

    def open_account(self, account_id: str, *, from_search: bool = True, back_if_below: bool = False) -> None:
        """Show an account: over the search screen (replacing any account already open), or, not `from_search`,
        over the current screen; `back_if_below`: back to that account's screen when it is the one below."""
        if back_if_below:
            below = self.screen_stack[-2] if len(self.screen_stack) > 1 else None
            if showing(below, ACCOUNT) and account_id in (
                    below.account_id, below.story and below.story.account.account_id):
                self.screen.dismiss()  # as Esc would: the screen's callback runs
                return
        if from_search:
            self.back_to_search()
        self.push_screen(ACCOUNT.load()(self.backend, account_id))

    def open_reconcile(self, account_id: str | None = None, handle: str | None = None) -> None:
        """Reconcile everything (from the search screen) or one account (over its account screen)."""
        if account_id is None:
            # Kept (installed) once opened: Esc and back again finds the last run's findings, not a new run.
            self.back_to_search()
            if self.is_screen_installed(RECONCILE_ALL):
                last = self.get_screen(RECONCILE_ALL)
                if showing(last, RECONCILE) and last.finished_at is not None and not last.running:
                    self.notify(f"The findings of {last.finished_at:%H:%M}. r runs again.")
            else:
                self.install_screen(RECONCILE.load()(self.backend), RECONCILE_ALL)
            self.push_screen(RECONCILE_ALL)
            return
        screen = RECONCILE.load()(self.backend, account_id, handle)
        opener = self.screen if showing(self.screen, ACCOUNT) else None

        def returned(_: object) -> None:
            if screen.changed and opener is not None and opener.is_attached:
                opener.action_refresh()  # balances moved: show them as they are now

        self.push_screen(screen, returned)

    def open_ticket(self, ticket_id: str, changed: Callable[[], object] | None = None) -> None:
        """One ticket over the current screen; `changed` runs when it comes back after a resolve.

        Opened from the account its view jumped to (o), it goes back to that view instead of stacking another."""
        below = self.screen_stack[-2] if len(self.screen_stack) > 1 else None
        if showing(below, TICKET) and below.ticket_id == ticket_id:
            self.pop_screen()
            below.action_refresh()
            return
        screen = TICKET.load()(self.backend, ticket_id)

        def closed(_: object) -> None:
            if screen.changed and changed is not None:
                changed()

        self.push_screen(screen, closed)

    def open_tickets(self) -> None:
        """The ticket list over the current screen (Esc comes back)."""
        self.push_screen(TICKETS.load()(self.backend))

    def open_review(self, rule: str | None = None) -> None:
        """The review queue over the current screen (Esc comes back), of one rule (f picks another) or all."""
        review = REVIEW.load()(self.backend)
        if rule is not None:
            review.rule = rule
        self.push_screen(review)

    def open_region(self, country: str | None = None, at: str | None = None,
                    purchase: dict[str, Any] | None = None) -> None:
        """The region screen over the current one (Esc comes back)."""
        self.push_screen(REGION.load()(self.backend, country, at, purchase))

    def open_audit(self, *, account_id: str | None = None, ticket_id: str | None = None, label: str | None = None,
                   verify: bool = False) -> None:
        """The trail over the current screen (Esc comes back); `verify` checks the chain as soon as it opens."""
        self.push_screen(AUDIT.load()(self.backend, account_id=account_id, ticket_id=ticket_id, label=label,
                                     verify=verify))

    def open_refund(self, purchase_id: str, settled: Callable[[], None] | None = None) -> None:
        """The refund panel of one purchase; `settled` runs (from the apply worker's thread) when it ends."""
        self.push_screen(REFUND.load()(self.backend, purchase_id, settled))

    @on(Open.Home)
    def _open_home(self) -> None:
        self.action_home()

    @on(Open.Search)
    def _open_search(self) -> None:
        self.action_search()

    @on(Open.Account)
    def _open_account(self, m: Open.Account) -> None:
        self.open_account(m.account_id, from_search=m.from_search, back_if_below=m.back_if_below)

    @on(Open.Purchase)
    def _open_purchase(self, m: Open.Purchase) -> None:
        self.push_screen(PURCHASE.load()(self.backend, m.purchase_id, m.money_moved))

    @on(Open.Refund)
    def _open_refund(self, m: Open.Refund) -> None:
        self.open_refund(m.purchase_id, m.settled)

    @on(Open.AccountRefund)
    def _open_account_refund(self, m: Open.AccountRefund) -> None:
        OPEN_ACCOUNT_REFUND.load()(m.account)

    @on(Open.Credit)
    def _open_credit(self, m: Open.Credit) -> None:
        OPEN_CREDIT.load()(m.account)

    @on(Open.Status)
    def _open_status(self, m: Open.Status) -> None:
        OPEN_STATUS.load()(m.account)

    @on(Open.Cashout)
    def _open_cashout(self, m: Open.Cashout) -> None:
        OPEN_CASHOUT.load()(m.account, m.action)

    @on(Open.NewTicket)
    def _open_new_ticket(self, m: Open.NewTicket) -> None:
        OPEN_NEW_TICKET.load()(m.account)

    @on(Open.Ticket)
    def _open_ticket(self, m: Open.Ticket) -> None:
        self.open_ticket(m.ticket_id, m.changed)

    @on(Open.Tickets)
    def _open_tickets(self) -> None:
        self.open_tickets()

    @on(Open.Review)
    def _open_review(self, m: Open.Review) -> None:
        self.open_review(m.rule)

    @on(Open.Region)
    def _open_region(self, m: Open.Region) -> None:
        self.open_region(m.country, m.at, m.purchase)

    @on(Open.Audit)
    def _open_audit(self, m: Open.Audit) -> None:
        self.open_audit(account_id=m.account_id, ticket_id=m.ticket_id, label=m.label, verify=m.verify)

    @on(Open.Reconcile)
    def _open_reconcile(self, m: Open.Reconcile) -> None:
        self.open_reconcile(m.account_id, m.handle)

    # --- the ticket being worked ------------------------------------------------------------------------------

    @property
    def working_ticket(self) -> str | None:
        return self.working.ticket_id if self.working else None

    def work_ticket(self, ticket_id: str, about: str, account_id: str | None = None) -> None:
        """Remember the ticket: reasons asked from now on start with it when the action is on its account (shown
        at the top of every screen)."""
        self.working = Working(ticket_id, about, account_id)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Textual saves a screenshot (the palette's "Save screenshot", the screenshot action) in the Downloads
        folder, which a server reached over SSH seldom has ("Failed to save screenshot"): there when it exists,
        else in supportdesk's data folder; the notice names the file."""
        if path is None:
            path = str(screenshot_folder())
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self.notify(shown(f"Cannot save a screenshot in {path}: {e.strerror or e}."), severity="error",
                        markup=False)
            return None
        return super().deliver_screenshot(filename, path, time_format)

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
        if not showing(self.screen, HELP):
            self.push_screen(HELP.load()(self.keymap))

    def action_reconcile_all(self) -> None:
        self.open_reconcile()

    def action_regions(self) -> None:
        self.open_region()

    def action_review_queue(self) -> None:
        self.open_review()

    def action_tickets(self) -> None:
        self.open_tickets()


if TYPE_CHECKING:
    def _is_a_desk(app: SupportDeskApp) -> Desk:
        return app  # what screens and the palette may ask of the App (tui/navigation.py): checked here
