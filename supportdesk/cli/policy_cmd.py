"""`supportdesk policy` (the policy in force, versioned in the database), `whoami`, `db roles`, `db grant`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.output import emit, err_console, handled
from supportdesk.cli.ticket_cmd import JsonOpt

policy_app = typer.Typer(help="The policy in force: refund windows, review thresholds, role limits.")


@policy_app.command("show")
def show(ctx: typer.Context, json_mode: JsonOpt = False) -> None:
    """Every setting in force and the version it comes from (0: the defaults)."""
    from supportdesk.db.engine import read_session
    from supportdesk.services.policy import in_force

    with handled(json_mode), read_session(ctx.obj.engine) as session:
        version, policy = in_force(session)
        emit({"version": version or 0, "policy": policy}, json_mode, _print_policy)


def _print_policy(body: dict[str, Any]) -> None:
    err_console.print(f"policy version {body['version']}", markup=False, highlight=False)
    for section, values in body["policy"].items():
        for name, value in values.items():
            err_console.print(f"  {section}.{name} = {value}", markup=False, highlight=False)


@policy_app.command("set")
def set_cmd(ctx: typer.Context, key: Annotated[str, typer.Argument(help="e.g. refund.web_window_days")],
            value: Annotated[str, typer.Argument(help="A whole number, or a JSON list of names.")],
            reason: Annotated[str, typer.Option("--reason", help="Why (audited).")] = "",
            json_mode: JsonOpt = False) -> None:
    """A new policy version with one setting changed (administrators only; audited)."""
    from supportdesk.db.engine import write_session
    from supportdesk.services.policy import set_value

    with handled(json_mode):
        who = ctx.obj.action_context(None, reason, None)
        with write_session(ctx.obj.engine) as session:
            done = set_value(session, key, value, who)
        emit(done, json_mode, lambda b: err_console.print(
            f"policy version {b['version']}: {b['key']} {b['before']} -> {b['after']}", markup=False,
            highlight=False))


def whoami(ctx: typer.Context, json_mode: JsonOpt = False) -> None:
    """Who you act as and with which role, and how supportdesk knows."""
    with handled(json_mode):
        me = ctx.obj.identity
        body = {"actor": me.actor, "role": me.role, "source": me.source, "enforced_by_database": me.enforced,
                "policy_version": ctx.obj.settings.policy_version or 0}
        emit(body, json_mode, lambda b: err_console.print(
            f"{b['actor']} ({b['role']}; from {b['source']}"
            f"{', enforced by the database' if b['enforced_by_database'] else ''})", markup=False, highlight=False))


def db_roles(ctx: typer.Context, json_mode: JsonOpt = False) -> None:
    """Create the supportdesk_agent and supportdesk_lead roles and grant what each may do (owner only)."""
    from supportdesk.db.roles import setup_roles

    with handled(json_mode):
        emit(setup_roles(ctx.obj.engine), json_mode, lambda b: err_console.print(
            f"roles {', '.join(b['roles'])}: grants set on {b['tables']} tables", markup=False, highlight=False))


def db_grant(ctx: typer.Context, login: Annotated[str, typer.Argument(help="An existing database login role.")],
             role: Annotated[str, typer.Option("--role", help="agent or lead.")],
             json_mode: JsonOpt = False) -> None:
    """Make a database login an agent or a lead (owner only)."""
    from supportdesk.db.roles import grant

    with handled(json_mode):
        emit(grant(ctx.obj.engine, login, role), json_mode, lambda b: err_console.print(
            f"{b['login']} is now a {b['role']}", markup=False, highlight=False))
