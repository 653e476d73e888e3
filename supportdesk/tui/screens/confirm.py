"""One reusable confirmation: states exactly what will happen; y confirms, n or Esc declines."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


class ConfirmScreen(ModalScreen[bool]):
    """`ConfirmScreen("Credit 700 coins to @ana (purchase pur_123), reason ..., ticket T-9?")`."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm_yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm_no"),
    ]

    def __init__(self, question: str, title: str = "Confirm") -> None:
        super().__init__()
        self.question = question
        self.confirm_title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog") as dialog:
            dialog.border_title = self.confirm_title
            yield Static(self.question, id="question", markup=False)
            yield Static("y yes · n no · Esc cancel", classes="hint")
        yield Footer()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
