"""`supportdesk credit ACCOUNT COINS` (a goodwill grant) and `supportdesk status ACCOUNT MOVE`: confirmed, audited."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.output import confirm, emit, handled, say
from supportdesk.desk import Desk
from supportdesk.desk.goodwill import caller_key

Reason = Annotated[str, typer.Option("--reason", help="Why (required; audited).")]
Ticket = Annotated[str | None, typer.Option("--ticket", help="The ticket this belongs to (must exist).")]
Actor = Annotated[str | None, typer.Option("--actor", help="Acting agent (default: configured).")]
Yes = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def credit_cmd(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="Account id, @handle or email.")],
    coins: Annotated[int, typer.Argument(help="Coins to credit (positive; agents up to the policy's limit).")],
    reason: Reason = "",
    ticket: Ticket = None,
    actor: Actor = None,
    key: Annotated[str | None, typer.Option("--idempotency-key",
                                            help="Default: derived from account, coins, ticket and reason.")] = None,
    yes: Yes = False,
    json_mode: Json = False,
) -> None:
    """Credit goodwill coins (a grant): above `[policy.roles] lead_only_credit_over` only a lead may."""
    with handled(json_mode):
        key = caller_key(key)
        desk = Desk.open(ctx.obj)
        who = desk.acting(actor, reason, ticket)
        plan = desk.goodwill.plan_credit(account, coins, who)
        confirm(plan.question, yes, json_mode)
        emit(desk.goodwill.credit(plan, who, key=key).to_json(), json_mode, _print_credit)


def status_cmd(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="Account id, @handle or email.")],
    move: Annotated[str, typer.Argument(help="limit, unlimit, suspend or reactivate (suspension: leads only).")],
    reason: Reason = "",
    ticket: Ticket = None,
    actor: Actor = None,
    yes: Yes = False,
    json_mode: Json = False,
) -> None:
    """Limit, unlimit, suspend or reactivate an account, with a reason; the same change again changes nothing."""
    with handled(json_mode):
        desk = Desk.open(ctx.obj)
        who = desk.acting(actor, reason, ticket)
        plan = desk.goodwill.plan_status(account, move, who)
        if plan.changes:
            confirm(plan.question, yes, json_mode)
        emit(desk.goodwill.status(plan, who).to_json(), json_mode, _print_status)


def _print_credit(body: dict[str, Any]) -> None:
    tag = "replayed (already done, nothing changed)" if body["replayed"] else "credited"
    say((tag, "bold"), f": {body['coins']:,} coins to {body['handle']} ({body['account_id']}); "
        f"balance {body['balance_after']:,} coins, entry {body['entry_id']}")


def _print_status(body: dict[str, Any]) -> None:
    if body["changed"]:
        say(("status changed", "bold"), f": {body['handle']} ({body['account_id']}) {body['before']} -> {body['after']}")
    else:
        say(f"{body['handle']} ({body['account_id']}) is already {body['after']}: nothing changed")
