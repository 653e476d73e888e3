"""The human rendering of an account's money story (the --json form is the service's dict)."""

from __future__ import annotations

from typing import Any

from rich.table import Column, Table

from supportdesk.cli.output import err_console
from supportdesk.domain.money import format_money


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)


def _day(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)[:10]


def print_story(story: dict[str, Any]) -> None:
    a, b = story["account"], story["balances"]
    err_console.print(
        f"[bold]{a['handle']}[/] {a['account_id']}  {a['email']}  {a['country']}  {a['kind']}  [b]{a['status']}[/]",
        highlight=False,
    )
    for asset in ("coin", "diamond"):
        bal = b[asset]
        drift = f"  [red]drift {bal['drift']:+,}[/]" if bal["drift"] else ""
        err_console.print(f"  {asset}s: ledger {bal['ledger']:,}  cached {bal['cached']:,}{drift}", highlight=False)
    purchases = Table(Column("purchase", no_wrap=True, min_width=16), "store", "store txn", "coins",
                      Column("price", no_wrap=True), "when", "status", "rgn", box=None,
                      title="purchases (rgn: was buying coins allowed there and then)", title_justify="left")
    for p in story["purchases"]:
        verdict = p.get("region_at_purchase") or {}
        region = ("[green]✓[/]" if verdict.get("allowed") else f"[red]✗ {verdict.get('rule', '')}[/]") if verdict else ""
        purchases.add_row(p["purchase_id"], p["store"], p["store_transaction_id"], f"{p['coins']:,}",
                          format_money(p["price_minor"], p["currency"]), _day(p["purchased_at"]), p["status"], region)
    err_console.print(purchases)
    ledger = Table(Column("entry", no_wrap=True, min_width=17), "asset", "amount", "kind", "ref", "when", "actor",
                   box=None, title_justify="left",
                   title=f"ledger ({len(story['ledger'])} of {story['ledger_total']})")
    for e in story["ledger"]:
        ledger.add_row(e["entry_id"], e["asset"], f"{e['amount']:+,}", e["kind"], e["ref"] or "", _day(e["at"]),
                       e["actor"])
    err_console.print(ledger)
    gifts = story["gifts"]
    err_console.print(f"gifts: {len(gifts['sent'])} sent, {len(gifts['received'])} received; "
                      f"cashouts: {len(story['cashouts'])}; tickets: {len(story['tickets'])}")
    for t in story["tickets"]:
        err_console.print(f"  {t['ticket_id']} [{t['status']}] {t['subject']}", highlight=False, markup=False)
