"""Tickets in the help-desk vocabulary: one status set, imported statuses mapped onto it, and ticket ids."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from supportdesk.errors import InvalidInput

T = TypeVar("T")

# What help desks use (Zendesk's set): new and open wait on us, pending on the customer, on-hold on a third party.
STATUSES = ("new", "open", "pending", "on-hold", "solved", "closed")
UNSOLVED = ("new", "open", "pending", "on-hold")
DONE = ("solved", "closed")
SOLVED = "solved"  # what resolving a ticket in the app sets
# Status filters an agent can pick: "unsolved" (everything still waiting on someone, the default), each status, "all".
FILTERS = ("unsolved", *STATUSES, "all")
DEFAULT_FILTER = "unsolved"
# Other help desks' words (lower-cased, spaces and underscores as hyphens) for the same states.
ALIASES = {
    "resolved": "solved", "done": "solved", "completed": "solved", "fixed": "solved",
    "hold": "on-hold", "onhold": "on-hold", "waiting": "pending", "awaiting-customer": "pending",
    "reopened": "open", "in-progress": "open", "active": "open", "archived": "closed",
}
TICKET_ID = re.compile(r"^T-(\d{1,12})$")  # ours; imported ones may be any id (TICKET_SHAPE)
TICKET_SHAPE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
FIRST_NUMBER = 1001


def ticket_status(raw: str) -> str:
    """The status in our vocabulary for any help desk's word for it; an unknown word is an error."""
    word = re.sub(r"[\s_]+", "-", (raw or "").strip().lower())
    status = ALIASES.get(word, word)
    if status not in STATUSES:
        raise InvalidInput(f"ticket status {raw!r} is not one of {', '.join(STATUSES)} (or a known alias)")
    return status


def filter_statuses(name: str | None) -> tuple[str, ...] | None:
    """The statuses a filter shows (None: every status); no name means the default filter, unsolved."""
    name = (name or DEFAULT_FILTER).strip().lower()
    if name == "all":
        return None
    if name in ("unsolved", "open-ish"):
        return UNSOLVED
    try:
        return (ticket_status(name),)
    except InvalidInput:
        raise InvalidInput(f"status filter must be one of {', '.join(FILTERS)} (unsolved: {', '.join(UNSOLVED)}), "
                           f"not {name!r}") from None


def ticket_id_of(text: str) -> str:
    """A typed ticket id, trimmed, with its prefix in capitals (`t-1016` is T-1016)."""
    value = (text or "").strip()
    if value[:2].lower() == "t-":
        value = "T-" + value[2:]
    return value


def ticket_number(ticket_id: str) -> int | None:
    match = TICKET_ID.match(ticket_id)
    return int(match.group(1)) if match else None


def waiting_on_store(status: str, answer_due_at: object) -> bool:
    """An unsolved ticket whose store asked a question with a deadline (an App Store consumption request)."""
    return status not in DONE and bool(answer_due_at)


def awaiting_answer(ticket: Mapping[str, Any]) -> bool:
    """`waiting_on_store` for a ticket row."""
    return waiting_on_store(ticket["status"], ticket.get("answer_due_at"))


def due_first(tickets: Iterable[T], due: Callable[[T], object]) -> list[T]:
    """Tickets with a store deadline still to meet (`due(t)`; None: none) first, the soonest first; the rest keep
    their order."""
    tickets = list(tickets)
    waiting = sorted((t for t in tickets if due(t)), key=lambda t: str(due(t)))
    return waiting + [t for t in tickets if not due(t)]


def deadlines_first(tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`due_first` for ticket rows."""
    return due_first(tickets, lambda t: t["answer_due_at"] if awaiting_answer(t) else None)
