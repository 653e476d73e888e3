"""What an agent typed: which kind of key it looks like, and whether it is well-formed."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from supportdesk.errors import InvalidInput

MAX_QUERY = 200
# Prefix -> (kind, full pattern). A query that starts like an id must then be a well-formed id.
ID_SHAPES = {
    "acc_": ("account_id", re.compile(r"^acc_[A-Za-z0-9]{1,60}$")),
    "pur_": ("purchase_id", re.compile(r"^pur_[A-Za-z0-9]{1,60}$")),
    "ch_": ("web_charge_id", re.compile(r"^ch_[A-Za-z0-9]{1,60}$")),
    "GPA.": ("google_order_id", re.compile(r"^GPA\.\d{4}-\d{4}-\d{4}-\d{5}(\.\.\d+)?$")),
    "T-": ("ticket_id", re.compile(r"^T-\d{1,12}$")),
}
APPLE_ID = re.compile(r"^\d{6,20}$")


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    kind: str  # handle | email | account_id | purchase_id | web_charge_id | google_order_id | apple_id | ticket_id | text


def parse_query(raw: str) -> Query:
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("type a handle, email, account id, purchase id or store order/transaction id")
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"the query is {len(text)} characters long; no key is longer than {MAX_QUERY}")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput("the query contains control characters")
    for prefix, (kind, shape) in ID_SHAPES.items():
        if text.startswith(prefix):
            if not shape.match(text):
                raise InvalidInput(f"{text!r} looks like a {kind.replace('_', ' ')} but is malformed")
            return Query(text, kind)
    if text.startswith("@"):
        return Query(text, "handle")
    if "@" in text:
        return Query(text, "email")
    if APPLE_ID.match(text):
        return Query(text, "apple_id")
    return Query(text, "text")
