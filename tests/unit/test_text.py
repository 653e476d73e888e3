"""`shown`: what stored text looks like on a terminal. Control and bidi characters never get through raw; printable
text is unchanged; the plurals, times and the search count line agents read."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from supportdesk.domain.text import BIDI, day, is_hidden, matches, pictured, plural, shown, when

HIDDEN = st.sampled_from(sorted(BIDI) + [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))] +
                         ["\u2028", "\u2029"])


def raw_controls(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") or c in BIDI]


@given(st.text())
def test_shown_never_holds_a_control_or_bidi_character(text):
    assert raw_controls(shown(text)) == []


@given(st.text().map(lambda s: "".join(c for c in s if not is_hidden(c))))
def test_printable_text_is_shown_unchanged(text):
    assert shown(text) == text
    assert pictured(text) == text


@given(st.lists(st.one_of(st.text(max_size=5), HIDDEN)).map("".join))
def test_pictured_keeps_the_length_and_hides_every_control(text):
    out = pictured(text)
    assert len(out) == len(text) and raw_controls(out) == []


def test_each_control_is_written_out_visibly():
    assert shown("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert shown("\x1b]52;c;ZXZpbA==\x07") == "\\x1b]52;c;ZXZpbA==\\x07"
    assert shown("\x9b31m") == "\\x9b31m"  # C1 CSI
    assert shown("\u202etxt.exe") == "<U+202E>txt.exe"
    assert shown("a\u2066b\u2069\u200e\u200f") == "a<U+2066>b<U+2069><U+200E><U+200F>"
    assert shown("tab\there") == "tab\\x09here"
    assert shown("two\nlines") == "two\\x0alines"
    assert shown("two\nlines", lines=True) == "two\nlines"
    assert shown("[bold red]x[/] 👩‍💻 émile 東京") == "[bold red]x[/] 👩‍💻 émile 東京"  # markup and ZWJ stay
    assert shown(None) == "None" and shown(42) == "42"


def test_pictures():
    assert pictured("\x1b[2J\x07\x7f\u202e") == "␛[2J␇␡\ufffd"


def test_plural():
    assert [plural(n, "ticket") for n in (0, 1, 2, 1204)] == ["0 tickets", "1 ticket", "2 tickets", "1,204 tickets"]
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"
    assert plural(1, "resolved ticket") == "1 resolved ticket"


def test_when_and_day_read_datetimes_and_iso_strings():
    t = datetime(2026, 9, 20, 8, 30, 59, tzinfo=UTC)
    assert when(t) == when("2026-09-20T08:30:59Z") == "2026-09-20 08:30"
    assert day(t) == day("2026-09-20T08:30:59+00:00") == "2026-09-20"
    assert when(None) == day(None) == ""
    assert when("soon\x1b[2J") == "soon\\x1b[2J"


def test_matches_says_when_the_list_is_capped():
    assert matches(0, "@zed", 50) == "No account matches '@zed'."
    assert matches(1, "@ana", 50) == "1 account matches '@ana'."
    assert matches(3, "@a", 50) == "3 accounts match '@a'."
    assert matches(50, "a", 50) == "First 50 accounts matching 'a' (more may match: type more of it)."
    assert matches(0, "\x1b[2J", 50) == "No account matches '\\x1b[2J'."


def test_a_deadline_reads_as_the_time_left_or_overdue() -> None:
    from datetime import timedelta

    from supportdesk.domain.text import due

    now = datetime(2026, 10, 1, 12, tzinfo=UTC)
    assert due(now + timedelta(hours=3, minutes=12, seconds=30), now) == "due 3h12m"
    assert due(now + timedelta(minutes=45), now) == "due 45m"
    assert due(now - timedelta(hours=1, minutes=5), now) == "overdue 1h05m"
    assert due(now, now) == "overdue 0m"
    assert due((now + timedelta(hours=11)).replace(tzinfo=None), now) == "due 11h00m"  # naive is UTC (SQLite)
    assert due("2026-10-01T20:00:00+00:00", now) == "due 8h00m"  # the JSON form
    assert due(None, now) == ""


def test_tickets_waiting_on_a_store_deadline_come_first_while_unsolved() -> None:
    from supportdesk.domain.tickets import awaiting_answer, deadlines_first

    rows = [{"ticket_id": "T-3", "status": "open", "answer_due_at": None},
            {"ticket_id": "T-2", "status": "open", "answer_due_at": "2026-10-01T20:00:00"},
            {"ticket_id": "T-1", "status": "solved", "answer_due_at": "2026-10-01T08:00:00"},
            {"ticket_id": "T-0", "status": "new", "answer_due_at": "2026-10-01T09:00:00"}]
    assert [t["ticket_id"] for t in deadlines_first(rows)] == ["T-0", "T-2", "T-3", "T-1"]
    assert not awaiting_answer(rows[2])  # solved: the deadline no longer asks anything of the agent


def test_every_hidden_character_is_unprintable():
    """`shown` and `pictured` return printable text at once (str.isprintable): sound only if no hidden character
    is printable."""
    assert not any(is_hidden(chr(c)) and chr(c).isprintable() for c in range(0x110000))
