"""`supportdesk ticket reply|note|received|take|assign|status` and `supportdesk macro list`: a ticket's conversation
and workflow. Each is audited and done once; a refusal writes nothing."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supportdesk.cli.output import emit, handled, say
from supportdesk.domain.conversation import REPLY_STATUSES
from supportdesk.domain.text import when
from supportdesk.domain.tickets import STATUSES

if TYPE_CHECKING:
    from supportdesk.cli.context import AppContext

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
    from supportdesk.db.engine import read_session
    from supportdesk.errors import InvalidInput
    from supportdesk.services import conversation

    state: AppContext = ctx.obj
    with handled(json_mode):
        if (body is None) == (macro is None):
            raise InvalidInput("give the reply as --body TEXT or --macro NAME (one of them)")
        who = state.action_context(actor, None, ticket_id)
        text = _text(body)
        if macro is not None:
            with read_session(state.engine) as session:
                text = _render(state, session, ticket_id, macro, purchase, who.actor)["body"]
        if dry_run:
            with read_session(state.engine) as session:
                t, account, text, after = conversation.check(session, ticket_id, "reply", text, status)
            emit({"dry_run": True, "ticket_id": t.ticket_id, "to": account.email, "macro": macro, "body": text,
                  "status": after or t.status}, json_mode, _print_preview)
            return
        result = conversation.reply(state.engine, ticket_id, text, who, _outbox(state), status=status, macro=macro,
                                    key=key)
    emit({**result, "outbox": str(state.settings.outbox)}, json_mode, _print_sent)


def _outbox(state: AppContext) -> Any:
    from supportdesk.services.outbox import FileOutbox

    return FileOutbox(state.settings.outbox)


def _render(state: AppContext, session: Any, ticket_id: str, macro: str, purchase: str | None,
            agent: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    from supportdesk.services import conversation, refunds
    from supportdesk.stores.sync import store_clock

    now = store_clock(state.settings) or datetime.now(UTC)
    return conversation.render_macro(session, ticket_id, macro, state.settings.macros, agent=agent,
                                     purchase=purchase, now=now, policy=refunds.policy_of(state.settings))


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
        from supportdesk.db.engine import write_session
        from supportdesk.services import conversation

        state: AppContext = ctx.obj
        with handled(json_mode):
            who = state.action_context(actor, None, ticket_id)
            with write_session(state.engine) as session:
                result = conversation.record(session, ticket_id, kind, _text(body), who, key=key)
        emit(result, json_mode, lambda b: say(
            f"{b['ticket']['ticket_id']}: {kind} {b['message']['message_id']} "
            f"{'already recorded (replayed)' if b['replayed'] else 'added'}; ticket {b['ticket']['status']}"))

    command.__doc__ = {"note": "Add an internal note (agents only see it; never sent).",
                       "customer": "Record what the customer wrote since (it reopens a pending or solved ticket)."
                       }[kind]
    return command


def take_cmd(ctx: typer.Context, ticket_id: TicketArg, actor: ActorOpt = None, json_mode: JsonOpt = False) -> None:
    """Assign the ticket to yourself (an agent takes unassigned tickets; a lead takes any)."""
    _assign(ctx, ticket_id, None, actor, json_mode, me=True)


def assign_cmd(ctx: typer.Context, ticket_id: TicketArg,
               to: Annotated[str | None, typer.Option("--to", help="The agent (their login on PostgreSQL).")] = None,
               nobody: Annotated[bool, typer.Option("--nobody", help="Unassign it.")] = False,
               actor: ActorOpt = None, json_mode: JsonOpt = False) -> None:
    """Assign the ticket to an agent, or --nobody (taking it from another agent is a lead's)."""
    _assign(ctx, ticket_id, to, actor, json_mode, me=False, nobody=nobody)


def _assign(ctx: typer.Context, ticket_id: str, to: str | None, actor: str | None, json_mode: bool, *,
            me: bool, nobody: bool = False) -> None:
    from supportdesk.db.engine import write_session
    from supportdesk.errors import InvalidInput
    from supportdesk.services import tickets

    state: AppContext = ctx.obj
    with handled(json_mode):
        who = state.action_context(actor, None, ticket_id)
        if not me and (to is None) == (not nobody):
            raise InvalidInput("say who: --to NAME, or --nobody to unassign")
        with write_session(state.engine) as session:
            result = tickets.assign(session, ticket_id, who.actor if me else to, who)
    emit(result, json_mode, lambda b: say(
        f"{b['ticket']['ticket_id']} is {'now' if b['changed'] else 'already'} "
        f"{'assigned to ' + b['ticket']['assignee'] if b['ticket']['assignee'] else 'unassigned'}"
        f"{' (was ' + b['previous'] + ')' if b.get('previous') else ''}"))


def status_cmd(ctx: typer.Context, ticket_id: TicketArg,
               status: Annotated[str, typer.Argument(help=f"One of {', '.join(STATUSES)}.")],
               reason: Annotated[str, typer.Option(help="Why (audited; for solved: the resolution).")],
               actor: ActorOpt = None, json_mode: JsonOpt = False) -> None:
    """Move a ticket to pending, on-hold, open, solved or (a lead) closed; the same status again changes nothing."""
    from supportdesk.db.engine import write_session
    from supportdesk.services import tickets

    state: AppContext = ctx.obj
    with handled(json_mode):
        who = state.action_context(actor, reason, ticket_id)
        with write_session(state.engine) as session:
            result = tickets.set_status(session, ticket_id, status, who)
    emit(result, json_mode, lambda b: say(
        f"{b['ticket']['ticket_id']} is {'now' if b['changed'] else 'already'} {b['ticket']['status']}"))


@macro_app.command("list")
def macro_list_cmd(ctx: typer.Context, json_mode: JsonOpt = False) -> None:
    """Every macro: name, title, placeholders (an unknown one is named)."""
    from supportdesk.services import conversation

    state: AppContext = ctx.obj
    with handled(json_mode):
        body = conversation.macro_list(state.settings.macros)
    emit(body, json_mode, _print_macros)


@macro_app.command("show")
def macro_show_cmd(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The macro.")],
                   ticket: Annotated[str, typer.Option("--ticket", help="Fill it for this ticket.")],
                   purchase: Annotated[str | None, typer.Option(help="The purchase it is about.")] = None,
                   json_mode: JsonOpt = False) -> None:
    """A macro filled for a ticket, as `ticket reply --macro` would send it (nothing is written)."""
    from supportdesk.db.engine import read_session

    state: AppContext = ctx.obj
    with handled(json_mode), read_session(state.engine) as session:
        body = _render(state, session, ticket, name, purchase, state.identity.actor)
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
