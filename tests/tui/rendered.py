"""What a screen shows: the lines the terminal gets at the app's size, and every text a widget holds (also the
columns and rows scrolled out of an 80x24 view)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from textual.app import App
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static, Tree


async def shown_now(pilot: Pilot[Any]) -> str:
    """Let workers finish and the screen lay out (a pushed modal needs a few frames), then `rendered`."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    return rendered(pilot.app)


def rendered(app: App[Any]) -> str:
    """The screen as composed for the terminal (modals included), one line a row: text only, no styles."""
    update = app.screen._compositor.render_full_update(simplify=True)
    return "\n".join("".join(seg.text for strip in row for seg in strip) for row in update.strips)


def segments(app: App[Any]) -> list[str]:
    """Every segment's text the driver would write for the screen (where a raw ESC would go out)."""
    update = app.screen._compositor.render_full_update()
    return [seg.text for row in update.strips for strip in row for seg in strip]


def plain(renderable: Any) -> str:
    console = Console(width=200, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def contents(app: App[Any]) -> str:
    """The text of every Static, table cell, tree label and option on the current screen."""
    screen, parts = app.screen, []
    for static in screen.query(Static):
        content = static.content  # what the screen gave it: a str, Content, or a Rich renderable
        parts.append(str(static.render()) if isinstance(content, (str, Content)) else plain(content))
    for table in screen.query(DataTable):
        for row in range(table.row_count):
            parts.extend(plain(c) if not isinstance(c, str) else c for c in table.get_row_at(row))
    for tree in screen.query(Tree):
        stack = list(tree.root.children)
        while stack:
            node = stack.pop()
            parts.append(plain(node.label))
            stack.extend(node.children)
    for options in screen.query(OptionList):
        parts.extend(plain(options.get_option_at_index(i).prompt) for i in range(options.option_count))
    return "\n".join(parts)
