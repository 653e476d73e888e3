"""`supportdesk audit`: the trail, `--verify` (with `--checkpoints`), and signed checkpoints of the chain head."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from supportdesk.cli.output import emit, err_console, handled
from supportdesk.cli.ticket_cmd import JsonOpt, audit_cmd

audit_app = typer.Typer(help="The audit trail, its verification and signed checkpoints.",
                        invoke_without_command=True)


@audit_app.callback()
def audit(ctx: typer.Context,
          ticket: Annotated[str | None, typer.Option("--ticket", help="Only actions under this ticket.")] = None,
          account: Annotated[str | None, typer.Option("--account", help="Only this account (any key).")] = None,
          verify: Annotated[bool, typer.Option("--verify", help="Check the hash chain end to end.")] = False,
          checkpoints: Annotated[Path | None, typer.Option(
              "--checkpoints", help="With --verify: also check the chain against this checkpoint file.")] = None,
          public_key: Annotated[Path | None, typer.Option(
              "--public-key", help="The checkpoint signer's public key (default: CHECKPOINTS.pub beside it).")] = None,
          json_mode: JsonOpt = False) -> None:
    """The audit log (newest first), or --verify its hash chain: names the first edited, removed or moved record;
    with --checkpoints, a rewritten chain or a cut-off tail is found too."""
    if ctx.invoked_subcommand is not None:
        return
    if checkpoints is None:
        audit_cmd(ctx, ticket=ticket, account=account, verify=verify, json_mode=json_mode)
        return
    _verify_with_checkpoints(ctx, checkpoints, public_key, json_mode)


def _verify_with_checkpoints(ctx: typer.Context, log: Path, public_key: Path | None, json_mode: bool) -> None:
    from supportdesk.db.engine import read_session
    from supportdesk.errors import InvalidInput
    from supportdesk.services import checkpoint, trail

    with handled(json_mode):
        if public_key is None:
            raise InvalidInput("--checkpoints needs --public-key FILE: the signer's key, kept apart from the "
                               "checkpoint file")
        with read_session(ctx.obj.engine) as session:
            body = trail.verified(session)
            body["checkpoints"] = checkpoint.verify_checkpoints(session, log, public_key)
        body["verified"] = bool(body["verified"] and body["checkpoints"]["verified"])
        emit(body, json_mode, _print)
    if not body["verified"]:
        raise typer.Exit(1)


def _print(body: dict[str, Any]) -> None:
    cps = body["checkpoints"]
    if body.get("first_bad"):
        bad = body["first_bad"]
        err_console.print(f"NOT verified: record {bad['seq']}: {bad['problem']}", markup=False, highlight=False)
    for p in cps["problems"]:
        err_console.print(f"NOT verified: checkpoint line {p['line']} (record {p['seq']}): {p['problem']}",
                          markup=False, highlight=False)
    if body["verified"]:
        err_console.print(f"verified: {body['records']:,} records, chain intact, {cps['checkpoints']} checkpoint(s) "
                          f"signed by key {cps['key_id']} match", markup=False, highlight=False)


@audit_app.command("checkpoint")
def checkpoint_cmd(ctx: typer.Context,
                   key: Annotated[Path, typer.Option("--key", help="The Ed25519 signing key (audit keygen).")],
                   log: Annotated[Path, typer.Option("--log", help="The checkpoint file to append to.")],
                   json_mode: JsonOpt = False) -> None:
    """Sign the audit chain's head and append it to a checkpoint file that is shipped off this database."""
    from supportdesk.db.engine import read_session
    from supportdesk.services import checkpoint

    with handled(json_mode), read_session(ctx.obj.engine) as session:
        cp = checkpoint.checkpoint(session, key, log)
        emit({"checkpoint": cp}, json_mode, lambda b: err_console.print(
            f"checkpoint: record {cp['seq']} ({cp['records']:,} records) signed by {cp['key_id']}, "
            f"appended to {log}", markup=False, highlight=False))


@audit_app.command("keygen")
def keygen_cmd(path: Annotated[Path, typer.Argument(help="Where to write the private key (0600); PATH.pub too.")],
               json_mode: JsonOpt = False) -> None:
    """A new checkpoint signing key. Keep it off the database host and away from agents."""
    from supportdesk.services import checkpoint

    with handled(json_mode):
        made = checkpoint.generate_key(path)
        emit(made, json_mode, lambda b: err_console.print(
            f"key {b['key_id']}: private {b['private_key']} (0600), public {b['public_key']}",
            markup=False, highlight=False))
