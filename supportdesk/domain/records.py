"""The dataset contract (formats.md section 1) as validating models: one per file, strict types."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Literal

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from supportdesk.domain.ledger import ASSETS, KINDS, amount_problem
from supportdesk.domain.money import MAX_COINS, MAX_MINOR, check_currency
from supportdesk.domain.tickets import ticket_status
from supportdesk.errors import InvalidInput

STORES = ("apple", "google", "web")


def _country(value: str) -> str:
    if len(value) != 2 or not _is_country(value.upper()):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value.upper()


@lru_cache(maxsize=512)  # an import asks for the same few countries on every account and purchase line
def _is_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


# Stored text is data: NUL is refused everywhere (PostgreSQL cannot store it, SQLite would), and single-line
# fields (handles, ids, names) refuse every control character and bidi override, which would garble or reorder
# what an agent sees. Patterns, not Python validators: pydantic checks them in Rust, per field of a million lines.
UNPRINTABLE = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_UNPRINTABLE = re.compile(f"[{UNPRINTABLE}]")
YEARS = (2000, 2100)  # timestamps outside these years are typos or sentinels, not events of this economy


def unprintable(value: object) -> str | None:
    """What makes a refused text refused (for the error message), or None."""
    bad = _UNPRINTABLE.search(value) if isinstance(value, str) else None
    if bad is None:
        return None
    what = "a NUL character" if bad.group() == "\x00" else (
        "a bidi override" if bad.group() >= "\u202a" else "a control character")
    return f"contains {what} (U+{ord(bad.group()):04X} at position {bad.start()})"


def _sane_birth(value: date) -> date:
    if not 1900 <= value.year <= YEARS[1]:
        raise ValueError(f"year {value.year} is outside 1900..{YEARS[1]}")
    return value


def _one_line(max_length: int) -> object:
    return Field(min_length=1, max_length=max_length, pattern=f"^[^{UNPRINTABLE}]*$")


# Limits (characters) on every text field; ids are 64 (Id), store ids and refs 128.
Note = Annotated[str, Field(max_length=2000, pattern="^[^\x00]*$")]  # region notes, ledger reasons
Body = Annotated[str, Field(max_length=20_000, pattern="^[^\x00]*$")]  # ticket bodies (line breaks allowed)
Subject = Annotated[str, _one_line(500)]
Name = Annotated[str, _one_line(200)]
Token = Annotated[str, _one_line(64)]  # actors, customer ids, categories
LongToken = Annotated[str, _one_line(128)]  # store transaction ids, refs
Email = Annotated[str, Field(max_length=320, pattern=f"^[^\\s@{UNPRINTABLE}]+@[^\\s@{UNPRINTABLE}]+$")]
Handle = Annotated[str, Field(max_length=64, pattern=f"^@[^\\s@{UNPRINTABLE}]{{1,63}}$")]


def _ticket_status(value: str) -> str:
    """Other help desks' words (resolved, hold...) become ours (domain/tickets.py)."""
    try:
        return ticket_status(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


Country = Annotated[str, AfterValidator(_country)]
Currency = Annotated[str, AfterValidator(_currency)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Coins = Annotated[StrictInt, Field(ge=0, le=MAX_COINS)]
Minor = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]
Store = Literal["apple", "google", "web"]
EARLIEST, AFTER_LAST = datetime(YEARS[0], 1, 1, tzinfo=UTC), datetime(YEARS[1] + 1, 1, 1, tzinfo=UTC)
Time = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=AFTER_LAST)]
BirthDate = Annotated[date, AfterValidator(_sane_birth)]


class Record(BaseModel):
    # extra="allow" keeps unknown fields (ignored) countable, so duplicate keys can be found cheaply.
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class RegionRow(Record):
    country: Country
    currency: Currency
    coin_purchase: StrictBool
    gifting: StrictBool
    cashout: StrictBool
    min_age: Annotated[StrictInt, Field(ge=0, le=120)]
    stores: list[Store]
    valid_from: Time
    note: Note | None = None


class PricePointRow(Record):
    country: Country
    store: Store
    product_id: Id
    coins: Coins
    price_minor: Minor
    currency: Currency
    valid_from: Time
    valid_to: Time | None = None
    bonus_coins: Coins = 0

    @model_validator(mode="after")
    def _window(self) -> PricePointRow:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class GiftRow(Record):
    gift_id: Id
    name: Name
    coins: Coins
    diamonds: Coins


class AccountRow(Record):
    account_id: Id
    handle: Handle
    email: Email
    country: Country
    birth_date: BirthDate | None = None
    kind: Literal["viewer", "creator"]
    status: Literal["active", "limited", "suspended", "banned"]
    created_at: Time
    coin_balance: Annotated[StrictInt, Field(ge=-MAX_COINS, le=MAX_COINS)]
    diamond_balance: Annotated[StrictInt, Field(ge=-MAX_COINS, le=MAX_COINS)]
    apple_app_account_token: Token | None = None
    web_customer_id: Token | None = None


class PurchaseRow(Record):
    purchase_id: Id
    account_id: Id
    store: Store
    store_transaction_id: LongToken
    product_id: Id
    coins: Coins
    price_minor: Minor
    currency: Currency
    country: Country
    purchased_at: Time
    status: Literal["completed", "pending", "refunded", "revoked", "charged_back"]


class LedgerRow(Record):
    entry_id: Id
    account_id: Id
    asset: Literal[ASSETS]  # type: ignore[valid-type]
    amount: StrictInt
    kind: Literal[KINDS]  # type: ignore[valid-type]
    ref: LongToken | None = None
    reverses: Id | None = None  # optional: the entry a reversal undoes when `ref` names its purchase
    at: Time
    actor: Token
    reason: Note | None = None

    @model_validator(mode="after")
    def _sign(self) -> LedgerRow:
        problem = amount_problem(self.kind, self.amount, self.asset)
        if problem:
            raise ValueError(problem)
        return self


class GiftEventRow(Record):
    event_id: Id
    sender_id: Id
    creator_id: Id
    gift_id: Id
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    coins: Coins
    diamonds: Coins
    at: Time


class CashoutRow(Record):
    cashout_id: Id
    creator_id: Id
    diamonds: Coins
    amount_minor: Minor
    currency: Currency
    status: Literal["requested", "paid", "held", "rejected"]
    at: Time


class TicketRow(Record):
    ticket_id: Id
    account_id: Id
    subject: Subject
    body: Body = ""
    category: Annotated[Token, Field(max_length=32)]
    status: Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_ticket_status)]
    created_at: Time
