"""`supportdesk home`: the TUI's first screen as text: my open tickets and their deadlines, open review flags by rule,
each store's last sync (stale or not) and the last reconcile fix."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.output import emit, handled, say


def home_cmd(
    ctx: typer.Context,
    json_mode: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """What needs you first: open tickets (store deadlines first), flags by rule, stale stores, the last reconcile."""
    from supportdesk.desk import Desk

    with handled(json_mode):
        emit(Desk.open(ctx.obj).accounts.overview().to_json(), json_mode, _print)


def _print(body: dict[str, Any]) -> None:
    from datetime import datetime

    from supportdesk.domain.overview import due_words

    now = datetime.fromisoformat(body["now"])
    t = body["tickets"]
    say((f"Open tickets, mine and unassigned: {t['total']:,}", "bold"))
    for row in t["tickets"]:
        due = f"  {due_words(datetime.fromisoformat(row['answer_due_at']), now)}" if row["answer_due_at"] else ""
        say(f"  {row['ticket_id']}  {row['handle']}  {row['status']}{due}  {row['subject']}")
    say(("Open review flags:", "bold"), f" {sum(f['open'] for f in body['flags']):,}")
    for f in body["flags"]:
        say(f"  {f['rule']}: {f['open']:,} (top score {f['top_score']})")
    say(("Stores:", "bold"))
    for s in body["stores"]:
        say(f"  {s['store']}: ", (s["why"], "red" if s["stale"] else "green"))
    r = body["reconcile"]
    fix = r["fix"]
    fixed = f"{fix['at']} by {fix['actor']} ({fix['action']})" if fix else "none"
    say(f"Last full sync: {r['synced_at'] or 'never'}; last fix: {fixed}")
