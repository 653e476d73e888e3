"""The keys a query could be: what `parse_query` finds is exactly what its rules say (formats.md), however it
finds them: every key whose shape fits the text as that key spells it, the prefix's key (then email for an @
inside, store for an Apple-like number) first."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from supportdesk.domain.query import APPLE_ID, KEYS, MAX_QUERY, PREFERRED, SHAPES, parse_query
from supportdesk.errors import InvalidInput


def spelled(text: str, key: str) -> str:
    if key == "handle":
        return text if text.startswith("@") else "@" + text
    if key == "ticket_id":
        return "T-" + text[2:] if text[:2].lower() == "t-" else text
    return text


def rules(text: str) -> tuple[str, ...]:
    """The rules written out plainly: test every key's shape on its own spelling."""
    first = [key for prefix, key in PREFERRED if text.upper().startswith(prefix.upper())]
    if "@" in text[1:]:
        first.append("email")
    if APPLE_ID.match(text):
        first.append("store_id")
    return tuple(k for k in dict.fromkeys([*first, *KEYS]) if SHAPES[k].match(spelled(text, k)))


pieces = st.sampled_from(["acc_", "ACC_", "pur_", "Pur_", "ch_", "gpa.", "GPA.", "T-", "t-", "@", "@@", "a@b",
                          "x", "_", ".", ":", "-", " ", "1", "12345678901", "é", "ß", "ẚ", "İ", "%", "\\"])
texts = st.lists(st.one_of(pieces, st.text(min_size=1, max_size=5)), min_size=1, max_size=8).map("".join)


@given(texts | st.text(min_size=1, max_size=140))
@example("@" + "x" * 63)
@example("@" + "x" * 64)
@example("x" * 64)
@example("x" * 65)
@example("t-" + "1" * 62)
@example("2000000001")
@example("acc_fan@mail.com")
def test_keys_are_the_rules(text):
    text = text.strip()
    want = rules(text)
    if not text or len(text) > MAX_QUERY or not want or not text.isprintable():
        return  # the error cases have tests of their own
    assert parse_query(text).keys == want


@pytest.mark.parametrize("text", ["two words", "@a b", "a" * 129])
def test_no_key_fits(text):
    assert rules(text) == ()
    with pytest.raises(InvalidInput, match="cannot be a handle"):
        parse_query(text)
