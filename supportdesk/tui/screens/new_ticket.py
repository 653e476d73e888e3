"""A new ticket on an account: subject, category and what the customer wrote; created in a worker of the
account screen, then opened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Select, Static

from supportdesk.tui.format import VisibleControls, shown

if TYPE_CHECKING:
    from supportdesk.tui.screens.account import AccountScreen


@dataclass(frozen=True, slots=True)
class NewTicket:
    subject: str
    category: str
    body: str


class NewTicketScreen(ModalScreen[NewTicket | None]):
    """Dismisses with the form on Enter once a subject is typed; None on Esc."""

    DEFAULT_CSS = """
    NewTicketScreen Label { margin-top: 1; }
    NewTicketScreen Input { background: $boost; }
    NewTicketScreen #nt-error { color: $text-error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_new_ticket")]

    def __init__(self, who: str) -> None:
        super().__init__()
        self.who = who

    def compose(self) -> ComposeResult:
        from supportdesk.services.tickets import CATEGORIES  # the service's list, loaded when first asked

        with Vertical(id="dialog", classes="dialog") as dialog:
            dialog.border_title = Content(f"New ticket on {shown(self.who)}")
            yield Label("Subject (required):")
            yield Input(placeholder="e.g. paid but coins never arrived", id="nt-subject", max_length=200,
                        compact=True, highlighter=VisibleControls())
            yield Label("Category:")
            yield Select([(c.replace("_", " "), c) for c in CATEGORIES], value="other", allow_blank=False,
                         id="nt-category", compact=True)
            yield Label("What the customer wrote (optional):")
            yield Input(placeholder="paste their message", id="nt-body", max_length=4000, compact=True,
                        highlighter=VisibleControls())
            yield Static("", id="nt-error")
            yield Static("Enter create · Tab next field · Esc cancel", classes="hint")
        yield Footer(compact=True)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        subject = self.query_one("#nt-subject", Input).value.strip()
        if not subject:
            self.query_one("#nt-error", Static).update("A subject is required.")
            self.query_one("#nt-subject", Input).focus()
            return
        category = self.query_one("#nt-category", Select).value
        self.dismiss(NewTicket(subject, str(category), self.query_one("#nt-body", Input).value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_new_ticket(screen: AccountScreen) -> None:
    """Ask for the ticket, create it in a worker of the account screen (failures: its error modal), open it."""
    from supportdesk.tui.screens.tickets import open_ticket

    if screen.story is None:
        screen.notify("Wait for the account to load.", severity="warning")
        return
    account = screen.story["account"]

    def created(ticket: dict[str, Any]) -> None:
        screen.notify(f"Opened {shown(ticket['ticket_id'])}. w works it.", markup=False)
        screen.action_refresh()
        open_ticket(screen.app, ticket["ticket_id"], screen.action_refresh)

    def create(form: NewTicket) -> None:
        ticket = screen.backend.create_ticket(account["account_id"], form.subject, form.body, form.category)
        screen.app.call_from_thread(created, ticket)

    def given(form: NewTicket | None) -> None:
        if form is not None:
            screen.run_worker(lambda: create(form), thread=True, group="new-ticket", exit_on_error=False)

    screen.app.push_screen(NewTicketScreen(account["handle"]), given)
