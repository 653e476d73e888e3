"""What an agent typed: every key it could be, most likely first.

Customers' emails, handles and store order numbers do not respect our prefixes (`acc_fan@mail.com`,
`@pur_chase`, an order `T-shirt-42`), so a prefix only puts its key first; the query is still searched under
every other key it could match. A query is malformed only when no key could hold it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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
        return _spelled(self.text, key)


def _spelled(text: str, key: str) -> str:
    if key == "handle":
        return text if text.startswith("@") else "@" + text
    if key == "ticket_id":
        return ticket_id_of(text)
    return text


def parse_query(raw: str) -> Query:
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("type a handle, email, account id, purchase id, ticket id or store order/transaction id")
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"the query is {len(text):,} characters long; no key is longer than {MAX_QUERY}")
    # isprintable() is False for every control or format character (and for some spaces): only then look closer.
    if not text.isprintable() and any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput("the query contains control characters (or a NUL): retype it")
    keys = [k for k in _likely(text) if SHAPES[k].match(_spelled(text, k))]
    if not keys:
        raise InvalidInput(f"{text!r} cannot be a handle, email, id or store order/transaction id "
                           "(spaces? paste just the one key)")
    return Query(text, tuple(keys))


_PREFERRED_UPPER = tuple((prefix.upper(), key) for prefix, key in PREFERRED)


def _likely(text: str) -> list[str]:
    upper = text.upper()
    first = [key for prefix, key in _PREFERRED_UPPER if upper.startswith(prefix)]
    if "@" in text[1:]:
        first.append("email")
    if APPLE_ID.match(text):
        first.append("store_id")
    return list(dict.fromkeys([*first, *KEYS]))
