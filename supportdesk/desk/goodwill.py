"""Goodwill: credit coins (a grant, lead-only above the policy's limit) and change an account's status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk
    from supportdesk.services.audit import ActionContext

Row = dict[str, Any]


def caller_key(key: str | None) -> str | None:
    """An --idempotency-key checked (not empty) and put in the caller namespace, before anything is asked;
    None: the action derives its default. Checking it twice changes nothing."""
    from supportdesk.services.once import caller_key as namespaced

    return namespaced(key)


@dataclass(frozen=True)
class CreditPlan:
    """A credit checked (amount, role limit, account) and the question that confirms it; nothing written yet."""

    plan: Row
    question: str


@dataclass(frozen=True)
class Credited:
    """The grant posted (or `replayed`): `coins`, `handle`, `account_id`, `balance_after`, `entry_id`, ..."""

    body: Row

    @property
    def replayed(self) -> bool:
        return bool(self.body.get("replayed"))

    def to_json(self) -> Row:
        return self.body


@dataclass(frozen=True)
class StatusPlan:
    """A status move checked (move, role, account): `before` and `after`, and the question that confirms it."""

    plan: Row
    question: str

    @property
    def changes(self) -> bool:
        """False when the account already has that status: nothing to confirm, nothing changes."""
        return bool(self.plan["before"] != self.plan["after"])


@dataclass(frozen=True)
class StatusChange:
    """`before`, `after` and whether it `changed` (the same change again changes nothing)."""

    body: Row

    def to_json(self) -> Row:
        return self.body


class GoodwillDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def plan_credit(self, account: str, coins: int, who: ActionContext) -> CreditPlan:
        """`account`: any key. Raises InvalidInput (coins), PermissionDenied (over the agent's limit), NotFound."""
        from supportdesk.services import goodwill

        plan = goodwill.plan_credit(self.desk.engine, account, coins, who)
        return CreditPlan(plan, goodwill.credit_question(plan))

    def credit(self, plan: CreditPlan, who: ActionContext, *, key: str | None = None) -> Credited:
        """Post the grant once: `key` (the caller's, namespaced) or one derived from account, coins, ticket and
        reason, so the same credit again replays."""
        from supportdesk.services import goodwill

        return Credited(goodwill.credit(self.desk.engine, plan.plan, who, key=caller_key(key)))

    def plan_status(self, account: str, move: str, who: ActionContext) -> StatusPlan:
        """limit, unlimit, suspend or reactivate (suspensions: leads only), checked; nothing written yet."""
        from supportdesk.services import goodwill

        plan = goodwill.plan_status(self.desk.engine, account, move, who)
        return StatusPlan(plan, goodwill.status_question(plan))

    def status(self, plan: StatusPlan, who: ActionContext) -> StatusChange:
        from supportdesk.services import goodwill

        return StatusChange(goodwill.change_status(self.desk.engine, plan.plan, who))

    # --- one call each, for the TUI (the reason and ticket asked in its dialogs, the question already confirmed)

    def check_credit(self, account: str, coins: int, reason: str, ticket: str | None) -> CreditPlan:
        """The credit checked as the agent asked it (coins, the role's limit, the account, the ticket), before the
        confirmation: a refusal comes first. Nothing written; `credit_now` checks again when it writes."""
        return self.plan_credit(account, coins, self.desk.acting(None, reason, ticket))

    def check_status(self, account: str, move: str, reason: str, ticket: str | None) -> StatusPlan:
        """The move checked (role, the account's status), before the confirmation; nothing written."""
        return self.plan_status(account, move, self.desk.acting(None, reason, ticket))

    def credit_now(self, account: str, coins: int, reason: str, ticket: str | None) -> Credited:
        who = self.desk.acting(None, reason, ticket)
        return self.credit(self.plan_credit(account, coins, who), who)

    def status_now(self, account: str, move: str, reason: str, ticket: str | None) -> StatusChange:
        who = self.desk.acting(None, reason, ticket)
        return self.status(self.plan_status(account, move, who), who)
