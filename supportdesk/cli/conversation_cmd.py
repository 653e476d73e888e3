"""`supportdesk ticket reply|note|received|take|assign|status` and `supportdesk macro list`: a ticket's conversation
and workflow. Each is audited and done once; a refusal writes nothing."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from supportdesk.cli.output import emit, handled, say
from supportdesk.desk import Desk
from supportdesk.domain.conversation import REPLY_STATUSES
from supportdesk.domain.text import when
from supportdesk.domain.tickets import STATUSES

macro_app = typer.Typer(help="Reply templates ([macros.NAME] in the config, over the defaults).")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
TicketArg = Annotated[str, typer.Argument(help="T-1234")]
BodyOpt = Annotated[str | None, typer.Option("--body", help="The text; - reads it from stdin (every line kept).")]
ActorOpt = Annotated[str | None, typer.Option(help="Acting agent (SQLite only: on PostgreSQL your login acts).")]
KeyOpt = Annotated[str | None, typer.Option("--idempotency-key",
                                            help="Your key: the same key again replays the first answer.")]


def _text(body: str | None) -> str:
    return sys.stdin.read() if body == "-" else (body or "")


def reply_cmd(ctx: typer.Context, ticket_id: TicketArg, body: BodyOpt = None,
              macro: Annotated[str | None, typer.Option(help="Fill this macro (`supportdesk macro list`).")] = None,
              purchase: Annotated[str | None, typer.Option(
                  help="The purchase a macro's {purchase...} and {decision} are about.")] = None,
              status: Annotated[str | None, typer.Option(help=f"Leave the ticket {'|'.join(REPLY_STATUSES)}.")] = None,
              dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the reply; send and write nothing.")]
              = False,
              actor: ActorOpt = None, key: KeyOpt = None, json_mode: JsonOpt = False) -> None:
    """Reply to the customer (recorded, then appended to the outbox once) from --body or a --macro."""
    from supportdesk.desk.tickets import Preview

    with handled(json_mode):
        result = Desk.open(ctx.obj).tickets.reply(ticket_id, None if body is None else _text(body), macro=macro,
                                                  purchase=purchase, status=status, dry_run=dry_run, actor=actor,
                                                  key=key)
        if isinstance(result, Preview):
            emit(result.to_json(), json_mode, _print_preview)
            return
    emit(result.to_json(), json_mode, _print_sent)


def _print_preview(body: dict[str, Any]) -> None:
    say(("dry run", "bold"), f": nothing sent. To {body['to']} on {body['ticket_id']}"
        f"{' (macro ' + body['macro'] + ')' if body['macro'] else ''}, leaves it {body['status']}:")
    for line in body["body"].splitlines():
        say("  " + line)


def _print_sent(body: dict[str, Any]) -> None:
    m, t = body["message"], body["ticket"]
    word = "already sent (replayed)" if body["replayed"] and not body["sent_now"] else "sent"
    say(f"{t['ticket_id']}: reply {m['message_id']} {word} to the outbox ({body['outbox']}); ticket {t['status']}")


def _message(kind: str) -> Any:
    def command(ctx: typer.Context, ticket_id: TicketArg, body: BodyOpt = None, actor: ActorOpt = None,
                key: KeyOpt = None, json_mode: JsonOpt = False) -> None:
        with handled(json_mode):
            result = Desk.open(ctx.obj).tickets.record(ticket_id, kind, _text(body), actor=actor, key=key)
        emit(result.to_json(), json_mode, lambda b: say(
            f"{b['ticket']['ticket_id']}: {kind} {b['message']['message_id']} "
            f"{'already recorded (replayed)' if b['replayed'] else 'added'}; ticket {b['ticket']['status']}"))

    command.__doc__ = {"note": "Add an internal note (agents only see it; never sent).",
                       "customer": "Record what the customer wrote since (it reopens a pending or solved ticket)."
                       }[kind]
    return command


def take_cmd(ctx: typer.Context, ticket_id: TicketArg, actor: ActorOpt = None, json_mode: JsonOpt = False) -> None:
    """Assign the ticket to yourself (an agent takes unassigned tickets; a lead takes any)."""
    with handled(json_mode):
        result = Desk.open(ctx.obj).tickets.take(ticket_id, actor=actor).to_json()
    _print_assigned(result, json_mode)


def assign_cmd(ctx: typer.Context, ticket_id: TicketArg,
               to: Annotated[str | None, typer.Option("--to", help="The agent (their login on PostgreSQL).")] = None,
               nobody: Annotated[bool, typer.Option("--nobody", help="Unassign it.")] = False,
               actor: ActorOpt = None, json_mode: JsonOpt = False) -> None:
    """Assign the ticket to an agent, or --nobody (taking it from another agent is a lead's)."""
    with handled(json_mode):
        result = Desk.open(ctx.obj).tickets.assign(ticket_id, to, nobody=nobody, actor=actor).to_json()
    _print_assigned(result, json_mode)


def _print_assigned(result: dict[str, Any], json_mode: bool) -> None:
    emit(result, json_mode, lambda b: say(
        f"{b['ticket']['ticket_id']} is {'now' if b['changed'] else 'already'} "
        f"{'assigned to ' + b['ticket']['assignee'] if b['ticket']['assignee'] else 'unassigned'}"
        f"{' (was ' + b['previous'] + ')' if b.get('previous') else ''}"))


def status_cmd(ctx: typer.Context, ticket_id: TicketArg,
               status: Annotated[str, typer.Argument(help=f"One of {', '.join(STATUSES)}.")],
               reason: Annotated[str, typer.Option(help="Why (audited; for solved: the resolution).")],
               actor: ActorOpt = None, json_mode: JsonOpt = False) -> None:
    """Move a ticket to pending, on-hold, open, solved or (a lead) closed; the same status again changes nothing."""
    with handled(json_mode):
        result = Desk.open(ctx.obj).tickets.set_status(ticket_id, status, reason, actor=actor).to_json()
    emit(result, json_mode, lambda b: say(
        f"{b['ticket']['ticket_id']} is {'now' if b['changed'] else 'already'} {b['ticket']['status']}"))


@macro_app.command("list")
def macro_list_cmd(ctx: typer.Context, json_mode: JsonOpt = False) -> None:
    """Every macro: name, title, placeholders (an unknown one is named)."""
    with handled(json_mode):
        body = Desk.open(ctx.obj).tickets.macro_list().to_json()
    emit(body, json_mode, _print_macros)


@macro_app.command("show")
def macro_show_cmd(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The macro.")],
                   ticket: Annotated[str, typer.Option("--ticket", help="Fill it for this ticket.")],
                   purchase: Annotated[str | None, typer.Option(help="The purchase it is about.")] = None,
                   json_mode: JsonOpt = False) -> None:
    """A macro filled for a ticket, as `ticket reply --macro` would send it (nothing is written)."""
    with handled(json_mode):
        body = Desk.open(ctx.obj).tickets.render_macro(ticket, name, purchase=purchase).to_json()
    emit(body, json_mode, _print_body)


def _print_body(body: dict[str, Any]) -> None:
    for line in body["body"].splitlines():
        say(line)


def _print_macros(body: dict[str, Any]) -> None:
    for m in body["macros"]:
        bad = f"  UNKNOWN: {', '.join(m['unknown'])}" if m["unknown"] else ""
        say((f"{m['name']:18s}", "bold"), f" {m['title']}  ", (" ".join("{" + p + "}" for p in m["placeholders"]),
                                                                "dim"), (bad, "bold red"))


def print_conversation(messages: list[dict[str, Any]]) -> None:
    """`ticket show`: every message, oldest first, with who and when; replies say whether the outbox has them."""
    labels = {"customer": ("customer", "bold"), "reply": ("reply", "bold green"), "note": ("note", "bold yellow")}
    for m in messages:
        label, style = labels.get(m["kind"], (m["kind"], "bold"))
        sent = "" if m["kind"] != "reply" else "  sent" if m["sent_at"] else "  NOT SENT (reply again to send it)"
        say((f"-- {label}", style), f" {m['author']}  {when(m['created_at'])}",
            (f"  macro {m['macro']}" if m.get("macro") else "", "dim"), (sent, "dim" if m["sent_at"] else "bold red"))
        for line in m["body"].splitlines():
            say("   " + line)


def register(ticket_app: typer.Typer) -> None:
    ticket_app.command("reply")(reply_cmd)
    ticket_app.command("note")(_message("note"))
    ticket_app.command("received")(_message("customer"))
    ticket_app.command("take")(take_cmd)
    ticket_app.command("assign")(assign_cmd)
    ticket_app.command("status")(status_cmd)
