"""A modal with a title, one block of plain text and a line saying which keys answer it."""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from supportdesk.tui.format import shown

T = TypeVar("T")


class TextDialog(ModalScreen[T]):
    HINT = ""
    DIALOG_CLASSES = "dialog"

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.dialog_title = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes=self.DIALOG_CLASSES) as dialog:
            dialog.border_title = Content(shown(self.dialog_title))
            yield Static(Content(shown(self.text, lines=True)), id="text")  # reasons and handles are data
            yield Static(self.HINT, classes="hint")
        yield Footer(compact=True)
