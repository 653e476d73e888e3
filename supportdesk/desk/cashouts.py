"""A creator's cashout: hold it, release a hold, or reject it (its diamonds go back), once per key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk
    from supportdesk.services.audit import ActionContext

Row = dict[str, Any]


@dataclass(frozen=True)
class CashoutPlan:
    """hold, release or reject checked (status, role, ticket): `before`, `after`, the reason and ticket it was
    planned with, and the question that confirms it; nothing written yet."""

    plan: Row
    question: str

    @property
    def changes(self) -> bool:
        return bool(self.plan["before"] != self.plan["after"])

    def to_json(self) -> Row:
        """The plan with its `question` (what the TUI showed before it moved here)."""
        return {**self.plan, "question": self.question}


@dataclass(frozen=True)
class CashoutResult:
    """`before`, `after`, `changed`, `replayed`, `diamonds_returned` and `entry_id` (a rejection's reversal)."""

    body: Row

    def to_json(self) -> Row:
        return self.body


class CashoutDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def plan(self, cashout_id: str, action: str, who: ActionContext) -> CashoutPlan:
        """Raises InvalidInput (action, status), PermissionDenied (a review hold: leads release it), NotFound."""
        from supportdesk.services import cashouts

        plan = cashouts.plan_action(self.desk.engine, cashout_id, action, who)
        return CashoutPlan(plan, cashouts.question(plan))

    def act(self, plan: CashoutPlan, who: ActionContext | None = None, *, key: str | None = None) -> CashoutResult:
        """Carry the plan out once (`key`: the caller's, else the cashout, action and its change count); `who`
        defaults to the configured actor with the reason and ticket the plan was made with."""
        from supportdesk.desk.goodwill import caller_key
        from supportdesk.services import cashouts

        key = caller_key(key)
        who = who or self.desk.acting(None, plan.plan["reason"], plan.plan["ticket_id"])
        return CashoutResult(cashouts.act(self.desk.engine, plan.plan, who, key=key))
