"""What an agent typed: every key it could be, most likely first.

Customers' emails, handles and store order numbers do not respect our prefixes (`acc_fan@mail.com`,
`@pur_chase`, an order `T-shirt-42`), so a prefix only puts its key first; the query is still searched under
every other key it could match. A query is malformed only when no key could hold it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from supportdesk.domain import limits
from supportdesk.domain.tickets import ticket_id_of
from supportdesk.errors import InvalidInput

MAX_QUERY = limits.QUERY
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")  # our ids and imported ids (formats.md)
# Key -> what a value of that key looks like (what the importer and the stores accept).
SHAPES = {
    "account_id": _ID,
    "handle": re.compile(r"^@?[^\s@]{1,63}$"),
    "email": re.compile(r"^[^\s@]+@[^\s@]+$"),
    "purchase_id": _ID,
    "store_id": re.compile(r"^\S{1,128}$"),  # a store's transaction or order id
    "ticket_id": _ID,
}
KEYS = tuple(SHAPES)
# A prefix (or form) -> the key it makes most likely.
PREFERRED = (
    ("acc_", "account_id"), ("pur_", "purchase_id"), ("ch_", "store_id"), ("GPA.", "store_id"),
    ("T-", "ticket_id"), ("@", "handle"),
)
APPLE_ID = re.compile(r"^\d{6,20}$")


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    keys: tuple[str, ...]  # every key the text could be a value of, most likely first

    @property
    def kind(self) -> str:
        """The most likely key (what the query looks like)."""
        return self.keys[0]

    def value(self, key: str) -> str:
        """The text as that key spells it: handles with their @, ticket ids with a capital T."""
        return spelled(self.text, key)


def spelled(text: str, key: str) -> str:
    """The text as that key spells it (`Query.value`)."""
    if key == "handle":
        return text if text.startswith("@") else "@" + text
    if key == "ticket_id":
        return ticket_id_of(text)
    return text


def parse_query(raw: str) -> Query:
    text = query_text(raw)
    keys = tuple(keys_of(text))
    if not keys:
        raise InvalidInput(f"{text!r} cannot be a handle, email, id or store order/transaction id "
                           "(spaces? paste just the one key)")
    return Query(text, keys)


def query_text(raw: str) -> str:
    """The text trimmed, or InvalidInput if it is empty, too long for any key or holds control characters."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("type a handle, email, account id, purchase id, ticket id or store order/transaction id")
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"the query is {len(text):,} characters long; no key is longer than {MAX_QUERY}")
    # isprintable() is False for every control or format character (and for some spaces): only then look closer.
    if not text.isprintable() and any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput("the query contains control characters (or a NUL): retype it")
    return text


# The prefixes by their first character (all differ, so one prefix at most can apply: one test, not six).
_PREFIXED = {prefix[0]: (prefix, key) for prefix, key in ((p.upper(), k) for p, k in PREFERRED)}
assert len(_PREFIXED) == len(PREFERRED), "two prefixes start alike: keys_of must test them all"
assert max(len(prefix) for prefix, _ in PREFERRED) <= 4, "likely_keys reads the first four characters"
# Key -> whether a (trimmed) text fits it as that key spells it: `^@?...` fits a handle with or without its @.
FITS: dict[str, Callable[[str], object]] = {**{key: shape.match for key, shape in SHAPES.items()},
         "ticket_id": lambda text: _ID.match(ticket_id_of(text))}


def keys_of(text: str) -> Iterator[str]:
    """Every key whose shape fits the (trimmed) text as that key spells it (SHAPES), likeliest first; each shape
    is tested when the key is asked for, so a lookup that stops at the likeliest key tests one."""
    fits = FITS
    for key in likely_keys(text):
        if fits[key](text):
            yield key


def likely_keys(text: str) -> tuple[str, ...]:
    """Every key in the order `keys_of` tries them, none yet tested against its shape (`FITS[key](text)`): for a
    caller that stops at the first key that fits and finds an account (a lookup), without a generator."""
    head = text[:4].upper()  # upper() maps character by character: a prefix of text.upper(), enough for any prefix
    prefixed = _PREFIXED.get(head[:1])
    first = prefixed[1] if prefixed is not None and head.startswith(prefixed[0]) else None
    at_inside = "@" in text[1:]
    # A prefixed text starts with a letter or @, an email holds an @: never an Apple transaction id (digits only).
    return _likely(first, at_inside, first is None and not at_inside and APPLE_ID.match(text) is not None)


@cache  # 7 x 2 x 2 combinations at most
def _likely(prefixed: str | None, at_inside: bool, apple: bool) -> tuple[str, ...]:
    """Every key, likeliest first: the prefix's, email for an @ after the first character, store for an Apple
    transaction id (digits only), then the rest in KEYS order."""
    first = [prefixed] if prefixed else []
    if at_inside:
        first.append("email")
    if apple:
        first.append("store_id")
    return tuple(dict.fromkeys([*first, *KEYS]))
