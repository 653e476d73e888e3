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

    def story(self, query: str, *, check_ledger: bool = True) -> dict[str, Any]:
        """`desk.accounts.story`, kept here because tests patch it."""
        return self.desk.accounts.story(query, check_ledger=check_ledger)

    def ledger_check(self, account_id: str) -> dict[str, Any]:
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

    def apply_refund(self, purchase_id: str, reason: str, ticket_id: str | None, cause: str = "remorse", *,
                     override: bool = False, amount_minor: int | None = None) -> dict[str, Any]:
        """Carry the refund out once (store call, clawback) as the configured actor; raises the store's errors."""
        from supportdesk.services import refunds

        ctx = self.state.action_context(None, reason, ticket_id)
        return refunds.apply(self.state.engine, purchase_id, ctx, self.state.settings, self.refund_clients,
                             now=self.refund_now(), cause=cause, override=override, amount_minor=amount_minor)

    @property
    def role(self) -> str:
        """The acting role (read once before the app starts, so no query here)."""
        return self.state.identity.role

    def credit(self, account_id: str, coins: int, reason: str, ticket_id: str | None) -> dict[str, Any]:
        """A goodwill grant as the configured actor, checked as the CLI checks it (role limit, ticket, amount)."""
        from supportdesk.services import goodwill

        ctx = self.state.action_context(None, reason, ticket_id)
        plan = goodwill.plan_credit(self.state.engine, account_id, coins, ctx)
        return goodwill.credit(self.state.engine, plan, ctx)

    def change_status(self, account_id: str, move: str, reason: str, ticket_id: str | None) -> dict[str, Any]:
        """limit, unlimit, suspend or reactivate as the configured actor (suspensions: leads only)."""
        from supportdesk.services import goodwill

        ctx = self.state.action_context(None, reason, ticket_id)
        return goodwill.change_status(self.state.engine, goodwill.plan_status(self.state.engine, account_id, move,
                                                                              ctx), ctx)

    def cashout_plan(self, cashout_id: str, action: str, reason: str, ticket_id: str | None) -> dict[str, Any]:
        """hold, release or reject checked as the CLI checks it (status, role, ticket); the plan and its question."""
        from supportdesk.services import cashouts

        plan = cashouts.plan_action(self.state.engine, cashout_id, action,
                                    self.state.action_context(None, reason, ticket_id))
        return {**plan, "question": cashouts.question(plan)}

    def cashout_act(self, plan: dict[str, Any]) -> dict[str, Any]:
        from supportdesk.services import cashouts

        ctx = self.state.action_context(None, plan["reason"], plan["ticket_id"])
        return cashouts.act(self.state.engine, plan, ctx)

    def refund_words(self, view: dict[str, Any], reason: str, ticket_id: str | None) -> tuple[str, list[str]]:
        """The confirmation question and the clawback lines, in the CLI's words."""
        from supportdesk.services.refunds import clawback_lines, question

        return question(view, reason, ticket_id, False), clawback_lines(view["clawback"])

    # --- review ----------------------------------------------------------------------------------------------

    def review_page(self, rule: str | None = None, *, decided: bool = False, after: tuple[int, str] | None = None,
                    ascending: bool = False, limit: int = 100) -> dict[str, Any]:
        """One keyset page of the stored queue (`flags`, without evidence; see `review.page`), and on the first
        page `counts` (flags by rule, of the statuses shown). Nothing is rebuilt: `review_rebuild` does that."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import review

        statuses = ("open", "cleared", *review.DECIDED) if decided else ("open",)
        with read_session(self.state.engine) as session:
            flags = review.page(session, rule, statuses, after=after, limit=limit, ascending=ascending)
            return {"flags": flags, "counts": review.counts(session, statuses) if after is None else None}

    def review_flag(self, flag_id: str) -> dict[str, Any]:
        """One flag with its evidence (the highlighted one)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import review

        with read_session(self.state.engine) as session:
            return review.get_flag(session, flag_id)

    def review_rebuild(self) -> dict[str, int]:
        """Run the rules and refresh the queue (decided flags stay decided): the rules read in one read
        transaction, the changes are written in short chunks, so other agents' writes hardly wait."""
        from supportdesk.services import review

        return review.rebuild(self.state.engine, self.state.settings.policy.get("review")).to_json()

    def review_act(self, flag_id: str, action: str, reason: str, ticket_id: str | None) -> dict[str, Any]:
        """Decide a flag once (as the configured actor and role); the flag afterwards and what was applied."""
        from supportdesk.db.engine import read_session, write_session
        from supportdesk.services import review

        ctx = self.state.action_context(None, reason, ticket_id)
        with write_session(self.state.engine) as session:
            applied = review.act(session, flag_id, action, ctx)
        with read_session(self.state.engine) as session:
            return {"flag": review.get_flag(session, flag_id), "applied": applied}

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
