"""`supportdesk region CC [--at TS]`: what a country allows, at what prices, in force at a time, and its history."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from supportdesk.cli.output import cells, emit, err_console, handled, say
from supportdesk.desk import Desk
from supportdesk.domain.text import day, plural


def region_cmd(
    ctx: typer.Context,
    country: Annotated[str, typer.Argument(help="Country code (VN, VNM) or name (Vietnam, 'viet nam').")],
    at: Annotated[str | None, typer.Option("--at", help="As of (ISO 8601, or a span back such as 30d; default now).")]
    = None,
    json_mode: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """What a country allows (buy coins, send gifts, cash out), minimum age, stores and prices in force at a time."""
    with handled(json_mode):
        emit(Desk.open(ctx.obj).regions.region(country, at).to_json(), json_mode, print_region)


def _yes(flag: bool) -> tuple[str, str]:
    return ("yes", "green") if flag else ("no", "red")


def print_region(body: dict[str, Any]) -> None:
    """A header, what is allowed, the price table and the history: fits 80 columns."""
    at = body["at"].strftime("%Y-%m-%d %H:%M UTC")
    mark = ("available", "green") if body["available"] else ("unavailable", "red")
    say((body["name"], "bold"), f" ({body['country']}, {body['alpha_3']}) as of {at}: ", mark)
    say(body["reason"])
    row = body["in_force"]
    if row:
        allows = body["allows"]
        say("  buy coins ", _yes(allows["buy_coins"]), "   send gifts ", _yes(allows["send_gifts"]),
            "   cash out ", _yes(allows["cash_out"]), f"   min age {row['min_age']}   currency {row['currency']}")
        say(f"  stores {', '.join(row['stores']) or 'none'}   row in force since {day(row['valid_from'])}")
        if row["note"] and row["note"] not in body["reason"]:
            say(f"  note: {row['note']}")
    _print_prices(body["prices"])
    _print_history(body["history"])


def _grid(*columns: tuple[str, str]) -> Any:
    from rich.table import Table

    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="dim")
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    return table


def _print_prices(prices: list[dict[str, Any]]) -> None:
    if not prices:
        err_console.print("no price points in force", style="dim")
        return
    say(("prices in force", "bold"), f" ({len(prices)}; promotions in yellow)")
    from supportdesk.domain.money import format_money  # babel tables: loaded when printing, not at startup

    table = _grid(("store", "left"), ("bundle", "left"), ("coins", "right"), ("bonus", "right"),
                  ("price", "right"), ("from", "left"), ("to", "left"))
    for p in prices:
        table.add_row(*cells(p["store"] + ("" if p["store_offered"] else "*"), p["product_id"], f"{p['coins']:,}",
                             f"+{p['bonus_coins']:,}" if p["bonus_coins"] else "",
                             format_money(p["price_minor"], p["currency"]), day(p["valid_from"]),
                             day(p["valid_to"]) or "open"), style="yellow" if p["promotion"] else None)
    err_console.print(table, highlight=False)
    if not all(p["store_offered"] for p in prices):
        err_console.print("* a store the region in force does not sell coins through", style="dim")


def _print_history(history: list[dict[str, Any]]) -> None:
    if not history:
        return
    say(("history", "bold"), f" ({plural(len(history), 'row')}; > in force)")
    table = _grid(("", "left"), ("from", "left"), ("what changed", "left"))
    for h in history:
        table.add_row(*cells(">" if h["in_force"] else "", day(h["valid_from"]), h["summary"]),
                      style="bold" if h["in_force"] else None)
    err_console.print(table, highlight=False)
