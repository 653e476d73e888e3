"""Goodwill credit and status change from the account screen: coins or the move, a reason and a ticket, the
confirmation in the CLI's words, the call in a worker; the account reloads and says what happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widgets import Input, Label, Select

from supportdesk.domain.money import MAX_COINS
from supportdesk.errors import SupportdeskError
from supportdesk.tui.format import VisibleControls
from supportdesk.tui.screens.confirm import ConfirmScreen
from supportdesk.tui.screens.reason import Answer, ReasonScreen
from supportdesk.tui.widgets.one_line import OneLineInput

if TYPE_CHECKING:
    from supportdesk.desk.accounts import AccountInfo
    from supportdesk.tui.navigation import AccountView

# The move an agent most likely wants from each status comes first in the list.
MOVES = ("limit", "unlimit", "suspend", "reactivate")
LIKELY = {"active": "limit", "limited": "unlimit", "suspended": "reactivate"}


@dataclass
class Form:
    """What the dialog asked besides the reason; shared with the dialog shown again after a declined confirmation."""

    coins_text: str = ""
    coins: int = 0
    move: str = "limit"


class CreditScreen(ReasonScreen):
    """The reason dialog with the coins first."""

    FIRST_FIELD = "#coins"

    def __init__(self, what: str, form: Form, reason: str = "", ticket: str = "", *,
                 ticket_as_typed: bool = False, account_id: str | None = None) -> None:
        super().__init__("Goodwill credit", what, reason, ticket, ticket_as_typed=ticket_as_typed,
                         account_id=account_id)
        self.form = form

    def again(self, answer: Answer) -> CreditScreen:
        return CreditScreen(self.what, self.form, answer[0], answer[1] or "", ticket_as_typed=True,
                            account_id=self.account_id)

    def extra_fields(self) -> ComposeResult:
        yield Label("Coins to credit:")
        yield OneLineInput(self.form.coins_text, placeholder="e.g. 700", id="coins", max_length=16, compact=True,
                           highlighter=VisibleControls())

    def extra_problem(self) -> str | None:
        box = self.query_one("#coins", Input)
        self.form.coins_text = box.value.strip()
        digits = self.form.coins_text.replace(",", "").replace("_", "")
        problem = None
        if not digits.isdigit():
            problem = "Coins: a whole number of coins, like 700."
        elif not 0 < int(digits) <= MAX_COINS:
            problem = f"Coins: more than 0 and at most {MAX_COINS:,}."
        if problem:
            box.focus()
            return problem
        self.form.coins = int(digits)
        return None


class StatusScreen(ReasonScreen):
    """The reason dialog with the move (limit, unlimit, suspend, reactivate) first."""

    FIRST_FIELD = "#move"

    def __init__(self, what: str, form: Form, reason: str = "", ticket: str = "", *,
                 ticket_as_typed: bool = False, account_id: str | None = None) -> None:
        super().__init__("Change status", what, reason, ticket, ticket_as_typed=ticket_as_typed,
                         account_id=account_id)
        self.form = form

    def again(self, answer: Answer) -> StatusScreen:
        return StatusScreen(self.what, self.form, answer[0], answer[1] or "", ticket_as_typed=True,
                            account_id=self.account_id)

    def extra_fields(self) -> ComposeResult:
        yield Label("Change (suspend and reactivate: leads only):")
        yield Select([(m, m) for m in MOVES], value=self.form.move, allow_blank=False, id="move", compact=True)

    def extra_problem(self) -> str | None:
        self.form.move = str(self.query_one("#move", Select).value)
        return None


def _who(account: AccountInfo) -> str:
    return f"{account.handle} ({account.account_id})"


def _ticket(ticket: str | None) -> str:
    return f", ticket {ticket}" if ticket else ", no ticket"


def open_credit(screen: AccountView) -> None:
    if screen.story is None:
        screen.notify("Wait for the account to load.", severity="warning")
        return
    account, form = screen.story.account, Form()
    coins = screen.story.balances.coin.ledger
    coins = screen.story.balances.coin.cached if coins is None else coins  # the ledger not summed yet
    dialog = CreditScreen(f"{_who(account)} has {coins:,} coins. A goodwill credit posts a grant, once.", form,
                          account_id=account.account_id)

    def question(answer: Answer) -> ConfirmScreen:
        return ConfirmScreen(f"Credit {form.coins:,} coins to {_who(account)}, reason {answer[0]!r}"
                             f"{_ticket(answer[1])}?", title="Credit coins?")

    goodwill = screen.backend.desk.goodwill
    _ask(screen, dialog, question, lambda a: goodwill.check_credit(account.account_id, form.coins, *a),
         lambda a: goodwill.credit_now(account.account_id, form.coins, *a).to_json(), _credited)


def open_status(screen: AccountView) -> None:
    if screen.story is None:
        screen.notify("Wait for the account to load.", severity="warning")
        return
    account = screen.story.account
    form = Form(move=LIKELY.get(account.status, "limit"))
    dialog = StatusScreen(f"{_who(account)} is {account.status}.", form, account_id=account.account_id)

    def question(answer: Answer) -> ConfirmScreen:
        return ConfirmScreen(f"{form.move.capitalize()} {_who(account)}, reason {answer[0]!r}{_ticket(answer[1])}?",
                             title="Change status?")

    goodwill = screen.backend.desk.goodwill
    _ask(screen, dialog, question, lambda a: goodwill.check_status(account.account_id, form.move, *a),
         lambda a: goodwill.status_now(account.account_id, form.move, *a).to_json(),
         _status_changed)


def _ask(screen: AccountView, dialog: ReasonScreen, question: Callable[[Answer], ConfirmScreen],
         check: Callable[[Answer], object], call: Callable[[Answer], dict[str, Any]],
         said: Callable[[dict[str, Any]], str]) -> None:
    """Reason; the action checked in a worker (coins, the agent's limit, the move, the account): a refusal comes
    back in the dialog as typed, before any confirmation; then the confirmation, and the call in a worker of the
    account screen (failures: its error modal); the account reloads with what happened said first."""

    def given(answer: Answer | None) -> None:
        if answer is not None:
            screen.run_worker(lambda: checked(answer), thread=True, group="account-action", exit_on_error=False)

    def checked(answer: Answer) -> None:
        try:
            check(answer)
        except SupportdeskError as refusal:
            screen.app.call_from_thread(refused, answer, refusal.message)
        else:
            screen.app.call_from_thread(confirm, answer)

    def refused(answer: Answer, message: str) -> None:
        again = dialog.again(answer)
        again.problem = message
        screen.app.push_screen(again, given)

    def confirm(answer: Answer) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                screen.run_worker(lambda: run(answer), thread=True, group="account-action", exit_on_error=False)
            else:
                screen.app.push_screen(dialog.again(answer), given)

        screen.app.push_screen(question(answer), confirmed)

    def done(result: dict[str, Any]) -> None:
        screen.notify(said(result), markup=False)
        screen.action_refresh()

    def run(answer: Answer) -> None:
        result = call(answer)
        screen.app.call_from_thread(done, result)

    screen.app.push_screen(dialog, given)


def _credited(r: dict[str, Any]) -> str:
    if r["replayed"]:
        return f"Already credited {r['coins']:,} coins to {r['handle']} (replayed, nothing changed)."
    return f"Credited {r['coins']:,} coins to {r['handle']}: balance {r['balance_after']:,} coins."


def _status_changed(r: dict[str, Any]) -> str:
    if not r["changed"]:
        return f"{r['handle']} is already {r['after']}: nothing changed."
    return f"{r['handle']}: {r['before']} -> {r['after']}."
