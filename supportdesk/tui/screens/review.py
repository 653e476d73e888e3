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
    """Opening shows the queue as stored (nothing rebuilt): `r` runs the rules and refreshes it. The queue comes
    in keyset pages of PAGE flags (the next page when the cursor nears the end of the last), without evidence;
    the highlighted flag's evidence is read on its own."""

    DEFAULT_CSS = """
    #rv-status { height: 1; padding: 0 1; background: $boost; }
    #rv-table { height: 1fr; }
    #rv-detail { height: 1fr; border-top: solid $primary; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("r", "rebuild", "Rebuild", show=False, id="review_reload"),
        Binding("f", "filter", "Rule", id="review_filter"),
        Binding("s", "sort", "Sort", show=False, id="review_sort"),
        Binding("D", "toggle_decided", "Decided", show=False, id="review_decided"),
        Binding("o", "open_account", "Account", show=False, id="review_account"),
        Binding("d", "decide('dismiss')", "Dismiss", id="review_dismiss"),
        Binding("a", "decide('confirm')", "Confirm", id="review_confirm"),
        Binding("l", "decide('limit')", "Limit", id="review_limit"),
        Binding("S", "decide('suspend')", "Suspend", id="review_suspend"),
    ]
    PAGE = 100
    NEAR_END = 20  # rows before the last loaded one at which the next page is read

    class Loaded(Message):
        def __init__(self, page: dict[str, Any], append: bool, detail: dict[str, Any] | None,
                     built: dict[str, int] | None = None) -> None:
            super().__init__()
            self.page = page
            self.append = append
            self.detail = detail
            self.built = built

    class Detail(Message):
        def __init__(self, flag: dict[str, Any]) -> None:
            super().__init__()
            self.flag = flag

    class Acted(Message):
        def __init__(self, result: dict[str, Any]) -> None:
            super().__init__()
            self.result = result

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.flags: list[dict[str, Any]] = []  # the pages read so far, in the order shown (no evidence)
        # The whole queue of the statuses shown, when it fits in one page: filters and orders then need no read.
        self.complete: list[dict[str, Any]] | None = None
        self.counts: dict[str, int] = {}  # flags by rule, of the statuses shown
        self.more = False  # another page after the last one read
        self.detail: dict[str, Any] | None = None  # the highlighted flag with its evidence
        self.rule: str | None = None
        self.ascending = False
        self.decided = False  # D: decided and cleared flags shown too, with their status and who decided
        self.loading_queue = False
        self.rebuilding = False
        self.acting = False
        self.last_answer: Answer = ("", None)
        self.event = ""  # what just happened (a decision saved or refused): the status line says it first

    def compose(self) -> ComposeResult:
        yield Static("Reading the review queue…", id="rv-status", markup=False)
        table = KeyedTable(id="rv-table")
        table.add_columns("score", "rule", "account", "why")
        yield table
        with VerticalScroll(id="rv-detail"):
            yield Static("", id="rv-evidence")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()

    # --- loading -----------------------------------------------------------------------------------------------

    def reload(self, keep: str | None = None) -> None:
        """The first page again (after a filter, an order or a rebuild); the cursor stays on `keep` if it is in it."""
        if self.complete is not None:
            rows = [f for f in self.complete if self.rule is None or f["rule"] == self.rule]
            self.flags = sorted(rows, key=lambda f: (f["score"] if self.ascending else -f["score"], f["flag_id"]))
            self.more = False
            self.show(keep)
            return
        self.loading_queue = True
        self.load(None, keep)

    def action_rebuild(self) -> None:
        if self.rebuilding:
            self.notify("The rules are already running.", severity="warning")
            return
        self.rebuilding = self.loading_queue = True
        self.event = ""
        self.query_one("#rv-status", Static).update("Running the rules and refreshing the queue…")
        self.complete = None
        self.load(None, self.query_one(KeyedTable).focused_key, rebuild=True)

    def _page(self, after: tuple[int, str] | None) -> dict[str, Any]:
        return self.backend.desk.review.page(self.rule, decided=self.decided, after=after,
                                            ascending=self.ascending, limit=self.PAGE).to_json()

    @work(thread=True, exclusive=True, group="review", exit_on_error=False)
    def load(self, after: tuple[int, str] | None, keep: str | None = None, rebuild: bool = False) -> None:
        """A page of the stored queue (after `after`), with the evidence of the flag the cursor will be on; with
        `rebuild`, the rules run first."""
        built = self.backend.desk.review.rebuild().to_json() if rebuild else None
        if get_current_worker().is_cancelled:
            return
        page = self._page(after)
        detail = None
        if after is None and page["flags"]:
            ids: list[str] = [f["flag_id"] for f in page["flags"]]
            detail = self.backend.desk.review.flag(keep if keep is not None and keep in ids else ids[0])
        self.post_message(self.Loaded(page, after is not None, detail, built))

    def on_review_screen_loaded(self, message: Loaded) -> None:
        self.loading_queue = False
        page = message.page
        if message.built is not None:
            self.rebuilding = False
            b = message.built
            self.event = f"rules run: {b['raised']} new, {b['cleared']} cleared"
        if message.detail is not None:
            self.detail = message.detail
        self.more = len(page["flags"]) >= self.PAGE
        if message.append:
            known = {f["flag_id"] for f in self.flags}
            new = [f for f in page["flags"] if f["flag_id"] not in known]
            self.flags += new
            table = self.query_one(KeyedTable)
            for f in new:
                table.add_row(*self.cells(f), key=f["flag_id"])
            self.status()
            return
        self.counts = page["counts"] or {}
        self.flags = page["flags"]
        self.complete = list(self.flags) if self.rule is None and not self.more else None
        self.show()

    def worker_failed(self, worker: Any) -> None:
        self.loading_queue = self.acting = self.rebuilding = False
        if worker.group == "review-act":
            self.event = "Not saved (see the error)"
        self.status()

    def more_if_near_end(self, row: int) -> None:
        if self.more and not self.loading_queue and row >= len(self.flags) - self.NEAR_END and self.flags:
            self.loading_queue = True
            last = self.flags[-1]
            self.load((last["score"], last["flag_id"]))

    @property
    def shown(self) -> list[dict[str, Any]]:
        return self.flags

    @property
    def total(self) -> int:
        return self.counts.get(self.rule, 0) if self.rule else sum(self.counts.values())

    @staticmethod
    def cells(f: dict[str, Any]) -> tuple[str, str, str, str]:
        why = f["headline"] if f["status"] == "open" else f"{decided_by(f)} · {f['headline']}"
        return str(f["score"]), f["rule"], f["handle"] or f["account_id"], why

    def status(self) -> None:
        order = "lowest" if self.ascending else "highest"
        state = "running the rules… · " if self.rebuilding else ""
        event = f"{self.event} · " if self.event else ""
        what = "flag" if self.decided else "open flag"
        self.query_one("#rv-status", Static).update(
            f"{event}{state}{plural(self.total, what)}{' · ' + self.rule if self.rule else ''} · {order} score first"
            " · f rule · r rerun · D decided · o account")

    def show(self, keep: str | None = None, row: int | None = None) -> None:
        """Fill the table; the cursor stays on the flag `keep` (default: the one highlighted), else on row `row`."""
        table = self.query_one(KeyedTable)
        keep = keep or table.focused_key
        table.clear()
        for f in self.flags:
            table.add_row(*self.cells(f), key=f["flag_id"])
        self.status()
        keys = [f["flag_id"] for f in self.flags]
        if keep in keys:
            table.move_cursor(row=keys.index(keep))
        elif row is not None and keys:
            table.move_cursor(row=min(row, len(keys) - 1))
        self.show_detail(table.focused_key)
        table.focus()

    def action_filter(self) -> None:
        self.app.push_screen(RulePicker(Counter(self.counts), self.rule), self._picked)

    def _picked(self, rule: str | None) -> None:
        if rule is not None:
            self.rule = rule or None
            self.reload()

    def action_toggle_decided(self) -> None:
        self.decided = not self.decided
        self.complete = None
        self.reload()

    def action_open_account(self) -> None:
        f = self.flag(self.query_one(KeyedTable).focused_key)
        if f is None:
            self.notify("Highlight a flag first (↑ ↓).", severity="warning")
            return
        self.post_message(Open.Account(f["account_id"]))  # Esc comes back to the queue

    def action_sort(self) -> None:
        self.ascending = not self.ascending
        self.reload()

    def action_back(self) -> None:
        self.dismiss(None)

    # --- the evidence ------------------------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#rv-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail(event.row_key.value if event.row_key else None)
        self.more_if_near_end(event.cursor_row)

    def flag(self, flag_id: str | None) -> dict[str, Any] | None:
        return next((f for f in self.flags if f["flag_id"] == flag_id), None)

    def show_detail(self, flag_id: str | None) -> None:
        """The row's own words at once; its evidence when read (only the highlighted flag's is kept)."""
        f = self.flag(flag_id)
        pane = self.query_one("#rv-evidence", Static)
        if f is None:
            pane.update("No flag highlighted.")
            return
        if self.detail is not None and self.detail["flag_id"] == flag_id:
            pane.update(evidence_view(f, self.detail["evidence"]))
            return
        pane.update(evidence_view(f, None))
        self.read_detail(f["flag_id"])

    @work(thread=True, exclusive=True, group="review-detail", exit_on_error=False)
    def read_detail(self, flag_id: str) -> None:
        self.post_message(self.Detail(self.backend.desk.review.flag(flag_id)))

    def on_review_screen_detail(self, message: Detail) -> None:
        self.detail = message.flag
        if self.query_one(KeyedTable).focused_key == message.flag["flag_id"]:
            self.show_detail(message.flag["flag_id"])

    # --- decisions ---------------------------------------------------------------------------------------------

    def action_decide(self, action: str) -> None:
        f = self.flag(self.query_one(KeyedTable).focused_key)
        if f is None:
            self.notify("Highlight a flag first (↑ ↓).", severity="warning")
            return
        if self.acting:
            self.notify("A decision is being saved; wait for it.", severity="warning")
            return
        read = self.detail is not None and self.detail["flag_id"] == f["flag_id"]
        f = {**f, "evidence": self.detail["evidence"] if read and self.detail else {"creator_id": f.get("creator_id")}}
        reason, ticket = self.last_answer
        dialog = ReasonScreen(f"{action.title()} flag", describe(f, action), reason, ticket or "",
                              account_id=f["account_id"])
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
        light = {**{k: v for k, v in flag.items() if k != "evidence"}, "headline": headline(flag)}
        if self.decided:
            self.flags = [light if f["flag_id"] == flag["flag_id"] else f for f in self.flags]
            if self.complete is not None:
                self.complete = [light if f["flag_id"] == flag["flag_id"] else f for f in self.complete]
            self.detail = flag
        else:
            before = len(self.flags)
            self.flags = [f for f in self.flags if f["flag_id"] != flag["flag_id"]]
            if self.complete is not None:
                self.complete = [f for f in self.complete if f["flag_id"] != flag["flag_id"]]
            if len(self.flags) < before and self.counts.get(flag["rule"]):
                self.counts[flag["rule"]] -= 1
        self.show(row=row)


def decided_by(f: dict[str, Any]) -> str:
    """`limited by ana`; `cleared` (the rule no longer fires) has no one who decided."""
    return f"{f['status']} by {f['decided_by']}" if f["decided_by"] else f["status"]


def evidence_view(f: dict[str, Any], evidence: dict[str, Any] | None = None) -> Group:
    """The flag and what fired it, as lines an agent reads top to bottom (`evidence`: the flag's, once read;
    a queue row has only its headline)."""
    ev = evidence if evidence is not None else f.get("evidence")
    line = f.get("headline") or headline(f)
    parts: list[Any] = [
        Text.assemble((f"{f['rule']} ", "bold"), (f"score {f['score']} · ", ""), (shown(f["flag_id"]), "dim")),
        plain(f"{f['handle'] or ''} {f['account_id']} · {line}"),
    ]
    if f["status"] != "open":
        when = (f["decided_at"] or "")[:16].replace("T", " ")
        parts.append(plain(f"{decided_by(f)} {when}" + (f" · {f['reason']}" if f["reason"] else "")))
    if ev is None:
        parts.append(plain("reading the evidence…", style="dim"))
        return Group(*parts)
    f = {**f, "evidence": ev}
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
