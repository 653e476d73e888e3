"""The agents' side: who acts, and the service entry points the CLI calls for reconcile."""

from __future__ import annotations

from typing import Any

from supportdesk.domain.findings import Finding
from supportdesk.services import reconcile, refunds
from supportdesk.services.audit import ActionContext
from supportdesk.services.reconcile import ReconcileResult, Scope, apply_confirmed

CREDIT_LIMIT = 5000  # config roles.lead_only_credit_over


def agent(role: str = "agent", actor: str = "agent-1") -> ActionContext:
    return ActionContext(actor, "simulated support work", None, role=role, credit_limit=CREDIT_LIMIT)


def detect(engine: Any) -> list[Finding]:
    """`supportdesk reconcile --all --offline` without --fix."""
    return reconcile.detect(engine, Scope()).findings


def fix(engine: Any, confirmed: list[Finding], ctx: ActionContext) -> ReconcileResult:
    """`reconcile --all --offline --fix --yes`: the agent confirmed `confirmed` (a detection's fixable findings)
    and exactly those are applied, each re-checked first (cli/reconcile_cmd.py)."""
    return apply_confirmed(engine, confirmed, ctx, refund_policy=refunds.policy_of(None))
