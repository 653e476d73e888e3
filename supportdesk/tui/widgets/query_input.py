"""An input for ids, names and dates, where '?' is never typed: there it opens help, even while typing."""

from __future__ import annotations

from textual.binding import Binding

from supportdesk.tui.widgets.one_line import OneLineInput


class QueryInput(OneLineInput):
    BINDINGS = [Binding("question_mark", "app.help", "Help", priority=True, id="help")]
