"""How every screen writes money, coins, times, counts and stored text: one place, so no screen differs.

Stored or typed text (handles, subjects, reasons, ids) is data: `plain` makes a rich Text of it, never markup,
with control and bidi characters shown visibly (supportdesk.domain.text.shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.highlighter import Highlighter
from rich.text import Text

from supportdesk.domain.text import day, due, pictured, plural, shown, time_left, when
from supportdesk.domain.tickets import awaiting_answer

if TYPE_CHECKING:  # a type only: the ticket results (and the story's types they use) load after the first paint
    from supportdesk.desk.ticket_results import ListedTicket

__all__ = ["VisibleControls", "answer_due", "cell", "change_text", "coins", "day", "deadline", "decision_text", "money",
           "plain", "plural", "shown", "when"]


def money(minor: int | None, currency: str | None) -> str:
    """`4.99 USD`, `500 JPY` (ISO 4217 exponent); empty when there is no amount."""
    from supportdesk.domain.money import format_money  # babel tables: loaded on first use, not at startup

    return format_money(minor, currency) if minor is not None and currency else ""


def coins(n: int, signed: bool = False) -> str:
    return f"{n:+,}" if signed else f"{n:,}"


def plain(value: object, style: str = "", *, lines: bool = False) -> Text:
    """Stored or typed text as a Text: never parsed as markup, controls made visible."""
    return Text(shown("" if value is None else value, lines=lines), style=style)


def cell(value: object) -> object:
    """A DataTable cell: str becomes plain Text (DataTable parses str as markup); renderables pass through."""
    return plain(value) if isinstance(value, str) else value


SOON = timedelta(hours=3)  # a store's deadline closer than this is shown in bold


def deadline(value: object, now: datetime | None = None) -> Text:
    """A store's answer deadline (an App Store consumption request): `due 3h12m` in yellow, bold under three
    hours, `overdue 25m` in bold red; empty for none."""
    now = now or datetime.now(UTC)
    left = time_left(value, now)
    if left is None:
        return Text("")
    style = "bold red" if left <= timedelta(0) else "bold yellow" if left < SOON else "yellow"
    return Text(due(value, now), style=style)


def answer_due(ticket: Mapping[str, Any] | ListedTicket) -> Text:
    """A ticket's store deadline while it is unsolved (`due 3h12m`, `overdue 5m`); empty otherwise."""
    if isinstance(ticket, Mapping):  # a row of an account's story or of the home screen
        return deadline(ticket["answer_due_at"]) if awaiting_answer(ticket) else Text("")
    return deadline(ticket.due)


class VisibleControls(Highlighter):
    """For an Input: typed or pasted control and bidi characters show as ␛, ␇, � (one cell each, so the cursor
    stays right) instead of reaching the terminal; the value itself is unchanged."""

    def highlight(self, text: Text) -> None:
        text.plain = pictured(text.plain)


Row = dict[str, Any]


def change_text(before: Row | None, after: Row | None) -> str:
    """What moved, in one line: "+70 coin, ledger 0 → 70, cached 0 → 70", "status open → resolved",
    "amount 49.99 USD" (an `*_minor` field beside a `currency` is money)."""
    before, after = before or {}, after or {}
    parts = []
    entry = after.get("entry")
    if isinstance(entry, dict) and isinstance(entry.get("amount"), int):
        parts.append(f"{entry['amount']:+,} {entry.get('asset', '')}".rstrip())
    money_keys = {k for k in (*before, *after) if k.endswith("_minor")}
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if key in ("entry", "asset") or old == new or (key == "currency" and money_keys):
            continue
        name = key.removesuffix("_minor")
        if isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
            parts.append(key)  # nested: in the detail pane
        elif key not in before:
            parts.append(f"{name} {value(new, key, after)}")
        else:
            parts.append(f"{name} {value(old, key, before)} → {value(new, key, after)}")
    return ", ".join(parts)


def value(v: Any, key: str = "", record: Row | None = None) -> str:
    if v is None:
        return "–"
    currency = (record or {}).get("currency")
    if key.endswith("_minor") and isinstance(v, int) and isinstance(currency, str):
        return money(v, currency)
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


OUTCOME_STYLE = {"refund": "bold green", "store_decides": "bold yellow", "deny": "bold red"}


def decision_text(d: dict[str, Any]) -> Text:
    text = Text.assemble((d["outcome"], OUTCOME_STYLE.get(d["outcome"], "bold")), "  ", (d["rule"], "dim"), "\n",
                         shown(d["explanation"]))
    if d.get("overridden"):
        text.append(f"\nA lead's override of {d['overridden']}", style="bold yellow")
    elif d.get("overridable"):
        text.append("\nA lead may override this (o).", style="yellow")
    if d.get("window") and d["rule"].split(".")[0] in ("web", "google"):  # the stores whose refunds have a window
        text.append(f"\nWindow {d['window']}", style="dim")
    if d["outcome"] == "refund":
        text.append(f"\nRefund {money(d['refund_minor'], d['currency'])}, claw back "
                    f"{d['coins_clawback']:,} coins")
    if d.get("consumption"):
        a = d["consumption"]
        text.append(f"\nIf Apple asks: {a['refund_preference']} ({a['why']}), "
                    f"{a['consumption_percentage'] / 1000:g}% consumed, {a['delivery_status']}")
    return text
