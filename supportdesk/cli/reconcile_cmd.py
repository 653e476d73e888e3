"""`supportdesk reconcile`: findings for one account or all, and their fixes (each posted once)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supportdesk.cli.output import confirm, emit, err_console, handled, say
from supportdesk.desk import Desk
from supportdesk.desk.reconcile import Fixes, Reconciliation, describe, describe_refund
from supportdesk.domain.findings import Finding
from supportdesk.domain.text import plural
from supportdesk.errors import InvalidInput

if TYPE_CHECKING:
    from supportdesk.desk.reconcile import Scope, SyncResult


def reconcile_cmd(
    ctx: typer.Context,
    all_accounts: Annotated[bool, typer.Option("--all", help="Every account.")] = False,
    account: Annotated[str | None, typer.Option("--account", help="One account (any key: handle, id, email...).")] = None,
    store: Annotated[str | None, typer.Option("--store", help="apple, google or web.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only purchases from then (ISO 8601 or 30d).")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Use the store records already synced.")] = False,
    lookup_old: Annotated[bool, typer.Option(
        "--lookup-old", help="Also look up, one by one, our purchases older than the stores' look-back windows "
        "(Apple 180 days), and ignore the sync cursors.")] = False,
    fix: Annotated[bool, typer.Option("--fix", help="Apply the fix of every fixable finding.")] = False,
    decide: Annotated[str | None, typer.Option(
        "--decide", help="A charge that matches no price (amount_mismatch, store transaction id): decide it.")] = None,
    credit: Annotated[bool, typer.Option(
        "--credit", help="With --decide: credit the bundle's coins (lead-only above the credit limit).")] = False,
    refund_charge: Annotated[bool, typer.Option(
        "--refund-charge", help="With --decide: refund the whole charge at the store and credit nothing.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required with --fix).")] = None,
    ticket: Annotated[str | None, typer.Option("--ticket", help="The ticket the fixes belong to.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Acting agent (default: configured).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_mode: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Compare what the stores charged with what our ledger credited; --fix credits, claws back or resyncs."""
    with handled(json_mode):
        if all_accounts == bool(account):
            raise InvalidInput("give either --all or --account ID")
        if store not in (None, "apple", "google", "web"):
            raise InvalidInput(f"--store must be apple, google or web, not {store!r}")
        if (fix or decide) and not (reason and reason.strip()):
            raise InvalidInput("--fix and --decide need --reason TEXT: every fix is audited with its reason")
        if bool(decide) != (credit or refund_charge) or (credit and refund_charge) or (decide and fix):
            raise InvalidInput("--decide TRANSACTION goes with one of --credit or --refund-charge (and without --fix)")
        desk = Desk.open(ctx.obj)
        scope = desk.reconcile.scope(account, store, since)
        synced = None if offline else _sync_first(desk, scope, lookup_old)
        found = desk.reconcile.detect(scope, synced=synced)
        body = found.to_json()
        if decide:
            body.update(_decide(desk, found, decide, "credit" if credit else "refund_charge", reason or "",
                                ticket, actor, yes, json_mode).to_json())
        if fix:
            fixable = found.fixable
            who = desk.acting(actor, reason, ticket)
            if fixable:
                confirm(_question(fixable, reason or "", who.ticket_id), yes, json_mode)
            # exactly the findings just confirmed: each is re-checked before its fix, new ones wait
            body.update(desk.reconcile.fix_confirmed(fixable, who).to_json())
        emit(body, json_mode, _print)
    if body.get("failed"):
        raise typer.Exit(1)


def _decide(desk: Desk, found: Reconciliation, target: str, decision: str, reason: str, ticket: str | None,
            actor: str | None, yes: bool, json_mode: bool) -> Fixes:
    """The agent's decision on one charge that matches no price, confirmed, then re-checked and applied once."""
    f = desk.reconcile.decidable(found.findings, target)
    what = describe(f) if decision == "credit" else describe_refund(f)
    confirm(f"{what}; reason {reason!r}{f', ticket {ticket}' if ticket else ''}?", yes, json_mode)
    return desk.reconcile.decide(f, decision, desk.acting(actor, reason, ticket))


def _sync_first(desk: Desk, scope: Scope, lookup_old: bool) -> SyncResult | None:
    """Pull the stores' view first; a store that fails is named and the others' findings still count. With no
    stores configured, say so and reconcile what was synced before."""
    result = desk.reconcile.sync_first(scope, lookup_old=lookup_old)
    if result is None:
        err_console.print("[yellow]no stores configured (--config): reconciling the store records synced before[/]")
    return result


def _question(fixable: list[Finding], reason: str, ticket: str | None) -> str:
    counts = Counter(f.kind for f in fixable)
    moves = [f for f in fixable if f.kind != "balance_drift"]
    credit = sum(f.coins for f in moves if f.coins > 0)
    back = -sum(f.coins for f in moves if f.coins < 0) + sum(
        e["amount"] for f in moves if f.kind == "misdirected_credit" for e in f.detail["entries"])
    parts = ", ".join(f"{n} {k}" for k, n in counts.items())
    return (f"Apply {len(fixable)} fixes ({parts}): credit {credit:,} coins, take back {back:,} coins, "
            f"resync {counts.get('balance_drift', 0)} cached balances; reason {reason!r}"
            f"{f', ticket {ticket}' if ticket else ''}?")


def _print(body: dict[str, Any]) -> None:
    """Grouped by kind, one line a finding and one for its fix: readable at 80 columns."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for f in body["findings"]:
        by_kind.setdefault(f["kind"], []).append(f)
    for kind, rows in by_kind.items():
        say((kind, "bold"), f" ({len(rows)})")
        for f in rows:
            where = " ".join(x for x in (f["store"], f["store_transaction_id"], f["purchase_id"]) if x)
            say(f"  {f['account_id'] or '?'}  {where}  {f['coins']:+,} coins")
            finding = Finding(**{k: f[k] for k in ("kind", "account_id", "store", "store_transaction_id",
                                                   "purchase_id", "coins", "detail")})
            what = describe(finding) if f["fixable"] else \
                f"agent decides (--decide {f['store_transaction_id']} --credit|--refund-charge): {describe(finding)}" \
                if f.get("decidable") else "report only: " + kind
            say(f"    {what}", style="dim")
    s = body["summary"]
    say(f"{plural(s['total'], 'finding')} on {plural(s['accounts'], 'account')}")
    for store in s.get("failed_stores", []):
        error = s["stores"][store]["error"]["message"]
        say((f"{store} could not be synced", "red"), f": {error} (its findings are stale)")
    for a in body.get("applied", []):
        tag = "replayed (already done)" if a["replayed"] else "applied"
        say(f"  {tag}: {a['kind']} {a.get('purchase_id') or a.get('account_id')}")
    for skip in body.get("skipped", []):
        say("  ", ("skipped", "yellow"), f": {skip['kind']}: {skip['message']}")
    for failure in body.get("failed", []):
        say("  ", ("failed", "red"), f": {failure['kind']}: {failure['error']['message']}")
