"""The review queue: flags by score (f picks a rule from a list, s flips the order, D shows decided flags too, o
opens the account), the highlighted flag's evidence below, and its decision (dismiss, confirm, limit, suspend) after a
reason and a confirmation; the cursor stays where it was after a decision."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from supportdesk.domain.review import creator, describe, headline
from supportdesk.tui.format import money, plain, plural, shown
from supportdesk.tui.navigation import Open
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import Answer, ReasonScreen, reason_then_confirm
from supportdesk.tui.screens.rule_picker import RulePicker
from supportdesk.tui.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend


class ReviewScreen(DeskScreen):
    DEFAULT_CSS = """
    #rv-status { height: 1; padding: 0 1; background: $boost; }
    #rv-table { height: 1fr; }
    #rv-detail { height: 1fr; border-top: solid $primary; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("r", "reload", "Rebuild", show=False, id="review_reload"),
        Binding("f", "filter", "Rule", id="review_filter"),
        Binding("s", "sort", "Sort", show=False, id="review_sort"),
        Binding("D", "toggle_decided", "Decided", show=False, id="review_decided"),
        Binding("o", "open_account", "Account", show=False, id="review_account"),
        Binding("d", "decide('dismiss')", "Dismiss", id="review_dismiss"),
        Binding("a", "decide('confirm')", "Confirm", id="review_confirm"),
        Binding("l", "decide('limit')", "Limit", id="review_limit"),
        Binding("S", "decide('suspend')", "Suspend", id="review_suspend"),
    ]

    class Loaded(Message):
        def __init__(self, flags: list[dict[str, Any]], final: bool) -> None:
            super().__init__()
            self.flags = flags
            self.final = final

    class Acted(Message):
        def __init__(self, result: dict[str, Any]) -> None:
            super().__init__()
            self.result = result

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.flags: list[dict[str, Any]] = []
        self.rule: str | None = None
        self.ascending = False
        self.decided = False  # D: decided and cleared flags shown too, with their status and who decided
        self.loading_queue = False
        self.acting = False
        self.last_answer: Answer = ("", None)
        self.event = ""  # what just happened (a decision saved or refused): the status line says it first

    def compose(self) -> ComposeResult:
        yield Static("Building the review queue…", id="rv-status", markup=False)
        table = KeyedTable(id="rv-table")
        table.add_columns("score", "rule", "account", "why")
        yield table
        with VerticalScroll(id="rv-detail"):
            yield Static("", id="rv-evidence")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_reload()

    # --- loading -----------------------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.loading_queue = True
        self.query_one("#rv-status", Static).update("Running the rules and refreshing the queue…")
        self.load()

    @work(thread=True, exclusive=True, group="review", exit_on_error=False)
    def load(self) -> None:
        """The queue as stored first (instant), then as the rules find it now (seconds on a big database)."""
        decided = self.decided
        self.post_message(self.Loaded(self.backend.review_queue(build=False, decided=decided), final=False))
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(self.backend.review_queue(decided=decided), final=True))

    def on_review_screen_loaded(self, message: Loaded) -> None:
        self.loading_queue = not message.final
        self.flags = message.flags
        self.show()

    def worker_failed(self, worker: Any) -> None:
        self.loading_queue = self.acting = False
        if worker.group == "review-act":
            self.event = "Not saved (see the error)"
        self.show()

    @property
    def shown(self) -> list[dict[str, Any]]:
        rows = [f for f in self.flags if self.rule is None or f["rule"] == self.rule]
        return sorted(rows, key=lambda f: (f["score"] if self.ascending else -f["score"], f["flag_id"]))

    def show(self, keep: str | None = None, row: int | None = None) -> None:
        """Fill the table; the cursor stays on the flag `keep` (default: the one highlighted), else on row `row`."""
        table = self.query_one(KeyedTable)
        keep = keep or table.focused_key
        table.clear()
        rows = self.shown
        for f in rows:
            why = headline(f) if f["status"] == "open" else f"{decided_by(f)} · {headline(f)}"
            table.add_row(str(f["score"]), f["rule"], f["handle"] or f["account_id"], why, key=f["flag_id"])
        order = "lowest" if self.ascending else "highest"
        state = "running the rules… · " if self.loading_queue else ""
        event = f"{self.event} · " if self.event else ""
        what = "flag" if self.decided else "open flag"
        self.query_one("#rv-status", Static).update(
            f"{event}{state}{plural(len(rows), what)}{' · ' + self.rule if self.rule else ''} · {order} score first · "
            "f rule · D decided · o account")
        keys = [f["flag_id"] for f in rows]
        if keep in keys:
            table.move_cursor(row=keys.index(keep))
        elif row is not None and keys:
            table.move_cursor(row=min(row, len(keys) - 1))
        self.show_detail(table.focused_key)
        table.focus()

    def action_filter(self) -> None:
        counts = Counter(f["rule"] for f in self.flags)
        self.app.push_screen(RulePicker(counts, self.rule), self._picked)

    def _picked(self, rule: str | None) -> None:
        if rule is not None:
            self.rule = rule or None
            self.show()

    def action_toggle_decided(self) -> None:
        self.decided = not self.decided
        self.action_reload()

    def action_open_account(self) -> None:
        f = self.flag(self.query_one(KeyedTable).focused_key)
        if f is None:
            self.notify("Highlight a flag first (↑ ↓).", severity="warning")
            return
        self.post_message(Open.Account(f["account_id"]))  # Esc comes back to the queue

    def action_sort(self) -> None:
        self.ascending = not self.ascending
        self.show()

    def action_back(self) -> None:
        self.dismiss(None)

    # --- the evidence ------------------------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#rv-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail(event.row_key.value if event.row_key else None)

    def flag(self, flag_id: str | None) -> dict[str, Any] | None:
        return next((f for f in self.flags if f["flag_id"] == flag_id), None)

    def show_detail(self, flag_id: str | None) -> None:
        f = self.flag(flag_id)
        self.query_one("#rv-evidence", Static).update(evidence_view(f) if f else "No flag highlighted.")

    # --- decisions ---------------------------------------------------------------------------------------------

    def action_decide(self, action: str) -> None:
        f = self.flag(self.query_one(KeyedTable).focused_key)
        if f is None:
            self.notify("Highlight a flag first (↑ ↓).", severity="warning")
            return
        if self.acting:
            self.notify("A decision is being saved; wait for it.", severity="warning")
            return
        reason, ticket = self.last_answer
        dialog = ReasonScreen(f"{action.title()} flag", describe(f, action), reason, ticket or "")
        reason_then_confirm(self.app, dialog, partial(self._question, f, action),
                            partial(self._confirmed, f["flag_id"], action))

    def _question(self, f: dict[str, Any], action: str, answer: Answer) -> ConfirmScreen:
        self.last_answer = answer
        reason, ticket = answer
        question = f"{describe(f, action)}, reason {reason!r}, " + (f"ticket {ticket}?" if ticket else "no ticket?")
        return ConfirmScreen(question, title=f"{action.title()} this flag?")

    def _confirmed(self, flag_id: str, action: str, answer: Answer) -> None:
        self.acting = True
        self.event = ""
        self.query_one("#rv-status", Static).update(f"Saving: {action} {shown(flag_id)}…")
        self.decide(flag_id, action, *answer)

    @work(thread=True, exclusive=True, group="review-act", exit_on_error=False)
    def decide(self, flag_id: str, action: str, reason: str, ticket: str | None) -> None:
        self.post_message(self.Acted(self.backend.review_act(flag_id, action, reason, ticket)))

    def on_review_screen_acted(self, message: Acted) -> None:
        self.acting = False
        applied, flag = message.result["applied"], message.result["flag"]
        words = "was already done" if applied["replayed"] else f"done: flag {flag['status']}"
        extra = ""
        if applied.get("account_status"):
            extra += f", account {applied['account_status']['after']}"
        if applied.get("held_cashouts"):
            extra += f", {plural(len(applied['held_cashouts']), 'cashout')} held"
        self.event = shown(f"{applied['action'].title()} {words}{extra}")
        self.notify(f"{self.event}.", markup=False)
        table = self.query_one(KeyedTable)
        row = table.cursor_row if table.focused_key == flag["flag_id"] else None
        # Shown with its new status where it was (D), or gone from the open queue: either way the cursor stays on
        # the same row, which is then the next flag.
        others = [f for f in self.flags if f["flag_id"] != flag["flag_id"]]
        self.flags = [*others, flag] if self.decided else others
        self.show(row=row)


def decided_by(f: dict[str, Any]) -> str:
    """`limited by ana`; `cleared` (the rule no longer fires) has no one who decided."""
    return f"{f['status']} by {f['decided_by']}" if f["decided_by"] else f["status"]


def evidence_view(f: dict[str, Any]) -> Group:
    """The flag and what fired it, as lines an agent reads top to bottom."""
    ev = f["evidence"]
    parts: list[Any] = [
        Text.assemble((f"{f['rule']} ", "bold"), (f"score {f['score']} · ", ""), (shown(f["flag_id"]), "dim")),
        plain(f"{f['handle'] or ''} {f['account_id']} · {headline(f)}"),
    ]
    if f["status"] != "open":
        when = (f["decided_at"] or "")[:16].replace("T", " ")
        parts.append(plain(f"{decided_by(f)} {when}" + (f" · {f['reason']}" if f["reason"] else "")))
    purchases = ev.get("purchases") or ev.get("refunds") or ([ev["purchase"]] if "purchase" in ev else [])
    for p in purchases:
        line = f"  {p['purchased_at'][:16].replace('T', ' ')}  {p['purchase_id']}  {p['product_id']}  " \
               f"{money(p['price_minor'], p['currency'])}  {p['country']}  {p['status']}"
        if p.get("usd_minor") is not None and p["currency"] != "USD":
            line += f"  ≈ {money(p['usd_minor'], 'USD')}"
        if p.get("refunded_at"):
            line += f"  refunded {p['refunded_at'][:10]} ({p['dated_by']})"
        parts.append(plain(line))
    for g in ev.get("gifts", []):
        parts.append(plain(f"  gift {g['at'][:16].replace('T', ' ')}  {g['quantity']} x {g['gift_id']}  "
                          f"{g['coins']:,} coins -> {creator(f)}"))
    for c in ev.get("cashouts", []):
        parts.append(plain(f"  cashout {c['at'][:16].replace('T', ' ')}  {c['cashout_id']}  {c['diamonds']:,} "
                          f"diamonds  {c['status']}"))
    for key in ("birth_date", "age", "min_age", "account_country", "purchase_country", "seconds_apart"):
        if key in ev:
            parts.append(plain(f"  {key.replace('_', ' ')}: {ev[key]}", style="dim"))
    return Group(*parts)
