"""Pick which review rule the queue shows: every rule in a list with its count, Enter picks, Esc keeps the filter."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from supportdesk.domain.review import RULES

EVERY = "every rule"


class RulePicker(ModalScreen[str | None]):
    """Dismisses with the rule picked ("" for every rule) or None when cancelled."""

    DEFAULT_CSS = """
    RulePicker { align: center middle; }
    #rp-box { width: 44; height: auto; max-height: 14; border: round $primary; background: $panel; }
    #rp-list { height: auto; max-height: 10; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="cancel_rule")]

    def __init__(self, rules: Counter[str], current: str | None) -> None:
        super().__init__()
        self.counts = rules
        self.current = current

    def compose(self) -> ComposeResult:
        total = sum(self.counts.values())
        options = [Option(f"{EVERY:<22}{total:>5}", id="")]
        options += [Option(f"{rule:<22}{self.counts.get(rule, 0):>5}", id=rule) for rule in RULES]
        with Vertical(id="rp-box") as box:
            box.border_title = "Show flags of"
            yield OptionList(*options, id="rp-list")
            yield Static("Enter pick · Esc cancel", classes="hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        picker.highlighted = picker.get_option_index(self.current or "")
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id or "")

    def action_cancel(self) -> None:
        self.dismiss(None)
