"""The one error modal: a SupportdeskError's message, or an unexpected exception's type and message."""

from __future__ import annotations

from textual.binding import Binding

from supportdesk.errors import SupportdeskError
from supportdesk.tui.screens.dialog import TextDialog


class ErrorScreen(TextDialog[None]):
    HINT = "Enter or Esc to close"
    DIALOG_CLASSES = "dialog -error"
    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="close_error")]

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorScreen:
        if isinstance(error, SupportdeskError):
            return cls(f"Error: {error.code}", error.message)
        return cls("Unexpected error", f"{type(error).__name__}: {error}")
