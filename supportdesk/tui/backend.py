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
        """The application layer (one per app): reconcile, audit, regions and stores go through it; the rest of
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

    refund_clients: dict[str, Any] | None = None  # store clients to use instead of the configured ones (tests)

    def refund_now(self) -> Any:
        """The stores' clock when the config fixes it (the emulator), else now: refund windows count from it."""
        from datetime import UTC, datetime

        from supportdesk.stores.sync import store_clock

        return store_clock(self.state.settings) or datetime.now(UTC)

    def refund_decision(self, purchase_id: str, cause: str = "remorse", *, ticket_id: str | None = None,
                        override: bool = False, amount_minor: int | None = None) -> dict[str, Any]:
        """`decision`, `purchase`, `clawback` for one purchase (see `services.refunds.decide`): the window counted
        to `ticket_id`'s creation, what a lead's `override` would do, a part of the amount."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import refunds

        with read_session(self.state.engine) as session:
            return refunds.plain(refunds.decide(session, purchase_id, self.refund_now(),
                                                refunds.policy_of(self.state.settings), cause, ticket_id=ticket_id,
                                                override=override, amount_minor=amount_minor))

    def purchase_detail(self, purchase_id: str) -> dict[str, Any]:
        """One purchase's timeline, region then and refund decision now (see `services.purchase_detail`)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import purchase_detail, refunds

        with read_session(self.state.engine) as session:
            return purchase_detail.detail(session, purchase_id, self.refund_now(),
                                          refunds.policy_of(self.state.settings))

    def apply_refund(self, purchase_id: str, reason: str, ticket_id: str | None, cause: str = "remorse", *,
                     override: bool = False, amount_minor: int | None = None) -> dict[str, Any]:
        """Carry the refund out once (store call, clawback) as the configured actor; raises the store's errors."""
        from supportdesk.services import refunds

        ctx = self.state.action_context(None, reason, ticket_id)
        return refunds.apply(self.state.engine, purchase_id, ctx, self.state.settings, self.refund_clients,
                             now=self.refund_now(), cause=cause, override=override, amount_minor=amount_minor)

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

    def refund_words(self, view: dict[str, Any], reason: str, ticket_id: str | None) -> tuple[str, list[str]]:
        """The confirmation question and the clawback lines, in the CLI's words."""
        from supportdesk.services.refunds import clawback_lines, question

        return question(view, reason, ticket_id, False), clawback_lines(view["clawback"])

    # --- review ----------------------------------------------------------------------------------------------

    def review_act(self, flag_id: str, action: str, reason: str, ticket_id: str | None) -> dict[str, Any]:
        """`desk.review.act` as the configured actor: kept here as the seam tests patch (a refused decision)."""
        return self.desk.review.act(flag_id, action, self.desk.acting(None, reason, ticket_id)).to_json()

    # --- tickets and the audit trail -------------------------------------------------------------------------

    def tickets(self, status: str | None = None, account_id: str | None = None, mine: bool = False
                ) -> dict[str, Any]:
        """`tickets` (newest first, at most 200) and `total`, as `ticket list` shows them; `status` is a filter
        name (domain.tickets.FILTERS; None: unsolved); `mine`: only those assigned to me (`--mine`)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import tickets

        with read_session(self.state.engine) as session:
            return tickets.list_tickets(session, status=status, account_id=account_id,
                                        assignee=self.state.identity.actor if mine else None)

    # --- the conversation ------------------------------------------------------------------------------------

    def record_message(self, ticket_id: str, kind: str, body: str) -> dict[str, Any]:
        """An internal note (`note`) or what the customer wrote (`customer`), as `ticket note` records it."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import conversation

        ctx = self.state.action_context(None, None, ticket_id)
        with write_session(self.state.engine) as session:
            return conversation.record(session, ticket_id, kind, body, ctx)

    def send_reply(self, ticket_id: str, body: str, status: str | None, macro: str | None) -> dict[str, Any]:
        """Record the reply and hand it to the outbox once, as `ticket reply` does."""
        from supportdesk.services import conversation
        from supportdesk.services.outbox import FileOutbox

        ctx = self.state.action_context(None, None, ticket_id)
        return conversation.reply(self.state.engine, ticket_id, body, ctx, FileOutbox(self.state.settings.outbox),
                                  status=status, macro=macro)

    def take_ticket(self, ticket_id: str) -> dict[str, Any]:
        """Assign the ticket to me (`ticket take`)."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import tickets

        ctx = self.state.action_context(None, None, ticket_id)
        with write_session(self.state.engine) as session:
            return tickets.assign(session, ticket_id, ctx.actor, ctx)

    def set_ticket_status(self, ticket_id: str, status: str, reason: str) -> dict[str, Any]:
        """`ticket status`: pending, on-hold, open, solved (closed: leads)."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import tickets

        ctx = self.state.action_context(None, reason, ticket_id)
        with write_session(self.state.engine) as session:
            return tickets.set_status(session, ticket_id, status, ctx)

    def macros(self) -> list[dict[str, Any]]:
        """Every macro (name, title, body, placeholders), as `macro list` shows them; no database call."""
        from supportdesk.services import conversation

        return list(conversation.macro_list(self.state.settings.macros)["macros"])

    def render_macro(self, ticket_id: str, name: str) -> dict[str, Any]:
        """The macro filled for the ticket (`macro`, `title`, `body`); raises naming a placeholder nothing fills."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import conversation, refunds

        with read_session(self.state.engine) as session:
            return conversation.render_macro(session, ticket_id, name, self.state.settings.macros,
                                             agent=self.state.identity.actor, now=self.refund_now(),
                                             policy=refunds.policy_of(self.state.settings))

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        """One ticket with `actions` (its audit records) and `entries` (ledger entries under it); raises NotFound."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import tickets

        with read_session(self.state.engine) as session:
            return tickets.show(session, ticket_id)["ticket"]

    def create_ticket(self, account_id: str, subject: str, body: str, category: str) -> dict[str, Any]:
        """Open a ticket on an account as the configured actor (audited); the new ticket."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import tickets

        ctx = self.state.action_context(None, "new ticket", None)
        with write_session(self.state.engine) as session:
            return tickets.create(session, account_id, subject, body, category, ctx)["ticket"]

    def resolve_ticket(self, ticket_id: str, note: str) -> dict[str, Any]:
        """Resolve once with a note (the same note again replays); the result with `replayed`."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import tickets

        ctx = self.state.action_context(None, note, ticket_id)
        with write_session(self.state.engine) as session:
            return tickets.resolve(session, ticket_id, note, ctx)

    # --- home ------------------------------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """The home screen: my open tickets and their deadlines, open flags by rule, stale stores, last reconcile."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import overview
        from supportdesk.stores.sync import configured_stores

        with read_session(self.state.engine) as session:  # deadlines on the stores' clock, as refunds count
            return overview.overview(session, self.state.identity.actor, self.refund_now(),
                                     configured_stores(self.state.settings))
