"""The TUI's handle on the desk (supportdesk/desk/): one Desk per app, and the few one-line seams Pilot tests
patch (the stores' clock, the story, a sync, a flag decision). Called from worker threads."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.desk import Desk
    from supportdesk.desk.accounts import AccountStory, LedgerCheck
    from supportdesk.desk.context import AppContext
    from supportdesk.stores.sync import SyncResult


class Backend:
    def __init__(self, state: AppContext) -> None:
        self.state = state

    @cached_property
    def desk(self) -> Desk:
        """The application layer (one per app): every use case goes through it."""
        from supportdesk.desk import Desk

        return Desk.open(self.state)

    def story(self, query: str, *, check_ledger: bool = True) -> AccountStory:
        """`desk.accounts.story`, kept here because tests patch it."""
        return self.desk.accounts.story(query, check_ledger=check_ledger)

    def ledger_check(self, account_id: str) -> LedgerCheck:
        """`desk.accounts.ledger_check`, kept here because tests patch it."""
        return self.desk.accounts.ledger_check(account_id)

    # --- reconcile -------------------------------------------------------------------------------------------

    def sync_stores(self, account_id: str | None = None, *,
                    progress: Callable[[str, int, int | None], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> SyncResult | None:
        """The reconcile screen's sync first (see `ReconcileDesk.sync_first`), kept here as the seam tests stub."""
        desk = self.desk.reconcile
        return desk.sync_first(desk.for_account(account_id), progress=progress, cancelled=cancelled)

    # --- refunds ---------------------------------------------------------------------------------------------

    def refund_now(self) -> Any:
        """The stores' clock (the desk's; a pass-through Pilot tests patch): refund windows count from it."""
        return self.desk.now()

    @property
    def role(self) -> str:
        """The acting role (read once before the app starts, so no query here); the refund screen asks it."""
        return self.desk.ctx.identity.role

    # --- review ----------------------------------------------------------------------------------------------

    def review_act(self, flag_id: str, action: str, reason: str, ticket_id: str | None) -> dict[str, Any]:
        """`desk.review.act` as the configured actor: kept here as the seam tests patch (a refused decision)."""
        return self.desk.review.act(flag_id, action, self.desk.acting(None, reason, ticket_id)).to_json()
