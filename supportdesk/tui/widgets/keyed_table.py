"""A row-cursor DataTable whose row keys are database ids, with a key to copy the focused id."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable

from supportdesk.tui.format import cell, shown


class PlainTable(DataTable[object]):
    """A DataTable whose str cells are data: shown as plain text (DataTable would parse them as markup)."""

    def add_row(self, *cells: object, **kwargs: Any) -> Any:
        return super().add_row(*(cell(c) for c in cells), **kwargs)

    def update_cell(self, row_key: Any, column_key: Any, value: object, *, update_width: bool = False) -> None:
        super().update_cell(row_key, column_key, cell(value), update_width=update_width)


class KeyedTable(PlainTable):
    BINDINGS = [Binding("c", "copy_id", "Copy id", show=False, id="copy_id")]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)

    @property
    def focused_key(self) -> str | None:
        """The database id of the row under the cursor, if any."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def action_copy_id(self) -> None:
        key = self.focused_key
        if key is None:
            self.notify("Nothing to copy: the list is empty.", severity="warning")
            return
        self.app.copy_to_clipboard(key)
        self.notify(f"Copied {shown(key)}", markup=False)
