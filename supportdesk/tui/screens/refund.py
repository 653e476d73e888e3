"""The refund panel of one purchase: the decision, its rule and why, the window's dates, the clawback preview, and
apply.

`c` picks the cause from a list (the decision is made again for it), `o` is a lead's override of a window or
refund-limit denial (agents are told why not), and the window counts to the creation of the ticket being worked.
Apply asks for the amount (all of it, or a part), a reason and the ticket (RefundDialog), decides again with all of
that in a worker, states exactly what money moves (ConfirmScreen, the CLI's words) and runs the service's
exactly-once apply in a worker; a store failure lands in the error modal with its message (the refund stays
requested, and applying again finishes it).
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

from supportdesk.domain.refunds import CAUSE_WORDS
from supportdesk.tui.format import coins, decision_text, money, plain, shown
from supportdesk.tui.screens.base import DeskScreen
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import Answer
from supportdesk.tui.screens.refund_dialogs import CausePicker, RefundAnswer, RefundDialog
from supportdesk.tui.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from supportdesk.tui.backend import Backend
    from supportdesk.tui.navigation import AccountView


def open_refund(screen: AccountView) -> None:
    """From the account screen: the panel of the purchase under the cursor; reload the account if money moved."""
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
        Binding("c", "pick_cause", "Cause", id="refund_cause"),
        # Two bindings on o: a lead's override where there is one to make; otherwise o says why not.
        Binding("o", "override", "Override", id="refund_override"),
        Binding("o", "override_refused", "Override", show=False, id="refund_override_refused"),
        Binding("r", "refresh", "Reload", id="refresh"),
    ]

    class Loaded(Message):
        def __init__(self, view: dict[str, Any]) -> None:
            super().__init__()
            self.view = view

    class Checked(Message):
        """The decision again with everything the agent gave (amount, ticket): the confirmation states it."""

        def __init__(self, view: dict[str, Any], answer: RefundAnswer) -> None:
            super().__init__()
            self.view = view
            self.answer = answer

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
        self.cause = "remorse"
        self.override = False  # a lead's override is on: the decision shown is the overridden one
        self.last_answer: RefundAnswer | None = None  # typed in the apply dialog: kept if it is declined

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
        if action == "override":
            return self.backend.role == "lead" and self.view is not None and (
                self.override or bool(self.view["decision"].get("overridable")))
        if action == "override_refused":
            return not self.check_action("override", parameters)
        return True

    @property
    def ticket_id(self) -> str | None:
        """The ticket being worked: the refund window counts to its creation."""
        return getattr(self.app, "working_ticket", None)

    def action_back(self) -> None:
        self.dismiss()

    def action_refresh(self) -> None:
        self.query_one("#rf-body").loading = True
        self.load()

    @work(thread=True, exclusive=True, group="refund", exit_on_error=False)
    def load(self) -> None:
        view = self.backend.desk.refunds.decision(self.purchase_id, self.cause, ticket_id=self.ticket_id,
                                                  override=self.override, now=self.backend.refund_now())
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(view))

    # --- cause and override ------------------------------------------------------------------------------------
    def action_pick_cause(self) -> None:
        def picked(cause: str | None) -> None:
            if cause and cause != self.cause:
                self.cause = cause
                self.action_refresh()

        self.app.push_screen(CausePicker(self.cause), picked)

    def action_override(self) -> None:
        self.override = not self.override
        self.notify("Override on: the policy's refusal is set aside (audited as your override)." if self.override
                    else "Override off: the policy decides.")
        self.action_refresh()

    def action_override_refused(self) -> None:
        if self.view is None:
            return
        d = self.view["decision"]
        if self.backend.role != "lead":
            why = ("Overriding the refund policy needs a lead; you are an agent. Ask a lead to open this purchase "
                   "and press o.")
        elif d["outcome"] == "refund":
            why = f"The policy does not refuse this refund ({d['rule']}): there is nothing to override."
        else:
            why = f"{d['rule']} is not a policy a lead can override."
        self.notify(why, severity="warning", markup=False)

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
        decision.append(f"\nCause: {self.cause} ({CAUSE_WORDS[self.cause]}); c changes it", style="dim")
        if self.applied is not None:  # refunded here: the rule now is already_refunded, said as the state now
            decision = Text("Decision now: ", style="dim") + decision
        self.query_one("#rf-decision", Static).update(decision)
        _, lines = self.backend.desk.refunds.words(view, "", None)
        self.query_one("#rf-clawback", Static).update(Text.assemble(("Clawback\n", "bold"), shown("\n".join(lines), lines=True)))
        self.query_one("#rf-body").loading = False
        self.refresh_bindings()

    def status(self, text: str | Text) -> None:
        self.query_one("#rf-status", Static).update(text)

    # --- apply ---------------------------------------------------------------------------------------------
    def action_apply_refund(self) -> None:
        if self.view is None or self.applying:
            return
        d, p = self.view["decision"], self.view["purchase"]
        what = f"{d['rule']}: {d['explanation']}\nCause {self.cause}" + (", a lead's override" if self.override else "")
        dialog = RefundDialog(what, d["refund_minor"], d["currency"], p["store"], self.last_answer,
                              account_id=p.get("account_id"))

        def answered(given: Answer | None) -> None:
            if given is not None:
                self.last_answer = answer = dialog.answer(given)
                self.check(answer)

        self.app.push_screen(dialog, answered)

    @work(thread=True, exclusive=True, group="refund-check", exit_on_error=False)
    def check(self, answer: RefundAnswer) -> None:
        """The decision with the amount and the ticket typed: what the confirmation states is what is applied."""
        view = self.backend.desk.refunds.decision(self.purchase_id, self.cause, ticket_id=answer.ticket,
                                                  override=self.override, amount_minor=answer.amount_minor,
                                                  now=self.backend.refund_now())
        self.post_message(self.Checked(view, answer))

    def on_refund_screen_checked(self, message: Checked) -> None:
        answer = message.answer
        question, _ = self.backend.desk.refunds.words(message.view, answer.reason, answer.ticket)

        def confirmed(yes: bool | None) -> None:
            if not yes:
                self.action_apply_refund()  # back to the dialog as typed
                return
            self.applying = True
            self.refresh_bindings()
            self.status("Refunding through the store…")
            self.apply_refund(answer)

        self.app.push_screen(ConfirmScreen(question, title="Refund this purchase?"), confirmed)

    @work(thread=True, exclusive=True, group="refund-apply", exit_on_error=False)
    def apply_refund(self, answer: RefundAnswer) -> None:
        try:
            self.post_message(self.Applied(self.backend.desk.refunds.apply_as_agent(
                self.purchase_id, answer.reason, answer.ticket, self.cause, override=self.override,
                amount_minor=answer.amount_minor, now=self.backend.refund_now())))
        finally:
            if self.settled is not None:
                self.settled()

    def on_refund_screen_applied(self, message: Applied) -> None:
        self.applying = False
        self.changed = True
        self.applied = message.result["applied"]
        self.override = False  # done: the decision now is the purchase's state, nothing left to override
        self.status(applied_text(self.applied))
        self.notify("Refund " + ("already done (replayed)." if message.result["replayed"] else "applied."))
        self.action_refresh()


def applied_text(a: dict[str, Any]) -> Text:
    words = "Already done (replayed)" if a.get("replayed") else "Refunded"
    if a.get("overridden") and not a.get("replayed"):
        words += f" (override of {a['overridden']})"
    return plain(f"{words}: {money(a['amount_minor'], a['currency'])} ({a['refund_id']}), "
                f"{a['coins_clawed']:,} coins clawed back"
                f"{'; the account is limited' if a.get('limited') else ''}", style="bold green")
