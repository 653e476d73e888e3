"""The help overlay: help.md, plus the keys this user remapped."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

HELP = Path(__file__).resolve().parent.parent / "help.md"


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,f1", "dismiss", "Close", id="close_help")]

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = keymap or {}

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog -help") as dialog:
            dialog.border_title = "Help"
            dialog.border_subtitle = "Esc or ? to close"
            yield Markdown(self.text())
        yield Footer(compact=True)

    def text(self) -> str:
        text = HELP.read_text(encoding="utf-8")
        if self.keymap:
            rows = "".join(f"| `{bid}` | `{keys}` |\n" for bid, keys in sorted(self.keymap.items()))
            text += "\n## Your key map\n\n| Binding id | Keys |\n| --- | --- |\n" + rows
        return text
