"""Size limits for text people type or import: one place, shared by the app's inputs and the importer.

Stored text is read by agents on an 80-column screen and copied into audit records; nothing a customer or an
agent writes needs more than these. Above a limit the input is refused with a message naming the field."""

from __future__ import annotations

from supportdesk.errors import InvalidInput

SUBJECT = 500  # a ticket's one-line subject
BODY = 20_000  # what the customer wrote (a long email thread fits)
REASON = 2_000  # the reason recorded with every audited action
NOTE = REASON  # an agent's resolution note (it is the resolve action's reason too)
MESSAGE = 10_000  # a reply to the customer or an internal note on a ticket
ACTOR = 64  # the acting agent's name
HANDLE = 64
EMAIL = 320
ID = 64  # our ids and imported ids
STORE_ID = 128  # stores' transaction and order ids
QUERY = EMAIL  # the longest key a lookup may be given


def check_text(field: str, value: str, limit: int) -> str:
    """`value` unchanged, or InvalidInput naming the field, the size and the limit; NUL is refused everywhere."""
    if "\x00" in value:
        raise InvalidInput(f"the {field} contains a NUL character (\\x00), which cannot be stored: remove it")
    if len(value) > limit:
        raise InvalidInput(f"the {field} is {len(value):,} characters long; at most {limit:,} are allowed")
    return value
