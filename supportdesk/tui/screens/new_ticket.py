"""A new ticket on an account: subject, category and what the customer wrote; created in a worker of the
account screen, then opened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Select, Static

from supportdesk.desk.ticket_results import Ticket
from supportdesk.tui.format import VisibleControls, shown
from supportdesk.tui.navigation import Open
from supportdesk.tui.widgets.note_area import NoteArea
from supportdesk.tui.widgets.one_line import OneLineInput

if TYPE_CHECKING:
    from supportdesk.tui.navigation import AccountView


@dataclass(frozen=True, slots=True)
class NewTicket:
    subject: str
    category: str
    body: str


class NewTicketScreen(ModalScreen[NewTicket | None]):
    """Dismisses with the form once a subject is typed (Enter in the subject, or Ctrl+S); None on Esc."""

    DEFAULT_CSS = """
    NewTicketScreen Label { margin-top: 1; }
    NewTicketScreen Input { background: $boost; }
    NewTicketScreen #nt-error { color: $text-error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_new_ticket"),
                Binding("ctrl+s", "submit", "Create", id="submit_new_ticket")]
    BODY_LIMIT = 4000

    def __init__(self, who: str) -> None:
        super().__init__()
        self.who = who

    def compose(self) -> ComposeResult:
        from supportdesk.desk.tickets import categories  # the service's list, loaded when first asked

        with Vertical(id="dialog", classes="dialog") as dialog:
            dialog.border_title = Content(f"New ticket on {shown(self.who)}")
            yield Label("Subject (required):")
            yield OneLineInput(placeholder="e.g. paid but coins never arrived", id="nt-subject", max_length=200,
                               compact=True, highlighter=VisibleControls())
            yield Label("Category:")
            yield Select([(c.replace("_", " "), c) for c in categories()], value="other", allow_blank=False,
                         id="nt-category", compact=True)
            yield Label("What the customer wrote (optional):")
            yield NoteArea(placeholder="paste their message: every line is kept", id="nt-body",
                           max_length=self.BODY_LIMIT)
            yield Static("", id="nt-error")
            yield Static("Ctrl+S create · Tab next field · Esc cancel", classes="hint")
        yield Footer(compact=True)

    @on(Input.Changed, "#nt-subject")
    def _typed(self, event: Input.Changed) -> None:
        if event.value.strip():
            self.query_one("#nt-error", Static).update("")

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        subject = self.query_one("#nt-subject", Input).value.strip()
        if not subject:
            self.query_one("#nt-error", Static).update("A subject is required.")
            self.query_one("#nt-subject", Input).focus()
            return
        body = self.query_one("#nt-body", NoteArea)
        if body.too_long:
            self.query_one("#nt-error", Static).update(
                f"What they wrote is {len(body.text):,} characters; at most {self.BODY_LIMIT:,}. Shorten it.")
            body.focus()
            return
        category = self.query_one("#nt-category", Select).value
        self.dismiss(NewTicket(subject, str(category), body.text.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_new_ticket(screen: AccountView) -> None:
    """Ask for the ticket, create it in a worker of the account screen (failures: its error modal), open it."""
    if screen.story is None:
        screen.notify("Wait for the account to load.", severity="warning")
        return
    account_id, handle = screen.story.account.account_id, screen.story.account.handle

    def created(ticket: Ticket) -> None:
        screen.notify(f"Opened {shown(ticket.ticket_id)}. w works it.", markup=False)
        screen.action_refresh()
        screen.app.post_message(Open.Ticket(ticket.ticket_id, screen.action_refresh))

    def create(form: NewTicket) -> None:
        ticket = screen.backend.desk.tickets.create(None, form.subject, form.body, form.category,
                                                    account_id=account_id).ticket
        screen.app.call_from_thread(created, ticket)

    def given(form: NewTicket | None) -> None:
        if form is not None:
            screen.run_worker(lambda: create(form), thread=True, group="new-ticket", exit_on_error=False)

    screen.app.push_screen(NewTicketScreen(handle), given)
