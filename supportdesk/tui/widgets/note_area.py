"""A multi-line editor for what customers wrote and agents' notes: Enter is a new line, a paste keeps every line."""

from __future__ import annotations

from textual import events
from textual.widgets import TextArea


class NoteArea(TextArea):
    DEFAULT_CSS = """
    NoteArea { height: 6; background: $boost; border: none; padding: 0 1; }
    NoteArea:focus { border: none; }
    """

    def __init__(self, text: str = "", *, placeholder: str = "", max_length: int = 0,
                 id: str | None = None) -> None:  # noqa: A002
        super().__init__(text, soft_wrap=True, tab_behavior="focus", show_line_numbers=False,
                         placeholder=placeholder, compact=True, highlight_cursor_line=False, id=id)
        self.max_length = max_length  # checked when the dialog is submitted: never cut silently

    def on_mount(self) -> None:
        self.cursor_blink = getattr(self.app, "CURSOR_BLINK", True)  # off in tests and snapshots

    async def _on_paste(self, event: events.Paste) -> None:
        # TextArea's own handler (Textual calls each class's) inserts it; it must not bubble to be pasted again.
        event.stop()

    @property
    def value(self) -> str:
        return self.text

    @property
    def too_long(self) -> bool:
        return bool(self.max_length) and len(self.text) > self.max_length
