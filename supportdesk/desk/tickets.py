"""Tickets and their conversation: list, show, create, resolve; reply (the outbox), note, what the customer wrote;
take, assign, status; the macros (list, fill for a ticket).

Each write is audited and done once (as the actor `Desk.acting` names); a refusal writes nothing. The answers are
typed (`desk.ticket_results`): the CLI prints their `to_json()`, the TUI reads their attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from supportdesk.desk.ticket_results import (
    Assigned,
    Created,
    FilledMacro,
    ListedTicket,
    Macros,
    Recorded,
    Resolved,
    Sent,
    StatusSet,
    Ticket,
    TicketDetail,
)

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk

Row = dict[str, Any]


def categories() -> tuple[str, ...]:
    """What a ticket can be about (the service's list, loaded when first asked)."""
    from supportdesk.services.tickets import CATEGORIES

    return CATEGORIES


@dataclass(frozen=True)
class TicketList:
    """`tickets` (newest first, at most 200) of `total`; `filter` and the `statuses` it means (None: every one);
    `assignee` when only one agent's."""

    tickets: tuple[ListedTicket, ...]
    total: int
    filter: str
    statuses: tuple[str, ...] | None
    assignee: str | None

    @classmethod
    def of(cls, body: Row) -> TicketList:
        statuses = body.get("statuses")
        return cls(tuple(ListedTicket.of(t) for t in body["tickets"]), int(body["total"]), str(body["filter"]),
                   None if statuses is None else tuple(statuses), body.get("assignee"))

    def to_json(self) -> Row:
        return {"tickets": [t.to_json() for t in self.tickets], "total": self.total, "filter": self.filter,
                "statuses": None if self.statuses is None else list(self.statuses), "assignee": self.assignee}


@dataclass
class Preview:
    """A reply as it would be sent (`ticket reply --dry-run`): nothing sent, nothing written."""

    ticket_id: str
    to: str
    macro: str | None
    body: str
    status: str

    def to_json(self) -> Row:
        return {"dry_run": True, "ticket_id": self.ticket_id, "to": self.to, "macro": self.macro, "body": self.body,
                "status": self.status}


class TicketDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    # --- tickets -------------------------------------------------------------------------------------------

    def list(self, status: str | None = None, *, account: str | None = None, account_id: str | None = None,
             mine: bool = False) -> TicketList:
        """Tickets, newest first; `status` a filter name (domain.tickets.FILTERS; None: unsolved); `account`: any
        key (looked up), or `account_id` itself; `mine`: only those assigned to me."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup, tickets

        with read_session(self.desk.engine) as session:
            if account:
                account_id = lookup.resolve_account(session, account).account_id
            assignee = self.desk.ctx.identity.actor if mine else None
            return TicketList.of(tickets.list_tickets(session, status=status, account_id=account_id,
                                                      assignee=assignee))

    def show(self, ticket_id: str) -> TicketDetail:
        """The ticket with its `messages`, `actions` (its audit records) and `entries` (ledger entries under it);
        raises NotFound."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import tickets

        with read_session(self.desk.engine) as session:
            return TicketDetail.of(tickets.show(session, ticket_id)["ticket"])

    def create(self, account: str | None, subject: str, body: str = "", category: str = "other", *,
               account_id: str | None = None, actor: str | None = None) -> Created:
        """Open a ticket on an account (`account`: any key, or `account_id` itself), audited."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import lookup, tickets

        with write_session(self.desk.engine) as session:
            if account_id is None:
                account_id = lookup.resolve_account(session, account or "").account_id
            return Created(Ticket.of(tickets.create(session, account_id, subject, body, category,
                                                    self.desk.acting(actor, "new ticket", None))["ticket"]))

    def resolve(self, ticket_id: str, note: str, *, actor: str | None = None) -> Resolved:
        """Solve it with a note, once (the same note again replays: `replayed`)."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import tickets

        who = self.desk.acting(actor, note, ticket_id)
        with write_session(self.desk.engine) as session:
            return Resolved.of(tickets.resolve(session, ticket_id, note, who))

    def take(self, ticket_id: str, *, actor: str | None = None) -> Assigned:
        """Assign it to me (an agent takes unassigned tickets; a lead any)."""
        who = self.desk.acting(actor, None, ticket_id)
        return self._assign(ticket_id, who.actor, who)

    def assign(self, ticket_id: str, to: str | None, *, nobody: bool = False,
               actor: str | None = None) -> Assigned:
        """Assign it to `to`, or to nobody (taking it from another agent is a lead's)."""
        from supportdesk.errors import InvalidInput

        who = self.desk.acting(actor, None, ticket_id)
        if (to is None) == (not nobody):
            raise InvalidInput("say who: --to NAME, or --nobody to unassign")
        return self._assign(ticket_id, to, who)

    def _assign(self, ticket_id: str, to: str | None, who: Any) -> Assigned:
        from supportdesk.db.engine import write_session
        from supportdesk.services import tickets

        with write_session(self.desk.engine) as session:
            return Assigned.of(tickets.assign(session, ticket_id, to, who))

    def set_status(self, ticket_id: str, status: str, reason: str, *, actor: str | None = None) -> StatusSet:
        """pending, on-hold, open, solved or (a lead) closed; the same status again changes nothing (`changed`)."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import tickets

        who = self.desk.acting(actor, reason, ticket_id)
        with write_session(self.desk.engine) as session:
            return StatusSet.of(tickets.set_status(session, ticket_id, status, who))

    # --- the conversation ----------------------------------------------------------------------------------

    @property
    def outbox(self) -> str:
        """Where replies go (the configured outbox file)."""
        return str(self.desk.settings.outbox)

    def record(self, ticket_id: str, kind: str, body: str, *, actor: str | None = None,
               key: str | None = None) -> Recorded:
        """An internal note (`note`) or what the customer wrote (`customer`: reopens a pending or solved ticket),
        once per `key`."""
        from supportdesk.db.engine import write_session
        from supportdesk.services import conversation

        who = self.desk.acting(actor, None, ticket_id)
        with write_session(self.desk.engine) as session:
            return Recorded.of(conversation.record(session, ticket_id, kind, body, who, key=key))

    def send(self, ticket_id: str, body: str, *, status: str | None = None, macro: str | None = None,
             actor: str | None = None, key: str | None = None) -> Sent:
        """Record the reply `body` (`macro`: the one it was filled from) and hand it to the outbox once."""
        who = self.desk.acting(actor, None, ticket_id)
        return self._send(ticket_id, body, who, status, macro, key)

    def _send(self, ticket_id: str, body: str, who: Any, status: str | None, macro: str | None,
              key: str | None) -> Sent:
        from supportdesk.services import conversation
        from supportdesk.services.outbox import FileOutbox

        return Sent.of(conversation.reply(self.desk.engine, ticket_id, body, who,
                                          FileOutbox(self.desk.settings.outbox), status=status, macro=macro,
                                          key=key), self.outbox)

    def reply(self, ticket_id: str, body: str | None = None, *, macro: str | None = None,
              purchase: str | None = None, status: str | None = None, dry_run: bool = False,
              actor: str | None = None, key: str | None = None) -> Sent | Preview:
        """`ticket reply`: the text given (`body`) or a `macro` filled for the ticket (about `purchase`); with
        `dry_run` the `Preview` only, else sent once."""
        from supportdesk.errors import InvalidInput

        if (body is None) == (macro is None):
            raise InvalidInput("give the reply as --body TEXT or --macro NAME (one of them)")
        who = self.desk.acting(actor, None, ticket_id)
        text = body or ""
        if macro is not None:
            text = self.render_macro(ticket_id, macro, purchase=purchase, agent=who.actor).body
        if dry_run:
            return self.preview(ticket_id, text, status=status, macro=macro)
        return self._send(ticket_id, text, who, status, macro, key)

    def preview(self, ticket_id: str, body: str, *, status: str | None = None, macro: str | None = None) -> Preview:
        """The reply checked as sending would check it (text, status), to whom; nothing written."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import conversation

        with read_session(self.desk.engine) as session:
            t, account, text, after = conversation.check(session, ticket_id, "reply", body, status)
        return Preview(t.ticket_id, account.email, macro, text, after or t.status)

    # --- macros --------------------------------------------------------------------------------------------

    def macro_list(self) -> Macros:
        """Every macro (name, title, body, placeholders, unknown ones named); no database call."""
        from supportdesk.services import conversation

        return Macros.of(conversation.macro_list(self.desk.settings.macros))

    def render_macro(self, ticket_id: str, name: str, *, purchase: str | None = None,
                     agent: str | None = None) -> FilledMacro:
        """The macro filled for the ticket, as `agent` (default: me), on the stores'
        clock and the refund policy; raises naming a placeholder nothing fills."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import conversation

        with read_session(self.desk.engine) as session:
            filled = conversation.render_macro(session, ticket_id, name, self.desk.settings.macros,
                                               agent=agent or self.desk.ctx.identity.actor, purchase=purchase,
                                               now=self.desk.now(), policy=self.desk.refund_policy)
        return FilledMacro(filled["macro"], filled["title"], filled["body"])
