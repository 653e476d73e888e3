"""`supportdesk ticket ...` and `supportdesk audit`: tickets, what was done under them, and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.conversation_cmd import print_conversation, register
from supportdesk.cli.output import emit, handled, say
from supportdesk.desk import Desk
from supportdesk.domain.text import plural, when
from supportdesk.domain.tickets import DEFAULT_FILTER, FILTERS, UNSOLVED

ticket_app = typer.Typer(help="Tickets: list, show (the conversation and every action taken under it), create, "
                              "reply, note, take, assign, status, resolve.")
STATUS_HELP = (f"One of: {', '.join(FILTERS)}. unsolved (the default) is {', '.join(UNSOLVED)}; "
               "all is every status.")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


@ticket_app.command("list")
def list_cmd(ctx: typer.Context,
             status: Annotated[str, typer.Option(help=STATUS_HELP)] = DEFAULT_FILTER,
             account: Annotated[str | None, typer.Option(help="Only this account (any key).")] = None,
             mine: Annotated[bool, typer.Option("--mine", help="Only the tickets assigned to me.")] = False,
             json_mode: JsonOpt = False) -> None:
    """Tickets, newest first."""
    with handled(json_mode):
        emit(Desk.open(ctx.obj).tickets.list(status, account=account, mine=mine).to_json(), json_mode, _print_list)


def _print_list(body: dict[str, Any]) -> None:
    for t in body["tickets"]:
        say(f"{t['ticket_id']:12s} {t['status']:9s} {when(t['created_at'])}  {t['handle']:18s} "
            f"{t.get('assignee') or '-':12s} {t['subject']}")
    say(f"{len(body['tickets'])} of {plural(body['total'], 'ticket')} ({body['filter']}"
        f"{': ' + ', '.join(body['statuses']) if body['statuses'] else ''}"
        f"{'; assigned to ' + body['assignee'] if body.get('assignee') else ''})")


@ticket_app.command("show")
def show_cmd(ctx: typer.Context, ticket_id: Annotated[str, typer.Argument(help="T-1234")],
             json_mode: JsonOpt = False) -> None:
    """One ticket and everything done under it."""
    with handled(json_mode):
        emit(Desk.open(ctx.obj).tickets.show(ticket_id).to_json(), json_mode, _print_ticket)


def _print_ticket(body: dict[str, Any]) -> None:
    t = body["ticket"]
    say((t["ticket_id"], "bold"), f" [{t['status']}] {t['category']}  {t['handle']} ({t['account_id']})  "
        f"assigned to {t.get('assignee') or 'nobody'}")
    say(t["subject"])
    print_conversation(t.get("messages", []))
    for a in t["actions"]:
        say(f"  {when(a['at'])}  {a['actor']:12s} {a['action']:22s} {a['target']}  {a['reason'] or ''}")
    if t["resolution"]:
        say(f"{t['status']} by {t['resolved_by']} {when(t['resolved_at'])}: {t['resolution']}")


@ticket_app.command("create")
def create_cmd(ctx: typer.Context, account: Annotated[str, typer.Argument(help="The account (any key).")],
               subject: Annotated[str, typer.Option(help="One line.")],
               category: Annotated[str, typer.Option(help="missing_coins, refund_request, wrong_amount, region, "
                                                          "suspicious or other.")] = "other",
               body: Annotated[str, typer.Option(help="What the customer wrote.")] = "",
               actor: Annotated[str | None, typer.Option(help="Acting agent.")] = None,
               json_mode: JsonOpt = False) -> None:
    """Open a new ticket on an account."""
    with handled(json_mode):
        result = Desk.open(ctx.obj).tickets.create(account, subject, body, category, actor=actor).to_json()
    emit(result, json_mode, lambda b: say(f"opened {b['ticket']['ticket_id']}"))


@ticket_app.command("resolve")
def resolve_cmd(ctx: typer.Context, ticket_id: Annotated[str, typer.Argument(help="T-1234")],
                note: Annotated[str, typer.Option("--note", "--reason", help="The resolution.")],
                actor: Annotated[str | None, typer.Option(help="Acting agent.")] = None,
                json_mode: JsonOpt = False) -> None:
    """Resolve a ticket with a note: it becomes solved (once: repeating it replays)."""
    with handled(json_mode):
        result = Desk.open(ctx.obj).tickets.resolve(ticket_id, note, actor=actor).to_json()
    emit(result, json_mode, lambda b: say(
        f"{b['ticket']['ticket_id']} solved{' (already, replayed)' if b['replayed'] else ''}"))


ticket_app.command("solve", help="The same as resolve: the ticket becomes solved.")(resolve_cmd)


register(ticket_app)
