"""The refund panel's dialogs: the cause picked from a list, and apply's amount, reason and ticket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from supportdesk.domain.money import format_money, parse_money
from supportdesk.domain.refunds import CAUSE_WORDS, CAUSES
from supportdesk.errors import InvalidInput
from supportdesk.tui.format import VisibleControls
from supportdesk.tui.screens.reason import Answer, ReasonScreen
from supportdesk.tui.widgets.one_line import OneLineInput


@dataclass(frozen=True)
class RefundAnswer:
    amount_minor: int | None  # None: all the decision refunds
    reason: str
    ticket: str | None
    amount_text: str = ""


class CausePicker(ModalScreen[str | None]):
    """Dismisses with the cause picked, or None when cancelled."""

    DEFAULT_CSS = """
    CausePicker { align: center middle; }
    #cp-box { width: 72; height: auto; max-height: 12; border: round $primary; background: $panel; }
    #cp-list { height: auto; max-height: 8; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="cancel_cause")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="cp-box") as box:
            box.border_title = "Why is this refunded?"
            yield OptionList(*(Option(f"{cause:<10}{CAUSE_WORDS[cause]}", id=cause) for cause in CAUSES),
                             id="cp-list")
            yield Static("Enter pick · Esc cancel · fraud also claws back diamonds (policy)", classes="hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        picker.highlighted = CAUSES.index(self.current) if self.current in CAUSES else 0
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RefundDialog(ReasonScreen):
    """The reason dialog with the amount first: all of the decision's amount, or a part of it (web only)."""

    FIRST_FIELD = "#amount"

    def __init__(self, what: str, full_minor: int, currency: str, store: str, last: RefundAnswer | None, *,
                 account_id: str | None = None) -> None:
        super().__init__("Refund", what, last.reason if last else "", (last.ticket or "") if last else "",
                         ticket_as_typed=last is not None, account_id=account_id)
        self.full_minor, self.currency, self.store = full_minor, currency, store
        self.amount_text = last.amount_text if last else format_money(full_minor, currency).rsplit(" ", 1)[0]
        self.amount_minor: int | None = None

    def extra_fields(self) -> ComposeResult:
        part = "Google Play refunds whole orders only" if self.store == "google" else "or a part of it"
        yield Label(f"Amount in {self.currency} (at most {format_money(self.full_minor, self.currency)}; {part}):")
        yield OneLineInput(self.amount_text, placeholder="e.g. 4.99", id="amount", max_length=24, compact=True,
                           highlighter=VisibleControls())

    def extra_problem(self) -> str | None:
        box = self.query_one("#amount", Input)
        self.amount_text = box.value.strip()
        try:
            minor = parse_money(self.amount_text, self.currency)
            problem = None
            if minor <= 0:
                problem = "Amount: more than 0."
            elif minor > self.full_minor:
                problem = f"Amount: at most {format_money(self.full_minor, self.currency)}."
            elif minor < self.full_minor and self.store == "google":
                problem = "Amount: Google Play refunds whole orders only; a part is refunded in the Play Console."
        except InvalidInput as exc:
            problem = f"Amount: {exc.message}."
        if problem:
            box.focus()
            return problem
        self.amount_minor = None if minor == self.full_minor else minor
        return None

    def answer(self, given: Answer) -> RefundAnswer:
        return RefundAnswer(self.amount_minor, given[0], given[1], self.amount_text)
