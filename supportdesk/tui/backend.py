"""The TUI's only door to the database: service calls, each in its own session (reads, and a fix's one write).

Called from worker threads. Services are imported lazily so the app starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.desk import Desk
    from supportdesk.desk.context import AppContext
    from supportdesk.stores.sync import SyncResult



class Backend:
    def __init__(self, state: AppContext) -> None:
        self.state = state

    @cached_property
    def desk(self) -> Desk:
        """The application layer (one per app): reconcile, audit, regions, stores and tickets go through it; the rest of
        this class moves there use case by use case."""
        from supportdesk.desk import Desk

        return Desk.open(self.state)

    def search(self, text: str) -> list[dict[str, Any]]:
        """Account summaries matching `text`; raises InvalidInput for a malformed query."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.state.engine) as session:
            return list(lookup.search(session, text)["accounts"])

    @property
    def search_limit(self) -> int:
        """How many accounts a search returns at most (a full list means there may be more)."""
        from supportdesk.services.lookup import SEARCH_LIMIT

        return SEARCH_LIMIT

    def story(self, query: str, *, check_ledger: bool = True) -> dict[str, Any]:
        """One account's money story (see `lookup.story`; without `check_ledger`, the cached balances and
        `ledger_check` to follow); raises NotFound."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.state.engine) as session:
            return lookup.story(session, query, check_ledger=check_ledger)

    def ledger_check(self, account_id: str) -> dict[str, Any]:
        """Both balances summed from the ledger with drift, the debt and the entry count."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.state.engine) as session:
            return lookup.ledger_check(session, account_id)

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

    def purchase_detail(self, purchase_id: str) -> dict[str, Any]:
        """One purchase's timeline, region then and refund decision now (see `services.purchase_detail`)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import purchase_detail, refunds

        with read_session(self.state.engine) as session:
            return purchase_detail.detail(session, purchase_id, self.refund_now(),
                                          refunds.policy_of(self.state.settings))

    @property
    def role(self) -> str:
        """The acting role (read once before the app starts, so no query here); the refund screen asks it."""
        return self.desk.ctx.identity.role

    def ledger_page(self, account_id: str, before_seq: int | None) -> dict[str, Any]:
        """The next page of an account's ledger, newest first (`entries`, `next`)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.state.engine) as session:
            return lookup.ledger_page(session, account_id, before_seq)

    # --- review ----------------------------------------------------------------------------------------------

    def review_act(self, flag_id: str, action: str, reason: str, ticket_id: str | None) -> dict[str, Any]:
        """`desk.review.act` as the configured actor: kept here as the seam tests patch (a refused decision)."""
        return self.desk.review.act(flag_id, action, self.desk.acting(None, reason, ticket_id)).to_json()

    # --- home ------------------------------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """The home screen: my open tickets and their deadlines, open flags by rule, stale stores, last reconcile."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import overview
        from supportdesk.stores.sync import configured_stores

        with read_session(self.state.engine) as session:  # deadlines on the stores' clock, as refunds count
            return overview.overview(session, self.state.identity.actor, self.refund_now(),
                                     configured_stores(self.state.settings))
