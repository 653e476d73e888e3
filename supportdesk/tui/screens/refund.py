"""The refund panel of one purchase: the decision, its rule and why, the clawback preview, and apply.

Apply asks for a reason (ReasonScreen), states exactly what money moves (ConfirmScreen, the CLI's words) and
runs the service's exactly-once apply in a worker; a store failure lands in the error modal with its message
(the refund stays requested, and applying again finishes it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Static, TabbedContent
from textual.worker import Worker, get_current_worker

from supportdesk.tui.format import coins, money, plain, shown
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import Answer, ReasonScreen, reason_then_confirm

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend
    from supportdesk.tui.screens.account import AccountScreen

OUTCOME_STYLE = {"refund": "bold green", "store_decides": "bold yellow", "deny": "bold red"}


def open_refund(screen: AccountScreen) -> None:
    """From the account screen: the panel of the purchase under the cursor; reload the account if money moved."""
    from supportdesk.tui.widgets.keyed_table import KeyedTable

    purchase_id = screen.query_one("#purchases-table", KeyedTable).focused_key
    if purchase_id is None or screen.query_one(TabbedContent).active != "purchases":
        screen.notify("Pick a purchase on the Purchases tab first (1).", severity="warning")
        return

    def settled() -> None:
        # From the apply worker's thread when it ends, applied or failed, even if the panel was closed meanwhile:
        # the account then shows the refund as it is now (refunded, or requested).
        screen.app.call_from_thread(lambda: screen.action_refresh() if screen.is_attached else None)

    screen.app.push_screen(RefundScreen(screen.backend, purchase_id, settled))


class RefundScreen(DeskScreen):
    DEFAULT_CSS = """
    RefundScreen #rf-body { height: 1fr; padding: 0 1; }
    RefundScreen #rf-decision { margin: 1 0; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("a", "apply_refund", "Apply", id="apply_refund"),
        Binding("r", "refresh", "Reload", id="refresh"),
    ]

    class Loaded(Message):
        def __init__(self, view: dict[str, Any]) -> None:
            super().__init__()
            self.view = view

    class Applied(Message):
        def __init__(self, result: dict[str, Any]) -> None:
            super().__init__()
            self.result = result

    def __init__(self, backend: Backend, purchase_id: str, settled: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.purchase_id = purchase_id
        self.settled = settled  # called from the apply worker's thread when an apply ends, either way
        self.view: dict[str, Any] | None = None
        self.applying = False
        self.changed = False  # money moved
        self.applied: dict[str, Any] | None = None  # what this panel's apply did: shown first

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="rf-body"):
            yield Static(plain(f"Refund {self.purchase_id}"), id="rf-head")
            yield Static("", id="rf-status")  # what just happened, first
            yield Static("", id="rf-decision")
            yield Static("", id="rf-clawback")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply_refund":
            return None if self.applying else self.view is not None and self.view["decision"]["outcome"] == "refund"
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_refresh(self) -> None:
        self.query_one("#rf-body").loading = True
        self.load()

    @work(thread=True, exclusive=True, group="refund", exit_on_error=False)
    def load(self) -> None:
        view = self.backend.refund_decision(self.purchase_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(view))

    def worker_failed(self, worker: Worker[object]) -> None:
        self.query_one("#rf-body").loading = False
        self.applying = False
        self.refresh_bindings()
        if worker.group == "refund-apply":
            self.status(Text("Not applied (see the error). Press a to try again: it refunds at most once.",
                             style="bold red"))
            self.action_refresh()  # the refund may now be requested or failed: show it as it is

    def on_refund_screen_loaded(self, message: Loaded) -> None:
        self.view = view = message.view
        p, d = view["purchase"], view["decision"]
        self.query_one("#rf-head", Static).update(Text.assemble(
            ("Refund ", "bold"), (shown(p["purchase_id"]), "bold"),
            shown(f"  {p['store']}  {p['handle']}  {coins(p['coins'])} coins  {money(p['price_minor'], p['currency'])}"
                  f"  {p['status']}")))
        decision = decision_text(d)
        if self.applied is not None:  # refunded here: the rule now is already_refunded, said as the state now
            decision = Text("Decision now: ", style="dim") + decision
        self.query_one("#rf-decision", Static).update(decision)
        _, lines = self.backend.refund_words(view, "", None)
        self.query_one("#rf-clawback", Static).update(Text.assemble(("Clawback\n", "bold"), shown("\n".join(lines), lines=True)))
        self.query_one("#rf-body").loading = False
        self.refresh_bindings()

    def status(self, text: str | Text) -> None:
        self.query_one("#rf-status", Static).update(text)

    # --- apply ---------------------------------------------------------------------------------------------
    def action_apply_refund(self) -> None:
        if self.view is None or self.applying:
            return
        d = self.view["decision"]
        reason_then_confirm(self.app, ReasonScreen("Refund", f"{d['rule']}: {d['explanation']}"), self._question,
                            self._confirmed)

    def _question(self, answer: Answer) -> ConfirmScreen:
        assert self.view is not None
        question, _ = self.backend.refund_words(self.view, *answer)
        return ConfirmScreen(question, title="Refund this purchase?")

    def _confirmed(self, answer: Answer) -> None:
        self.applying = True
        self.refresh_bindings()
        self.status("Refunding through the store…")
        self.apply_refund(*answer)

    @work(thread=True, exclusive=True, group="refund-apply", exit_on_error=False)
    def apply_refund(self, reason: str, ticket: str | None) -> None:
        try:
            self.post_message(self.Applied(self.backend.apply_refund(self.purchase_id, reason, ticket)))
        finally:
            if self.settled is not None:
                self.settled()

    def on_refund_screen_applied(self, message: Applied) -> None:
        self.applying = False
        self.changed = True
        self.applied = message.result["applied"]
        self.status(applied_text(self.applied))
        self.notify("Refund " + ("already done (replayed)." if message.result["replayed"] else "applied."))
        self.action_refresh()


def decision_text(d: dict[str, Any]) -> Text:
    text = Text.assemble((d["outcome"], OUTCOME_STYLE.get(d["outcome"], "bold")), "  ", (d["rule"], "dim"), "\n",
                         shown(d["explanation"]))
    if d["outcome"] == "refund":
        text.append(f"\nRefund {money(d['refund_minor'], d['currency'])}, claw back "
                    f"{d['coins_clawback']:,} coins")
    if d.get("consumption"):
        a = d["consumption"]
        text.append(f"\nIf Apple asks: {a['refund_preference']} ({a['why']}), "
                    f"{a['consumption_percentage'] / 1000:g}% consumed, {a['delivery_status']}")
    return text


def applied_text(a: dict[str, Any]) -> Text:
    words = "Already done (replayed)" if a.get("replayed") else "Refunded"
    return plain(f"{words}: {money(a['amount_minor'], a['currency'])} ({a['refund_id']}), "
                f"{a['coins_clawed']:,} coins clawed back"
                f"{'; the account is limited' if a.get('limited') else ''}", style="bold green")
