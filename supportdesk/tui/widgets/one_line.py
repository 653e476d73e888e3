"""A one-line input that never drops pasted text: a multi-line paste is kept, joined, and the agent told so."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


def joined(text: str) -> tuple[str, int]:
    """`text` on one line (its non-empty lines joined by a space) and how many lines it had."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines), len(lines)


class OneLineInput(Input):
    """Textual's Input keeps only a paste's first line, silently; this one keeps every line."""

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()
        if not event.text:
            return
        text, lines = joined(event.text)
        if self.max_length and len(self.value) - len(self.selected_text) + len(text) > self.max_length:
            self.notify(f"Not pasted: {len(text):,} characters, this box takes at most {self.max_length:,}.",
                        severity="warning")
            return
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(text)
        else:
            self.replace(text, *selection)
        if lines > 1:
            self.notify(f"Pasted {lines} lines as one line: this box takes a single line.")
