"""`supportdesk audit`: the trail, `--verify` (with `--checkpoints`), and signed checkpoints of the chain head."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from supportdesk.cli.output import emit, err_console, handled, say
from supportdesk.desk import Desk
from supportdesk.desk.audit import generate_key
from supportdesk.domain.text import plural, when

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]

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
    if checkpoints is None and not verify:
        with handled(json_mode):
            emit(Desk.open(ctx.obj).audit.trail(ticket, account).to_json(), json_mode, _print_trail)
        return
    with handled(json_mode):
        result = Desk.open(ctx.obj).audit.verify(checkpoints, public_key)
        emit(result.to_json(), json_mode, _print_verify if checkpoints is None else _print_checkpoints)
    if not result.verified:
        raise typer.Exit(1)


def _print_verify(body: dict[str, Any]) -> None:
    if body["verified"]:
        say(("verified", "green"), f": {plural(body['records'], 'record')}, chain intact")
    else:
        bad = body["first_bad"]
        say(("NOT verified", "bold red"), f": record {bad['seq']}: {bad['problem']}")


def _print_trail(body: dict[str, Any]) -> None:
    for a in body["entries"]:
        say(f"{a['seq']:>6} {when(a['at'])} {a['actor']:12s} {a['action']:22s} {a['target']:24s} "
            f"{a['ticket_id'] or '':10s} {a['reason'] or ''}")


def _print_checkpoints(body: dict[str, Any]) -> None:
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
    with handled(json_mode):
        cp = Desk.open(ctx.obj).audit.checkpoint(key, log)
        emit({"checkpoint": cp}, json_mode, lambda b: err_console.print(
            f"checkpoint: record {cp['seq']} ({cp['records']:,} records) signed by {cp['key_id']}, "
            f"appended to {log}", markup=False, highlight=False))


@audit_app.command("keygen")
def keygen_cmd(path: Annotated[Path, typer.Argument(help="Where to write the private key (0600); PATH.pub too.")],
               json_mode: JsonOpt = False) -> None:
    """A new checkpoint signing key. Keep it off the database host and away from agents."""
    with handled(json_mode):
        made = generate_key(path)
        emit(made, json_mode, lambda b: err_console.print(
            f"key {b['key_id']}: private {b['private_key']} (0600), public {b['public_key']}",
            markup=False, highlight=False))
