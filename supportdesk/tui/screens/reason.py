"""Why an action is taken: a required reason and an optional ticket, asked before the confirmation."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from supportdesk.tui.format import VisibleControls, shown

Answer = tuple[str, str | None]  # (reason, ticket id or None)


class ReasonScreen(ModalScreen[Answer | None]):
    """Dismisses with (reason, ticket) on Enter once a reason is typed; None on Esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_reason")]

    def __init__(self, title: str, what: str, reason: str = "", ticket: str = "", *, note: str = "reason",
                 ticket_locked: bool = False) -> None:
        """`ticket` is the last one typed; the ticket the agent works (the app's) takes its place unless locked."""
        super().__init__()
        self.dialog_title = title
        self.what = what
        self.reason = reason
        self.ticket = ticket
        self.note = note  # what the required text is called: "reason", "resolution note"
        self.ticket_locked = ticket_locked

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog -reason") as dialog:
            dialog.border_title = Content(shown(self.dialog_title))
            yield Static(Content(shown(self.what, lines=True)), id="what")
            yield Label(f"{self.note.capitalize()} (required, audited):")
            example = "paid but coins never arrived" if self.note == "reason" else "credited the missing coins"
            yield Input(self.reason, placeholder=f"e.g. {example}", id="reason", max_length=2000, compact=True,
                        highlighter=VisibleControls())
            working = None if self.ticket_locked else getattr(self.app, "working_ticket", None)
            yield Label("Ticket:" if self.ticket_locked else
                        "Ticket (the one you are working; optional):" if working else "Ticket (optional):")
            yield Input(working or self.ticket, placeholder="T-1234", id="ticket", max_length=64, compact=True,
                        disabled=self.ticket_locked, highlighter=VisibleControls())
            yield Static("", id="reason-error")
            yield Static("Enter continue · Tab next field · Esc cancel", classes="hint")
        yield Footer(compact=True)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        ticket = self.query_one("#ticket", Input).value.strip() or None
        if not reason:
            self.query_one("#reason-error", Static).update(f"A {self.note} is required: every action is audited "
                                                           "with it.")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss((reason, ticket))

    def action_cancel(self) -> None:
        self.dismiss(None)
