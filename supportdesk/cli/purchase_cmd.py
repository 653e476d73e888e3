"""`supportdesk purchase ID`: one purchase, our records and the store's on one timeline, region then, refund now."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.output import emit, handled, say
from supportdesk.domain.text import when


def purchase_cmd(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A purchase id (pur_...) or the store's transaction or order id.")],
    json_mode: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """A purchase's story: the store's record, notifications, refund, ledger entries, flags and audit records in
    time order, the region verdict at its time and the refund decision now."""
    from supportdesk.desk import Desk

    with handled(json_mode):  # refund windows count on the stores' clock (the desk's)
        emit(Desk.open(ctx.obj).accounts.purchase(target).to_json(), json_mode, print_purchase)


def amount(minor: int | None, currency: str | None) -> str:
    from supportdesk.domain.money import format_money  # babel tables: loaded when printing, not at startup

    return format_money(minor, currency) if minor is not None and currency else ""


def print_purchase(body: dict[str, Any]) -> None:
    """Header, store view, region, decision, then the timeline one event a line: fits 80 columns."""
    p, sr, r, d = body["purchase"], body["store_record"], body["region"], body["decision"]
    say((p["purchase_id"], "bold"), f"  {p['store']}  {p['handle'] or p['account_id']}  {p['coins']:,} coins  "
        f"{amount(p['price_minor'], p['currency'])}  {p['status']}  bought {when(p['purchased_at'])} UTC")
    say(f"  store txn {p['store_transaction_id']}  product {p['product_id']}  country {p['country']}")
    if sr is None:
        say("  store: no record synced yet", style="dim")
    else:
        say(f"  store: {sr['state']}" + (f", {amount(sr['refunded_minor'], sr['currency'])} back "
                                         f"{when(sr['refunded_at'])} UTC" if sr["refunded_at"] else ""))
    say("  region then: ", ("allowed", "green") if r["allowed"] else ("not allowed", "red"), f" ({r['reason']})")
    colour = {"refund": "green", "store_decides": "yellow"}.get(d["outcome"], "red")
    say("  refund now: ", (d["outcome"], f"bold {colour}"), f" ({d['rule']}) {d['explanation']}")
    if body["flags"]:
        say("  flags: " + ", ".join(f"{f['rule']} {f['status']} (score {f['score']})" for f in body["flags"]),
            style="yellow")
    say(("timeline", "bold"), f" ({len(body['timeline'])} events, oldest first)")
    for e in body["timeline"]:
        money = amount(e["amount_minor"], e["currency"])
        say(f"  {when(e['at'])}  {e['source']:<6}  {e['event']}" + (f"  {money}" if money else "")
            + (f"  {e['ref']}" if e["ref"] else ""))
