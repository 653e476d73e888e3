"""The line at the top of every screen while the agent works a ticket: "Working T-1001 · @ana · subject ×"."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.widgets import Static

from supportdesk.tui.format import shown


@dataclass(frozen=True, slots=True)
class Working:
    ticket_id: str
    about: str  # the account's handle and the subject, to recognise it by
    account_id: str | None = None  # the ticket's account: reasons on another account's actions don't take it


class TicketBar(Static):
    DEFAULT_CSS = """
    TicketBar {
        dock: top;
        height: 1;
        padding: 0 1;
        background: $accent-muted;
        display: none;
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "working", self.show_working)

    def show_working(self, working: Working | None) -> None:
        self.display = working is not None
        if working is not None:
            self.update(Content.from_markup(
                "[b]Working $ticket[/b]  [dim]$about[/]  [@click=app.stop_working]×[/]",
                ticket=shown(working.ticket_id), about=shown(working.about),
            ))
