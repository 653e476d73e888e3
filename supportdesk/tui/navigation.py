"""Navigation: the messages a screen posts to have another screen opened, and what screens may ask of the App.

A screen never imports a sibling screen: it posts `Open.X(...)` (messages bubble from a widget to its screen and
from a screen to the App), and the App (tui/app.py), which loads every screen (on first use, through
tui/registry.py), pushes the screen asked for. A dialog that answers something returns it with `dismiss`. This
module is a leaf: screens, the palette and the App all import it, and it imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, overload

from textual.message import Message

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel
    from textual.widget import Widget
    from textual.worker import Worker

    from supportdesk.desk.accounts import AccountStory, CashoutRow
    from supportdesk.desk.context import AppContext
    from supportdesk.tui.backend import Backend
    from supportdesk.tui.widgets.ticket_bar import Working

W = TypeVar("W", bound="Widget")
Callback = Callable[[], object]


class Desk(Protocol):
    """What screens and the palette may ask of the App besides navigation: the context, the backend and the
    ticket being worked. `desk_of(self.app)` gives it, typed."""

    state: AppContext
    backend: Backend
    working: Working | None

    @property
    def acting_as(self) -> str: ...

    @property
    def working_ticket(self) -> str | None: ...

    def work_ticket(self, ticket_id: str, about: str, account_id: str | None = None) -> None: ...

    def action_stop_working(self) -> None: ...


def desk_of(app: App[Any]) -> Desk:
    """The running App as a Desk (SupportDeskApp is one: app.py checks it)."""
    return cast("Desk", app)


class AccountView(Protocol):
    """What the account screen offers the flows started from it (refund, credit, status, new ticket)."""

    @property
    def story(self) -> AccountStory | None: ...

    @property
    def backend(self) -> Backend: ...

    @property
    def app(self) -> App[object]: ...

    @property
    def is_attached(self) -> bool: ...

    def action_refresh(self) -> None: ...

    def notify(self, message: str, *, severity: SeverityLevel = ..., markup: bool = ...) -> None: ...

    def run_worker(self, work: Callable[[], None], name: str | None = ..., group: str = ...,
                   description: str = ..., exit_on_error: bool = ..., start: bool = ..., exclusive: bool = ...,
                   thread: bool = ...) -> Worker[None]: ...

    @overload
    def query_one(self, selector: type[W]) -> W: ...

    @overload
    def query_one(self, selector: str, expect_type: type[W]) -> W: ...


class CashoutView(AccountView, Protocol):
    """The account screen as the cashout actions see it: the cashout under the cursor too."""

    def chosen_cashout(self) -> CashoutRow | None: ...


class Open:
    """Ask the App to open a screen (or start a dialog flow over the screen that asks)."""

    class Home(Message):
        """Back to the search screen with its home panel (Ctrl+O)."""

    class Search(Message):
        """Back to the search screen, the cursor in its box (/)."""

    class Account(Message):
        """One account. Over the current screen (Esc comes back), or, `from_search`, over the search screen (any
        other screen closed). `back_if_below`: when the screen below is that account's, go back to it instead."""

        def __init__(self, account_id: str, *, from_search: bool = False, back_if_below: bool = False) -> None:
            super().__init__()
            self.account_id = account_id
            self.from_search = from_search
            self.back_if_below = back_if_below

    class Purchase(Message):
        """One purchase; `money_moved` runs (from a worker thread) when a refund started there ends."""

        def __init__(self, purchase_id: str, money_moved: Callable[[], None] | None = None) -> None:
            super().__init__()
            self.purchase_id = purchase_id
            self.money_moved = money_moved

    class Refund(Message):
        """The refund panel of one purchase; `settled` runs (from the apply worker's thread) when it ends."""

        def __init__(self, purchase_id: str, settled: Callable[[], None] | None = None) -> None:
            super().__init__()
            self.purchase_id = purchase_id
            self.settled = settled

    class AccountRefund(Message):
        """The refund panel of the purchase under the account screen's cursor."""

        def __init__(self, account: AccountView) -> None:
            super().__init__()
            self.account = account

    class Credit(Message):
        """A goodwill credit to the account on screen: reason, confirmation, then the account reloads."""

        def __init__(self, account: AccountView) -> None:
            super().__init__()
            self.account = account

    class Status(Message):
        """Change the status of the account on screen: reason, confirmation, then the account reloads."""

        def __init__(self, account: AccountView) -> None:
            super().__init__()
            self.account = account

    class Cashout(Message):
        """Hold, release or reject the cashout under the account screen's cursor (`action`)."""

        def __init__(self, account: CashoutView, action: str) -> None:
            super().__init__()
            self.account = account
            self.action = action

    class NewTicket(Message):
        """A new ticket on the account on screen; the ticket opens once created."""

        def __init__(self, account: AccountView) -> None:
            super().__init__()
            self.account = account

    class Ticket(Message):
        """One ticket; `changed` runs when it comes back changed (resolved)."""

        def __init__(self, ticket_id: str, changed: Callback | None = None) -> None:
            super().__init__()
            self.ticket_id = ticket_id
            self.changed = changed

    class Tickets(Message):
        """The ticket list."""

    class Review(Message):
        """The review queue, of one rule or of all."""

        def __init__(self, rule: str | None = None) -> None:
            super().__init__()
            self.rule = rule

    class Region(Message):
        """What a country allows, as of a time; `purchase` is the one it is opened for, if any."""

        def __init__(self, country: str | None = None, at: str | None = None,
                     purchase: dict[str, Any] | None = None) -> None:
            super().__init__()
            self.country = country
            self.at = at
            self.purchase = purchase

    class Audit(Message):
        """The audit trail: all of it, or an account's, or a ticket's; `verify` checks the chain on opening."""

        def __init__(self, *, account_id: str | None = None, ticket_id: str | None = None,
                     label: str | None = None, verify: bool = False) -> None:
            super().__init__()
            self.account_id = account_id
            self.ticket_id = ticket_id
            self.label = label
            self.verify = verify

    class Reconcile(Message):
        """Reconcile every account (no id), or one over its account screen."""

        def __init__(self, account_id: str | None = None, handle: str | None = None) -> None:
            super().__init__()
            self.account_id = account_id
            self.handle = handle
