"""`supportdesk cashout hold|release|reject CASHOUT_ID --reason ...`: confirmed, audited, once per key."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.goodwill_cmd import Actor, Json, Reason, Ticket, Yes
from supportdesk.cli.output import confirm, emit, handled, say
from supportdesk.desk import Desk
from supportdesk.desk.goodwill import caller_key
from supportdesk.domain.money import format_money

cashout_app = typer.Typer(help="A creator's cashout: hold it, release a hold, or reject it (diamonds go back).")
CashoutId = Annotated[str, typer.Argument(help="The cashout id (see `supportdesk account CREATOR`).")]
Key = Annotated[str | None, typer.Option("--idempotency-key",
                                         help="Default: the cashout, the action and how many changes it had.")]


def _run(ctx: typer.Context, cashout_id: str, action: str, reason: str, ticket: str | None, actor: str | None,
         key: str | None, yes: bool, json_mode: bool) -> None:
    with handled(json_mode):
        key = caller_key(key)
        desk = Desk.open(ctx.obj)
        who = desk.acting(actor, reason, ticket)
        plan = desk.cashouts.plan(cashout_id, action, who)
        if plan.changes:
            confirm(plan.question, yes, json_mode)
        emit(desk.cashouts.act(plan, who, key=key).to_json(), json_mode, _print)


@cashout_app.command("hold")
def hold_cmd(ctx: typer.Context, cashout_id: CashoutId, reason: Reason = "", ticket: Ticket = None,
             actor: Actor = None, key: Key = None, yes: Yes = False, json_mode: Json = False) -> None:
    """Hold a requested cashout: it is not paid until released."""
    _run(ctx, cashout_id, "hold", reason, ticket, actor, key, yes, json_mode)


@cashout_app.command("release")
def release_cmd(ctx: typer.Context, cashout_id: CashoutId, reason: Reason = "", ticket: Ticket = None,
                actor: Actor = None, key: Key = None, yes: Yes = False, json_mode: Json = False) -> None:
    """Release a held cashout back to the payout queue (a hold a review flag caused: leads only)."""
    _run(ctx, cashout_id, "release", reason, ticket, actor, key, yes, json_mode)


@cashout_app.command("reject")
def reject_cmd(ctx: typer.Context, cashout_id: CashoutId, reason: Reason = "", ticket: Ticket = None,
               actor: Actor = None, key: Key = None, yes: Yes = False, json_mode: Json = False) -> None:
    """Reject a requested or held cashout: never paid, its diamonds go back to the creator (a reversal)."""
    _run(ctx, cashout_id, "reject", reason, ticket, actor, key, yes, json_mode)


def _print(body: dict[str, Any]) -> None:
    what = f"cashout {body['cashout_id']} of {body['handle']} ({format_money(body['amount_minor'], body['currency'])})"
    if body.get("replayed"):
        say(("replayed (already done, nothing changed)", "bold"), f": {what} is {body['after']}")
    elif not body["changed"]:
        say(f"{what} is already {body['after']}: nothing changed")
    else:
        back = f"; {body['diamonds_returned']:,} diamonds back, entry {body['entry_id']}" if body["entry_id"] else ""
        say((f"{body['action']} done", "bold"), f": {what} {body['before']} -> {body['after']}{back}")
