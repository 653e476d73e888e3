"""Times an agent types: ISO 8601, or a span back from now (`30d`, `12h`, `90m`, `2w`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supportdesk.errors import InvalidInput

_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 (a date, or a time; naive means UTC) or a span back from now: 30d, 12h, 90m, 2w."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if len(value) > 1 and value[-1] in _UNITS and value[:-1].isdigit():
        return now - timedelta(**{_UNITS[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{text!r} is not a time: use ISO 8601 (2026-03-01 or 2026-03-01T12:00:00Z) "
                           "or a span back from now such as 30d, 12h, 2w") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
