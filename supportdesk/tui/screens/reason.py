"""Why an action is taken: a required reason and an optional ticket, asked before the confirmation."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

Answer = tuple[str, str | None]  # (reason, ticket id or None)


class ReasonScreen(ModalScreen[Answer | None]):
    """Dismisses with (reason, ticket) on Enter once a reason is typed; None on Esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_reason")]

    def __init__(self, title: str, what: str, reason: str = "", ticket: str = "") -> None:
        super().__init__()
        self.dialog_title = title
        self.what = what
        self.reason = reason
        self.ticket = ticket

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog -reason") as dialog:
            dialog.border_title = self.dialog_title
            yield Static(self.what, id="what", markup=False)
            yield Label("Reason (required, audited):")
            yield Input(self.reason, placeholder="e.g. paid but coins never arrived", id="reason", max_length=2000,
                        compact=True)
            yield Label("Ticket (optional):")
            yield Input(self.ticket, placeholder="T-1234", id="ticket", max_length=64, compact=True)
            yield Static("", id="reason-error")
            yield Static("Enter continue · Tab next field · Esc cancel", classes="hint")
        yield Footer(compact=True)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        ticket = self.query_one("#ticket", Input).value.strip() or None
        if not reason:
            self.query_one("#reason-error", Static).update("A reason is required: every fix is audited with it.")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss((reason, ticket))

    def action_cancel(self) -> None:
        self.dismiss(None)
