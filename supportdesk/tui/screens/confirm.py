"""One reusable confirmation: states exactly what will happen; y confirms, n or Esc declines."""

from __future__ import annotations

from textual.binding import Binding

from supportdesk.tui.screens.dialog import TextDialog


class ConfirmScreen(TextDialog[bool]):
    """`ConfirmScreen("Credit 700 coins to @ana (purchase pur_123), reason ..., ticket T-9?")`."""

    HINT = "y yes · n no · Esc cancel"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm_yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm_no"),
    ]

    def __init__(self, question: str, title: str = "Confirm") -> None:
        super().__init__(title, question)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_mount(self) -> None:
        # Who the audit trail will name: the configured actor and role, said where the action is confirmed.
        self.query_one("#dialog").border_subtitle = getattr(self.app, "acting_as", "")
