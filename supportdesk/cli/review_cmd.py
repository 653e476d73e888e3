"""`supportdesk review`: build (refresh) the suspicious-charge queue and list it; `review act` decides a flag."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.output import confirm, emit, handled, say
from supportdesk.desk import Desk
from supportdesk.desk.goodwill import caller_key
from supportdesk.domain.text import plural

review_app = typer.Typer(help="The suspicious-charge review queue.", no_args_is_help=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


@review_app.callback(invoke_without_command=True)
def review_cmd(
    ctx: typer.Context,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule (e.g. velocity).")] = None,
    decided: Annotated[bool, typer.Option("--all", help="Include flags already decided or cleared.")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild/--no-rebuild",
                                          help="Run the rules first (default), or list the queue as stored.")] = True,
    json_mode: JsonOpt = False,
) -> None:
    """Run the rules, refresh the queue (decided flags stay decided), print the flags by score.

    The rules read in one read transaction; the changes are written in short transactions (100 flags each), so
    other agents' writes wait a few milliseconds at most. A schedule (cron) can run `review --json` to keep the
    queue fresh: the TUI shows the queue as stored and rebuilds only on `r`."""
    if ctx.invoked_subcommand is not None:
        return
    with handled(json_mode):
        desk = Desk.open(ctx.obj)
        emit(desk.review.queue(rule, decided=decided, rebuild=rebuild).to_json(), json_mode, _print_queue)


def _print_queue(body: dict[str, Any]) -> None:
    """Two lines a flag, ids whole (agents paste them into `review act`): readable at 80 columns."""
    from supportdesk.domain.review import headline

    say((plural(len(body["flags"]), "flag"), "bold"), ", highest score first")
    for f in body["flags"]:
        status = "" if f["status"] == "open" else f" [{f['status']}]"
        say(f"{f['score']:>3}  {f['rule']}{status}  {f['handle'] or f['account_id']}  {f['flag_id']}")
        say(f"     {headline(f)}", style="dim")
    b = body["built"]
    if b is None:
        say("the queue as stored (rules not run: --no-rebuild)", style="dim")
        return
    say(f"rules run: {b['raised']} new, {b['refreshed']} refreshed, {b['cleared']} cleared, "
        f"{b['unchanged']} unchanged, {b['decided']} already decided")


@review_app.command("act")
def act_cmd(
    ctx: typer.Context,
    flag_id: Annotated[str, typer.Argument(metavar="FLAG", help="The flag id (flg_...).")],
    action: Annotated[str, typer.Option("--action", help="dismiss, confirm, limit or suspend.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required, audited).")] = None,
    ticket: Annotated[str | None, typer.Option("--ticket", help="The ticket this belongs to.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Acting agent (default: configured).")] = None,
    key: Annotated[str | None, typer.Option("--idempotency-key", help="Default: from the flag and action.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_mode: JsonOpt = False,
) -> None:
    """Decide a flag: dismiss it, confirm it, or confirm it and limit or suspend the account (once)."""
    with handled(json_mode):
        desk = Desk.open(ctx.obj)
        desk.review.check(action, reason)
        key = caller_key(key)
        flag = desk.review.flag(flag_id)
        who = desk.acting(actor, reason, ticket)
        confirm(f"{desk.review.describe(flag, action)}; reason {reason!r}"
                f"{f', ticket {who.ticket_id}' if ticket else ''}?", yes, json_mode)
        emit(desk.review.act(flag_id, action, who, key=key).to_json(), json_mode, _print_act)


def _print_act(body: dict[str, Any]) -> None:
    a, f = body["applied"], body["flag"]
    tag = "replayed (already done, nothing changed)" if a["replayed"] else "done"
    say(f"{tag}: {a['action']} {f['flag_id']} ({f['rule']}) -> flag {f['status']}")
    if a.get("account_status"):
        s = a["account_status"]
        say(f"  account {f['handle'] or f['account_id']}: {s['before']} -> {s['after']}")
    for cashout in a.get("held_cashouts") or []:
        say(f"  cashout {cashout} held")
