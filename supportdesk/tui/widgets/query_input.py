"""An input for ids, names and dates, where '?' is never typed: there it opens help, even while typing."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from supportdesk.tui.format import VisibleControls
from supportdesk.tui.widgets.one_line import OneLineInput


class QueryInput(OneLineInput):
    BINDINGS = [Binding("question_mark", "app.help", "Help", priority=True, id="help")]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("highlighter", VisibleControls())  # a pasted ESC is shown, not sent
        super().__init__(*args, **kwargs)
