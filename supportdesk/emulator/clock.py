"""The emulator's clock and the timestamp formats the stores use."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any


def parse_timestamp(text: str) -> int:
    """ISO 8601 (``2026-03-01T12:00:00Z``; a naive time is UTC) -> milliseconds since the epoch."""
    when = dt.datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def format_timestamp(ms: int) -> str:
    """RFC 3339 in UTC with a Z, milliseconds only when there are some (Google's style)."""
    when = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else f"{text}Z"


class Clock:
    """The emulator's now: the wall clock, or a fixed instant (``--now``) that only moves when told to."""

    def __init__(self, fixed_ms: int | None = None) -> None:
        self.fixed_ms = fixed_ms

    def now_ms(self) -> int:
        return self.fixed_ms if self.fixed_ms is not None else int(time.time() * 1000)

    def describe(self) -> dict[str, Any]:
        now = self.now_ms()
        return {"now": format_timestamp(now), "now_ms": now, "fixed": self.fixed_ms is not None}


def millis(value: Any) -> int | None:
    """Google sends milliseconds as strings; the data may hold either."""
    return None if value is None else int(value)
