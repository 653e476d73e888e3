"""How every screen writes money, coins, times, counts and stored text: one place, so no screen differs.

Stored or typed text (handles, subjects, reasons, ids) is data: `plain` makes a rich Text of it, never markup,
with control and bidi characters shown visibly (supportdesk.domain.text.shown).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.highlighter import Highlighter
from rich.text import Text

from supportdesk.domain.text import day, due, pictured, plural, shown, time_left, when
from supportdesk.domain.tickets import awaiting_answer

__all__ = ["VisibleControls", "answer_due", "cell", "coins", "day", "deadline", "money", "plain", "plural", "shown",
           "when"]


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


def answer_due(ticket: dict[str, object]) -> Text:
    """A ticket's store deadline while it is unsolved (`due 3h12m`, `overdue 5m`); empty otherwise."""
    return deadline(ticket["answer_due_at"]) if awaiting_answer(ticket) else Text("")


class VisibleControls(Highlighter):
    """For an Input: typed or pasted control and bidi characters show as ␛, ␇, � (one cell each, so the cursor
    stays right) instead of reaching the terminal; the value itself is unchanged."""

    def highlight(self, text: Text) -> None:
        text.plain = pictured(text.plain)
