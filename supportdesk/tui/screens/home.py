"""The home panel under the search box (shown while the box is empty): my open tickets with their deadlines, open
review flags by rule, each store's last sync and the last reconcile fix. Enter on a ticket opens it, on a rule the
review queue of that rule, on a store the reconcile of every account. Loaded in a worker, never on the event loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from supportdesk.domain.overview import due_words
from supportdesk.tui.format import plain, shown
from supportdesk.tui.navigation import Open
from supportdesk.tui.widgets.keyed_table import KeyedTable


def _when(at: Any) -> str:
    return at.astimezone(UTC).strftime("%m-%d %H:%M") if isinstance(at, datetime) else "-"


class HomePanel(Vertical):
    DEFAULT_CSS = """
    HomePanel { height: 1fr; }
    HomePanel .home-title { height: 1; padding: 0 1; background: $boost; text-style: bold; }
    HomePanel #home-tickets { height: 1fr; }
    HomePanel #home-lower { height: 8; }
    HomePanel #home-flags-box { width: 30; }
    HomePanel #home-stores-box { width: 1fr; }
    HomePanel #home-flags, HomePanel #home-stores { height: 1fr; }
    HomePanel #home-reconcile { height: 1; padding: 0 1; color: $text-muted; }
    """

    class Loaded(Message):
        def __init__(self, home: dict[str, Any]) -> None:
            super().__init__()
            self.home = home

    def __init__(self, backend: Any, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.backend = backend
        self.home: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Open tickets: mine and unassigned", id="home-tickets-title", classes="home-title", markup=False)
        tickets = KeyedTable(id="home-tickets")
        tickets.add_columns("ticket", "account", "status", "deadline", "subject")
        yield tickets
        with Horizontal(id="home-lower"):
            with Vertical(id="home-flags-box"):
                yield Static("Open review flags", id="home-flags-title", classes="home-title", markup=False)
                flags = KeyedTable(id="home-flags")
                flags.add_columns("rule", "open", "top")
                yield flags
            with Vertical(id="home-stores-box"):
                yield Static("Stores", classes="home-title", markup=False)
                stores = KeyedTable(id="home-stores")
                stores.add_columns("store", "last sync", "state")
                yield stores
        yield Static("loading…", id="home-reconcile")  # until the overview arrives (the app may still be connecting)

    def on_mount(self) -> None:
        if self.display:  # hidden under a query given on the command line: loaded when it shows
            # After the first paint: the worker's first call imports the desk and the database code, which
            # holds the GIL while the screen is drawn.
            self.call_after_refresh(self.reload)

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="home", exit_on_error=False)
    def load(self) -> None:
        home = self.backend.desk.accounts.overview().body
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(home))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A dashboard that cannot load says so in place; the search box above keeps working.
        if event.worker.group == "home" and event.state is WorkerState.ERROR:
            error = event.worker.error
            self.query_one("#home-reconcile", Static).update(
                plain(f"Could not load the overview: {getattr(error, 'message', error)}", style="bold red"))

    def on_home_panel_loaded(self, message: Loaded) -> None:
        message.stop()
        self.home = home = message.home
        self.show_tickets(home["tickets"], home["now"])
        flags = self.query_one("#home-flags", KeyedTable)
        flags.clear()
        for f in home["flags"]:
            flags.add_row(f["rule"], f"{f['open']:,}", str(f["top_score"]), key=f["rule"])
        total = sum(f["open"] for f in home["flags"])
        self.query_one("#home-flags-title", Static).update(f"Review flags · {total:,} open" if total else
                                                           "Review flags · none open")
        stores = self.query_one("#home-stores", KeyedTable)
        stores.clear()
        for s in home["stores"]:
            state = Text(s["why"], style="bold red" if s["stale"] else "green")
            stores.add_row(s["store"], _when(s["last_run_at"]), state, key=s["store"])
        self.query_one("#home-reconcile", Static).update(plain(self.reconcile_line(home)))

    def show_tickets(self, tickets: dict[str, Any], now: datetime) -> None:
        table = self.query_one("#home-tickets", KeyedTable)
        table.clear()
        for t in tickets["tickets"]:
            due = t.get("answer_due_at")
            deadline = Text(due_words(due, now), style="bold red" if due < now else "bold yellow") if due else ""
            table.add_row(t["ticket_id"], t["handle"], t["status"], deadline, t["subject"], key=t["ticket_id"])
        whose = "Open tickets: mine and unassigned"
        shown_n = len(tickets["tickets"])
        count = f"{tickets['total']:,}" if shown_n == tickets["total"] else f"{shown_n} of {tickets['total']:,}"
        self.query_one("#home-tickets-title", Static).update(shown(f"{whose} · {count}, store deadlines first"))

    @staticmethod
    def reconcile_line(home: dict[str, Any]) -> str:
        r = home["reconcile"]
        synced = f"last full sync {_when(r['synced_at'])} UTC" if r["synced_at"] else "no full sync yet"
        fix = r["fix"]
        fixed = f"last fix {_when(fix['at'])} by {fix['actor']} ({fix['action']})" if fix else "no fix yet"
        stale = [s["store"] for s in home["stores"] if s["stale"]]
        return f"{synced}; {fixed}" + (f"; stale: {', '.join(stale)} (Ctrl+R)" if stale else "")

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if not key:
            return
        table_id = event.data_table.id
        if table_id == "home-tickets":
            self.post_message(Open.Ticket(key, self.reload))
        elif table_id == "home-flags":
            self.post_message(Open.Review(rule=key))  # the queue of that rule (f picks another)
        else:
            self.post_message(Open.Reconcile())
