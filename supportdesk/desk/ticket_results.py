"""What `desk.tickets` answers: a ticket (as stored, as listed, in full), its messages and the actions under it,
each write's outcome, the macros. Built from the services' dicts; `to_json()` gives the command's documented JSON
(formats.md), the TUI reads the attributes.

Each class lists its stored table's columns in the table's order (tests check they stay the same set), so a
column added to the table shows up here on purpose, not by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self

from supportdesk.desk.accounts import EntryRow
from supportdesk.domain.tickets import waiting_on_store

Row = dict[str, Any]


def _when(value: datetime | str | None) -> datetime | None:
    """A time as the services give it: a datetime, or (from a replayed answer) its ISO 8601 text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _values(cls: type, row: Row, times: tuple[str, ...] = ()) -> Row:
    """The row's values of `cls`'s own column fields, times read back into datetimes."""
    return {f.name: _when(row[f.name]) if f.name in times else row[f.name] for f in fields(cls) if f.init}


def _json(obj: Any, skip: tuple[str, ...] = ()) -> Row:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.name not in skip}


@dataclass(frozen=True, kw_only=True)
class Ticket:
    """A ticket as stored (the `ticket` of create, take, assign, status, resolve, note and reply)."""

    ticket_id: str
    account_id: str
    subject: str
    body: str
    category: str
    status: str
    created_at: datetime
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    assignee: str | None

    TIMES = ("created_at", "resolved_at", "answer_due_at")

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(**_values(cls, row, cls.TIMES))

    def to_json(self) -> Row:
        return _json(self)


@dataclass(frozen=True, kw_only=True)
class ListedTicket(Ticket):
    """A ticket as `ticket list` shows it: with its account's `handle` and, when a store asked a question about
    it, when that must be answered (`answer_due_at`)."""

    handle: str | None
    answer_due_at: datetime | None

    @property
    def awaiting_answer(self) -> bool:
        """Unsolved, and its store asked a question with a deadline (an App Store consumption request)."""
        return waiting_on_store(self.status, self.answer_due_at)

    @property
    def due(self) -> datetime | None:
        """The store's deadline while it still asks something of us (None: nothing asked, or solved)."""
        return self.answer_due_at if self.awaiting_answer else None


@dataclass(frozen=True, kw_only=True)
class TicketMessage:
    """One message of a conversation: what the customer wrote (the ticket's own body first, `message_id` None),
    a reply (`sent_at`: when the outbox took it; None: not yet) or an internal note."""

    message_id: str | None
    ticket_id: str
    kind: str
    author: str
    body: str
    created_at: datetime
    macro: str | None
    sent_at: datetime | None

    @classmethod
    def of(cls, row: Row, ticket_id: str | None = None) -> Self:
        """`ticket_id`: the conversation's ticket, for the messages `ticket show` lists without it."""
        return cls(**_values(cls, {"ticket_id": ticket_id, **row}, ("created_at", "sent_at")))

    def to_json(self) -> Row:
        return _json(self)


@dataclass(frozen=True, kw_only=True)
class TicketAction:
    """An audit record under a ticket (the chain's hashes left out)."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    account_id: str | None
    ticket_id: str | None
    idempotency_key: str | None
    reason: str | None
    before: Row | None
    after: Row | None
    policy_version: int | None

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(**_values(cls, row))


@dataclass(frozen=True, kw_only=True)
class TicketDetail(ListedTicket):
    """`ticket show`: the ticket, its conversation oldest first, the audit records under it (`actions`) and the
    ledger entries under it (`entries`)."""

    messages: tuple[TicketMessage, ...]
    actions: tuple[TicketAction, ...]
    entries: tuple[EntryRow, ...]  # the ledger entries posted under the ticket

    @classmethod
    def of(cls, row: Row) -> Self:
        base = _values(ListedTicket, row, cls.TIMES)
        return cls(**base, messages=tuple(TicketMessage.of(m, base["ticket_id"]) for m in row["messages"]),
                   actions=tuple(TicketAction.of(a) for a in row["actions"]),
                   entries=tuple(EntryRow.of(e) for e in row["entries"]))

    @property
    def last_reply(self) -> TicketMessage | None:
        return next((m for m in reversed(self.messages) if m.kind == "reply"), None)

    def to_json(self) -> Row:
        """`{"ticket": ...}`, the messages without their ticket id (it is the ticket's)."""
        return {"ticket": {**_json(self, ("messages", "actions", "entries")),
                           "messages": [_json(m, ("ticket_id",)) for m in self.messages],
                           "actions": [_json(a) for a in self.actions],
                           "entries": [_json(e) for e in self.entries]}}


# --- what a write did ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Created:
    """`ticket create`: the new ticket."""

    ticket: Ticket

    def to_json(self) -> Row:
        return {"ticket": self.ticket.to_json()}


@dataclass(frozen=True)
class Resolved:
    """`ticket resolve`: the ticket solved; `replayed` when it was solved with this note before. Its JSON is the
    stored, replayable answer (times as the audit log writes them)."""

    ticket: Ticket
    replayed: bool

    @classmethod
    def of(cls, body: Row) -> Resolved:
        return cls(Ticket.of(body["ticket"]), bool(body["replayed"]))

    def to_json(self) -> Row:
        from supportdesk.services.audit import plain

        return {**plain({"ticket": self.ticket.to_json()}), "replayed": self.replayed}


@dataclass(frozen=True)
class StatusSet:
    """`ticket status`: the ticket after; `changed` False when it already had that status (nothing written)."""

    ticket: Ticket
    changed: bool
    replayed: bool

    @classmethod
    def of(cls, body: Row) -> StatusSet:
        return cls(Ticket.of(body["ticket"]), bool(body["changed"]), bool(body["replayed"]))

    def to_json(self) -> Row:
        return {"ticket": self.ticket.to_json(), "changed": self.changed, "replayed": self.replayed}


@dataclass(frozen=True)
class Assigned:
    """`ticket take|assign`: the ticket after; `changed` False when it already was so (nothing written), else
    `previous`, the agent it was assigned to before (None: nobody)."""

    ticket: Ticket
    changed: bool
    replayed: bool
    previous: str | None = None

    @classmethod
    def of(cls, body: Row) -> Assigned:
        return cls(Ticket.of(body["ticket"]), bool(body["changed"]), bool(body["replayed"]), body.get("previous"))

    def to_json(self) -> Row:
        if not self.changed:
            return {"ticket": self.ticket.to_json(), "changed": False, "replayed": self.replayed}
        return {"ticket": self.ticket.to_json(), "changed": True, "previous": self.previous,
                "replayed": self.replayed}


@dataclass(frozen=True)
class Recorded:
    """`ticket note|received`: the message and the ticket after it; `replayed` when it was already there."""

    message: TicketMessage
    ticket: Ticket
    replayed: bool

    @classmethod
    def of(cls, body: Row) -> Recorded:
        return cls(TicketMessage.of(body["message"]), Ticket.of(body["ticket"]), bool(body["replayed"]))

    def to_json(self) -> Row:
        return {"message": self.message.to_json(), "ticket": self.ticket.to_json(), "replayed": self.replayed}


@dataclass(frozen=True)
class Sent:
    """`ticket reply`: the reply recorded and handed to the `outbox` (the file); `replayed` when it was recorded
    before, `sent_now` False when an earlier run had handed it over already (nothing sent again)."""

    message: TicketMessage
    ticket: Ticket
    replayed: bool
    sent_now: bool
    outbox: str

    @classmethod
    def of(cls, body: Row, outbox: str) -> Sent:
        return cls(TicketMessage.of(body["message"]), Ticket.of(body["ticket"]), bool(body["replayed"]),
                   bool(body["sent_now"]), outbox)

    def to_json(self) -> Row:
        return {"message": self.message.to_json(), "ticket": self.ticket.to_json(), "replayed": self.replayed,
                "sent_now": self.sent_now, "outbox": self.outbox}


# --- macros -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MacroInfo:
    """A reply template: its `placeholders` in order, and `unknown` ones named (such a macro cannot be filled)."""

    name: str
    title: str
    body: str
    placeholders: tuple[str, ...]
    unknown: tuple[str, ...]

    def to_json(self) -> Row:
        return {"name": self.name, "title": self.title, "body": self.body, "placeholders": list(self.placeholders),
                "unknown": list(self.unknown)}


@dataclass(frozen=True)
class Macros:
    """`macro list`: every macro, and what each placeholder stands for."""

    macros: tuple[MacroInfo, ...]
    placeholders: dict[str, str]

    @classmethod
    def of(cls, body: Row) -> Macros:
        return cls(tuple(MacroInfo(m["name"], m["title"], m["body"], tuple(m["placeholders"]), tuple(m["unknown"]))
                         for m in body["macros"]), dict(body["placeholders"]))

    def to_json(self) -> Row:
        return {"macros": [m.to_json() for m in self.macros], "placeholders": self.placeholders}


@dataclass(frozen=True)
class FilledMacro:
    """`macro show`: the macro filled for a ticket, as a reply from it would send it."""

    macro: str
    title: str
    body: str

    def to_json(self) -> Row:
        return {"macro": self.macro, "title": self.title, "body": self.body}
