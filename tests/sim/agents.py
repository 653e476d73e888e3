"""The agents' side: who acts, and the service entry points the CLI calls for reconcile."""

from __future__ import annotations

import inspect
from typing import Any

from supportdesk.domain.findings import Finding
from supportdesk.services import refunds
from supportdesk.services.audit import ActionContext
from supportdesk.services.reconcile import ReconcileResult, Scope, reconcile

CREDIT_LIMIT = 5000  # config roles.lead_only_credit_over


def agent(role: str = "agent", actor: str = "agent-1") -> ActionContext:
    return ActionContext(actor, "simulated support work", None, role=role, credit_limit=CREDIT_LIMIT)


def detect(engine: Any) -> list[Finding]:
    """`supportdesk reconcile --all --offline` without --fix."""
    return reconcile(engine, Scope()).findings


def fix(engine: Any, confirmed: list[Finding], ctx: ActionContext) -> ReconcileResult:
    """`reconcile --all --offline --fix --yes` after the agent confirmed `confirmed` (the CLI's flow). Today the
    CLI re-detects inside the fix; once reconcile takes the confirmed findings (issue 11), they are passed."""
    bound = {"confirmed": confirmed} if "confirmed" in inspect.signature(reconcile).parameters else {}
    return reconcile(engine, Scope(), fix=True, ctx=ctx, refund_policy=refunds.policy_of(None), **bound)


