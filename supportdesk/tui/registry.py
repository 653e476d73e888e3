"""The screens, dialogs' openers and the palette the App opens, by name, each loaded the first time it is used.

The one place the TUI loads its own modules lazily (importlib): the first paint then imports the search screen and
nothing else of ours (each screen module costs its widgets, its domain rules and the desk modules it names; the
help screen alone costs Markdown and its parser). Each entry is "module:attribute"; the TYPE_CHECKING imports below
name the same objects, so mypy types every entry and the import contracts in pyproject.toml, which read those
imports, still see the App's arrows to its screens. tests/unit/test_tui_imports.py checks that every entry loads,
is what it says (a Screen, an opener, the palette) and matches its import below.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar

if TYPE_CHECKING:
    from supportdesk.tui.commands import AccountsProvider
    from supportdesk.tui.navigation import AccountView, CashoutView
    from supportdesk.tui.screens.account import AccountScreen
    from supportdesk.tui.screens.audit import AuditScreen
    from supportdesk.tui.screens.cashout import open_cashout
    from supportdesk.tui.screens.goodwill import open_credit, open_status
    from supportdesk.tui.screens.help import HelpScreen
    from supportdesk.tui.screens.new_ticket import open_new_ticket
    from supportdesk.tui.screens.purchase import PurchaseScreen
    from supportdesk.tui.screens.reconcile import ReconcileScreen
    from supportdesk.tui.screens.refund import RefundScreen, open_refund
    from supportdesk.tui.screens.region import RegionScreen
    from supportdesk.tui.screens.review import ReviewScreen
    from supportdesk.tui.screens.tickets import TicketScreen, TicketsScreen

T = TypeVar("T")
S = TypeVar("S")


class Lazy(Generic[T]):
    """`module:attribute`, imported when first asked for (Python keeps the module: later calls cost a lookup)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.module, _, self.attribute = target.partition(":")

    def load(self) -> T:
        value: T = getattr(importlib.import_module(self.module), self.attribute)
        return value

    def loaded(self) -> T | None:
        """The object if its module is already imported, else None (without importing it)."""
        module = sys.modules.get(self.module)
        return None if module is None else getattr(module, self.attribute, None)

    def __repr__(self) -> str:
        return f"Lazy({self.target!r})"


def showing(screen: object, lazy: Lazy[type[S]]) -> TypeGuard[S]:
    """`isinstance(screen, <the class>)` without importing it: a screen whose module was never loaded cannot be
    on the stack."""
    cls = lazy.loaded()
    return cls is not None and isinstance(screen, cls)


ACCOUNT: Lazy[type[AccountScreen]] = Lazy("supportdesk.tui.screens.account:AccountScreen")
AUDIT: Lazy[type[AuditScreen]] = Lazy("supportdesk.tui.screens.audit:AuditScreen")
HELP: Lazy[type[HelpScreen]] = Lazy("supportdesk.tui.screens.help:HelpScreen")
PURCHASE: Lazy[type[PurchaseScreen]] = Lazy("supportdesk.tui.screens.purchase:PurchaseScreen")
RECONCILE: Lazy[type[ReconcileScreen]] = Lazy("supportdesk.tui.screens.reconcile:ReconcileScreen")
REFUND: Lazy[type[RefundScreen]] = Lazy("supportdesk.tui.screens.refund:RefundScreen")
REGION: Lazy[type[RegionScreen]] = Lazy("supportdesk.tui.screens.region:RegionScreen")
REVIEW: Lazy[type[ReviewScreen]] = Lazy("supportdesk.tui.screens.review:ReviewScreen")
TICKET: Lazy[type[TicketScreen]] = Lazy("supportdesk.tui.screens.tickets:TicketScreen")
TICKETS: Lazy[type[TicketsScreen]] = Lazy("supportdesk.tui.screens.tickets:TicketsScreen")

# The flows started from the account screen: each asks its questions in dialogs, then acts in a worker.
OPEN_ACCOUNT_REFUND: Lazy[Callable[[AccountView], None]] = Lazy("supportdesk.tui.screens.refund:open_refund")
OPEN_CASHOUT: Lazy[Callable[[CashoutView, str], None]] = Lazy("supportdesk.tui.screens.cashout:open_cashout")
OPEN_CREDIT: Lazy[Callable[[AccountView], None]] = Lazy("supportdesk.tui.screens.goodwill:open_credit")
OPEN_NEW_TICKET: Lazy[Callable[[AccountView], None]] = Lazy("supportdesk.tui.screens.new_ticket:open_new_ticket")
OPEN_STATUS: Lazy[Callable[[AccountView], None]] = Lazy("supportdesk.tui.screens.goodwill:open_status")

# The command palette's provider: Textual calls it when the palette opens (App.COMMANDS takes a callable).
PALETTE: Lazy[type[AccountsProvider]] = Lazy("supportdesk.tui.commands:AccountsProvider")

SCREENS: dict[str, Lazy[Any]] = {
    "account": ACCOUNT, "audit": AUDIT, "help": HELP, "purchase": PURCHASE, "reconcile": RECONCILE,
    "refund": REFUND, "region": REGION, "review": REVIEW, "ticket": TICKET, "tickets": TICKETS,
}
OPENERS: dict[str, Lazy[Any]] = {
    "account_refund": OPEN_ACCOUNT_REFUND, "cashout": OPEN_CASHOUT, "credit": OPEN_CREDIT,
    "new_ticket": OPEN_NEW_TICKET, "status": OPEN_STATUS,
}


if TYPE_CHECKING:  # each opener's declared type above is its real signature: mypy checks these assignments
    _AS_DECLARED: tuple[Callable[[AccountView], None], Callable[[CashoutView, str], None],
                        Callable[[AccountView], None], Callable[[AccountView], None],
                        Callable[[AccountView], None]] = (
        open_refund, open_cashout, open_credit, open_new_ticket, open_status)
