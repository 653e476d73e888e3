"""The dataset contract (formats.md section 1) as validating models: one per file, strict types."""

from __future__ import annotations

from datetime import date
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
    if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value.upper()


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


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


class Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class RegionRow(Record):
    country: Country
    currency: Currency
    coin_purchase: StrictBool
    gifting: StrictBool
    cashout: StrictBool
    min_age: Annotated[StrictInt, Field(ge=0, le=120)]
    stores: list[Store]
    valid_from: AwareDatetime
    note: str | None = None


class PricePointRow(Record):
    country: Country
    store: Store
    product_id: Id
    coins: Coins
    price_minor: Minor
    currency: Currency
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    bonus_coins: Coins = 0

    @model_validator(mode="after")
    def _window(self) -> PricePointRow:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class GiftRow(Record):
    gift_id: Id
    name: Annotated[str, Field(min_length=1, max_length=200)]
    coins: Coins
    diamonds: Coins


class AccountRow(Record):
    account_id: Id
    handle: Annotated[str, Field(pattern=r"^@[^\s@]{1,63}$")]
    email: Annotated[str, Field(pattern=r"^[^\s@]+@[^\s@]+$", max_length=320)]
    country: Country
    birth_date: date | None = None
    kind: Literal["viewer", "creator"]
    status: Literal["active", "limited", "suspended", "banned"]
    created_at: AwareDatetime
    coin_balance: Annotated[StrictInt, Field(ge=-MAX_COINS, le=MAX_COINS)]
    diamond_balance: Annotated[StrictInt, Field(ge=-MAX_COINS, le=MAX_COINS)]
    apple_app_account_token: Annotated[str, Field(max_length=64)] | None = None
    web_customer_id: Annotated[str, Field(max_length=64)] | None = None


class PurchaseRow(Record):
    purchase_id: Id
    account_id: Id
    store: Store
    store_transaction_id: Annotated[str, Field(min_length=1, max_length=128)]
    product_id: Id
    coins: Coins
    price_minor: Minor
    currency: Currency
    country: Country
    purchased_at: AwareDatetime
    status: Literal["completed", "pending", "refunded", "revoked", "charged_back"]


class LedgerRow(Record):
    entry_id: Id
    account_id: Id
    asset: Literal[ASSETS]  # type: ignore[valid-type]
    amount: StrictInt
    kind: Literal[KINDS]  # type: ignore[valid-type]
    ref: Annotated[str, Field(max_length=128)] | None = None
    at: AwareDatetime
    actor: Annotated[str, Field(min_length=1, max_length=64)]
    reason: str | None = None

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
    at: AwareDatetime


class CashoutRow(Record):
    cashout_id: Id
    creator_id: Id
    diamonds: Coins
    amount_minor: Minor
    currency: Currency
    status: Literal["requested", "paid", "held", "rejected"]
    at: AwareDatetime


class TicketRow(Record):
    ticket_id: Id
    account_id: Id
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    body: str = ""
    category: Annotated[str, Field(min_length=1, max_length=32)]
    status: Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_ticket_status)]
    created_at: AwareDatetime
