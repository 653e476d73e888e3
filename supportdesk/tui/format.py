"""How every screen writes money, coins, times, counts and stored text: one place, so no screen differs.

Stored or typed text (handles, subjects, reasons, ids) is data: `plain` makes a rich Text of it, never markup,
with control and bidi characters shown visibly (supportdesk.domain.text.shown).
"""

from __future__ import annotations

from rich.highlighter import Highlighter
from rich.text import Text

from supportdesk.domain.text import day, pictured, plural, shown, when

__all__ = ["VisibleControls", "cell", "coins", "day", "money", "plain", "plural", "shown", "when"]


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


class VisibleControls(Highlighter):
    """For an Input: typed or pasted control and bidi characters show as ␛, ␇, � (one cell each, so the cursor
    stays right) instead of reaching the terminal; the value itself is unchanged."""

    def highlight(self, text: Text) -> None:
        text.plain = pictured(text.plain)
