"""`Desk`: settings, engine, actor, clock and store clients, read once; the use cases hang off it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from supportdesk.config import Settings
    from supportdesk.desk.accounts import AccountDesk
    from supportdesk.desk.audit import AuditDesk
    from supportdesk.desk.cashouts import CashoutDesk
    from supportdesk.desk.context import AppContext
    from supportdesk.desk.goodwill import GoodwillDesk
    from supportdesk.desk.reconcile import ReconcileDesk
    from supportdesk.desk.refunds import RefundDesk
    from supportdesk.desk.regions import RegionDesk
    from supportdesk.desk.review import ReviewDesk
    from supportdesk.desk.stores import StoreDesk
    from supportdesk.desk.tickets import TicketDesk
    from supportdesk.domain.refunds import Policy
    from supportdesk.services.audit import ActionContext


class Desk:
    """One per CLI command or TUI app. Nothing is read until a use case needs it (the engine, the clock)."""

    def __init__(self, ctx: AppContext, *, clients: Mapping[str, Any] | None = None) -> None:
        self.ctx = ctx
        self.clients: dict[str, Any] | None = dict(clients) if clients else None

    @classmethod
    def open(cls, ctx: AppContext, *, clients: Mapping[str, Any] | None = None) -> Desk:
        return cls(ctx, clients=clients)

    # --- what every use case shares ------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def engine(self) -> Engine:
        """The database (schema checked, policy in force read) on first use."""
        return self.ctx.engine

    @cached_property
    def clock(self) -> datetime | None:
        """The stores' fixed clock when the config sets one (the emulator's --now), else None: read once."""
        from supportdesk.stores.sync import store_clock

        return store_clock(self.settings)

    def now(self) -> datetime:
        """The stores' now: windows and refund periods count from it."""
        return self.clock or datetime.now(UTC)

    @cached_property
    def refund_policy(self) -> Policy:
        from supportdesk.services.refunds import policy_of

        return policy_of(self.settings)

    def acting(self, actor: str | None = None, reason: str | None = None,
               ticket: str | None = None) -> ActionContext:
        """Who acts (the configured agent unless `actor`; the connected role on PostgreSQL), why, under which
        ticket (checked to exist now, before any confirmation is asked), with the role's limits."""
        return self.ctx.action_context(actor, reason, ticket)

    def account_id(self, query: str) -> str:
        """The account any key names (handle, id, email, store id); raises NotFound or InvalidInput."""
        from supportdesk.db.engine import read_session
        from supportdesk.services.lookup import resolve_account

        with read_session(self.engine) as session:
            return str(resolve_account(session, query).account_id)

    # --- the use cases -------------------------------------------------------------------------------------

    @cached_property
    def reconcile(self) -> ReconcileDesk:
        from supportdesk.desk.reconcile import ReconcileDesk

        return ReconcileDesk(self)

    @cached_property
    def audit(self) -> AuditDesk:
        from supportdesk.desk.audit import AuditDesk

        return AuditDesk(self)

    @cached_property
    def regions(self) -> RegionDesk:
        from supportdesk.desk.regions import RegionDesk

        return RegionDesk(self)

    @cached_property
    def stores(self) -> StoreDesk:
        from supportdesk.desk.stores import StoreDesk

        return StoreDesk(self)

    @cached_property
    def refunds(self) -> RefundDesk:
        from supportdesk.desk.refunds import RefundDesk

        return RefundDesk(self)

    @cached_property
    def tickets(self) -> TicketDesk:
        from supportdesk.desk.tickets import TicketDesk

        return TicketDesk(self)

    @cached_property
    def goodwill(self) -> GoodwillDesk:
        from supportdesk.desk.goodwill import GoodwillDesk

        return GoodwillDesk(self)

    @cached_property
    def cashouts(self) -> CashoutDesk:
        from supportdesk.desk.cashouts import CashoutDesk

        return CashoutDesk(self)

    @cached_property
    def review(self) -> ReviewDesk:
        from supportdesk.desk.review import ReviewDesk

        return ReviewDesk(self)

    @cached_property
    def accounts(self) -> AccountDesk:
        from supportdesk.desk.accounts import AccountDesk

        return AccountDesk(self)
