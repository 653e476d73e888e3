"""The one error modal: a SupportdeskError's message, or an unexpected exception's type and message."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from supportdesk.errors import SupportdeskError


class ErrorScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="close_error")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.error_title = title
        self.message = message

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorScreen:
        if isinstance(error, SupportdeskError):
            return cls(f"Error: {error.code}", error.message)
        return cls("Unexpected error", f"{type(error).__name__}: {error}")

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog -error") as dialog:
            dialog.border_title = self.error_title
            yield Static(self.message, id="message", markup=False)
            yield Static("Enter or Esc to close", classes="hint")
        yield Footer()
