"""Refunds: decide one purchase's refund (cause, window counted to the ticket, a lead's override, a part of the
amount), carry it out once through the crash-safe store protocol, and say it in words.

The policy, the stores' clock and the store clients come from the desk (read once; clients injectable as
``Desk(ctx, clients={"web": fake})``). Results are the service's documented dicts (`decision`, `purchase`,
`clawback`; after applying, `applied`), made plain for JSON: the CLI prints them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk
    from supportdesk.services.audit import ActionContext

Row = dict[str, Any]


@dataclass
class RefundCheck:
    """What the CLI asks before it applies: the decision now (`view`, as the service returns it) and, when the
    same refund was already applied under the key, its first answer (`first`, marked replayed); `now`: the clock
    it was decided at (the apply counts from the same)."""

    view: Row
    now: datetime
    first: Row | None = None

    @property
    def denied(self) -> bool:
        return bool(self.view["decision"]["outcome"] == "deny")

    def to_json(self) -> Row:
        from supportdesk.services.audit import plain

        return dict(plain(self.first or self.view))


def question(view: Row, reason: str, ticket: str | None, consented: bool = False) -> str:
    """Exactly what money moves, in one question (the CLI's confirmation and the TUI's)."""
    from supportdesk.services.refund_words import question as words

    return words(view, reason, ticket, consented)


def clawback_lines(clawback: Row) -> list[str]:
    """The clawback preview in plain lines."""
    from supportdesk.services.refund_words import clawback_lines as lines

    return lines(clawback)


class RefundDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def decision(self, target: str, cause: str = "remorse", *, ticket_id: str | None = None,
                 override: bool = False, amount_minor: int | None = None, now: datetime | None = None) -> Row:
        """`decision`, `purchase`, `clawback` for one purchase (any key: pur_..., the store's id), plain for
        JSON: the window counted to `ticket_id`'s creation, what a lead's `override` would do, a part of the
        amount. `now`: the desk's clock unless given."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import refunds
        from supportdesk.services.audit import plain

        with read_session(self.desk.engine) as session:
            return dict(plain(refunds.decide(
                session, target, now or self.desk.now(), self.desk.refund_policy, cause, ticket_id=ticket_id,
                override=override, amount_minor=amount_minor)))

    def check(self, target: str, *, cause: str = "remorse", ticket_id: str | None = None, override: bool = False,
              amount_minor: int | None = None, key: str | None = None, applying: bool = False) -> RefundCheck:
        """The decision and, when `applying`, the first answer of the same refund already applied under `key`
        (a different request under that key: Conflict), in one read. `key`: the caller's (checked and put in
        the caller namespace by `caller_key`), None for the default `refund:<purchase id>`."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import refund_protocol, refunds

        now = self.desk.now()
        with read_session(self.desk.engine) as session:
            view = refunds.decide(session, target, now, self.desk.refund_policy, cause=cause,
                                  ticket_id=ticket_id, override=override, amount_minor=amount_minor)
            first = refund_protocol.replay(session, view["purchase"]["purchase_id"], key,
                                           ask=refund_protocol.Ask(cause, override, amount_minor)) \
                if applying else None
        return RefundCheck(view, now, first)

    @staticmethod
    def caller_key(key: str | None) -> str | None:
        """The caller's idempotency key in the caller namespace (InvalidInput when blank); None: the default."""
        from supportdesk.services.once import caller_key

        return caller_key(key)

    @staticmethod
    def require_override(who: ActionContext) -> None:
        """Only a lead overrides the refund policy: said before anything is asked or written."""
        from supportdesk.services.roles import require_lead

        require_lead(who, "overriding the refund policy")

    @staticmethod
    def deny(check: RefundCheck) -> None:
        """Raise the decision's denial (RefundDenied, with the decision in its details) when it denies."""
        from supportdesk.services.refunds import RefundDenied

        if check.denied:
            decision = check.view["decision"]
            raise RefundDenied(decision["explanation"], details={"decision": decision})

    def apply(self, target: str, who: ActionContext, *, cause: str = "remorse", key: str | None = None,
              customer_consented: bool = False, override: bool = False, amount_minor: int | None = None,
              now: datetime | None = None) -> Row:
        """Carry the decision out once per key (store call, then clawback; crash-safe: a retry finishes a
        `requested` refund with the same store key), as `who`; raises RefundDenied or the store's typed errors.
        Returns `decision` and `applied` (with `replayed`), plain for JSON."""
        from supportdesk.services import refund_protocol
        from supportdesk.services.audit import plain

        done = refund_protocol.apply(self.desk.engine, target, who, self.desk.settings, self.desk.clients, key=key,
                                     now=now or self.desk.now(), cause=cause, customer_consented=customer_consented,
                                     override=override, amount_minor=amount_minor)
        return dict(plain(done))

    def apply_as_agent(self, target: str, reason: str, ticket_id: str | None, cause: str = "remorse", *,
                       override: bool = False, amount_minor: int | None = None,
                       now: datetime | None = None) -> Row:
        """The TUI's apply: as the configured agent (role and limits apply), the default key."""
        return self.apply(target, self.desk.acting(None, reason, ticket_id), cause=cause, override=override,
                          amount_minor=amount_minor, now=now)

    def words(self, view: Row, reason: str, ticket_id: str | None) -> tuple[str, list[str]]:
        """The confirmation question and the clawback lines, in the CLI's words."""
        return question(view, reason, ticket_id, False), clawback_lines(view["clawback"])
