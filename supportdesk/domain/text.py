"""Stored and typed text as an agent's terminal may show it: control and bidi characters made visible.

Handles, ticket subjects, reasons and store ids come from customers, stores and other agents. Sent raw, an ESC
starts a terminal command (clear the screen, write the clipboard with OSC 52, set the title) and a bidi override
reverses what follows. `shown` is the one function both front-ends use before any such text reaches a terminal.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta

# Invisible characters that change the order text is displayed in (Unicode bidi controls, marks and isolates).
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Categories never sent raw: controls (C0, DEL, C1), line and paragraph separators, surrogates. These and the
# bidi controls (format characters, Cf) are all unprintable to str.isprintable: printable text is never hidden.
HIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


def is_hidden(char: str) -> bool:
    """True for a character that would act on the terminal or reorder the line rather than be displayed."""
    return char in BIDI or unicodedata.category(char) in HIDDEN_CATEGORIES


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"<U+{code:04X}>"


def shown(text: object, *, lines: bool = False) -> str:
    """`text` with every control and bidi character written out (`\\x1b`, `<U+202E>`); printable text unchanged.

    `lines=True` keeps newlines (a ticket body shown on several lines); tabs are always written out.
    """
    s = text if isinstance(text, str) else str(text)
    if s.isprintable() or not any(is_hidden(c) for c in s):  # every hidden character is unprintable (one C call)
        return s
    return "".join(c if not is_hidden(c) or (lines and c == "\n") else _visible(c) for c in s)


def pictured(text: str) -> str:
    """`text` with each control or bidi character replaced by one visible character (␛ for ESC, ␇ for BEL, �
    for the rest): the same length, so an input box can show what is being typed without moving its cursor."""
    if text.isprintable() or not any(is_hidden(c) for c in text):
        return text
    return "".join(_picture(c) if is_hidden(c) else c for c in text)


def _picture(char: str) -> str:
    code = ord(char)
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 ticket`, `2 tickets`, `1,204 entries` (pass `words` when adding an s is wrong)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def _moment(value: object) -> object:
    """A datetime or date as is; an ISO 8601 string (a JSON form) parsed; anything else unchanged."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def when(value: object) -> str:
    """A time to the minute, UTC as stored: `2026-09-20 08:30`; empty for none."""
    moment = _moment(value)
    return moment.strftime("%Y-%m-%d %H:%M") if isinstance(moment, date) else shown(value or "")


def time_left(deadline: object, now: datetime) -> timedelta | None:
    """How long until `deadline` (negative once past); None for no deadline. Naive times are UTC (SQLite)."""
    moment = _moment(deadline)
    if not isinstance(moment, datetime):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - now


def due(deadline: object, now: datetime) -> str:
    """A store's answer deadline as the time left: `due 3h12m`, `due 45m`, `overdue 1h05m`; empty for none."""
    left = time_left(deadline, now)
    if left is None:
        return ""
    word = "due" if left > timedelta(0) else "overdue"
    hours, minutes = divmod(int(abs(left).total_seconds()) // 60, 60)
    return f"{word} {hours}h{minutes:02d}m" if hours else f"{word} {minutes}m"


def day(value: object) -> str:
    """A date: `2026-09-20`; empty for none."""
    moment = _moment(value)
    return moment.strftime("%Y-%m-%d") if isinstance(moment, date) else shown(value or "")[:10]


def matches(n: int, query: str, limit: int) -> str:
    """The line over search results: "1 account matches '@ana'.", "First 50 accounts matching 'a' (more may match)."."""
    q = shown(repr(query))
    if n == 0:
        return f"No account matches {q}."
    if n >= limit:
        return f"First {plural(n, 'account')} matching {q} (more may match: type more of it)."
    return f"{plural(n, 'account')} match{'es' if n == 1 else ''} {q}."
