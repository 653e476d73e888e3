"""Regions: what a country allows (buy coins, send gifts, cash out), at what prices, in force at a time.

The answers are typed: `Region.to_json()` is `supportdesk region --json` (formats.md), the TUI reads attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from supportdesk.domain.regions import RegionRow, row_json

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk

Row = dict[str, Any]


@dataclass(frozen=True)
class Allows:
    """What the region in force allows (all False without one)."""

    buy_coins: bool
    send_gifts: bool
    cash_out: bool

    def to_json(self) -> Row:
        return {"buy_coins": self.buy_coins, "send_gifts": self.send_gifts, "cash_out": self.cash_out}


@dataclass(frozen=True)
class Price:
    """A price point in force: a bundle of `coins` (+ `bonus_coins`) at `price` through `store`;
    `store_offered` False when the region in force does not sell coins through that store."""

    store: str
    product_id: str
    coins: int
    bonus_coins: int
    price_minor: int
    currency: str
    price: str
    valid_from: datetime
    valid_to: datetime | None
    promotion: bool
    store_offered: bool

    def to_json(self) -> Row:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Change:
    """One field of a region row that differs from the row before."""

    field: str
    before: Any
    after: Any

    def to_json(self) -> Row:
        return {"field": self.field, "from": self.before, "to": self.after}


@dataclass(frozen=True)
class HistoryEntry:
    """One region row of the country, what changed from the one before (`summary` in words), and whether it is
    the one `in_force` at the time asked."""

    row: RegionRow
    in_force: bool
    changes: tuple[Change, ...]
    summary: str

    @property
    def valid_from(self) -> datetime:
        return self.row.valid_from

    @classmethod
    def of(cls, body: Row) -> HistoryEntry:
        return cls(RegionRow.of(body), bool(body["in_force"]),
                   tuple(Change(c["field"], c["from"], c["to"]) for c in body["changes"]), str(body["summary"]))

    def to_json(self) -> Row:
        return {**row_json(self.row), "in_force": self.in_force, "changes": [c.to_json() for c in self.changes],
                "summary": self.summary}


@dataclass(frozen=True)
class Region:
    """A country as of `at`: whether coins can be bought (`available`, the deciding `rule` and the `reason` in
    words), the region row `in_force` (None: none) and what it `allows`, its `min_age` and `stores`, the
    `prices` in force and the country's whole `history`."""

    country: str
    alpha_3: str
    name: str
    at: datetime
    available: bool
    rule: str
    reason: str
    in_force: RegionRow | None
    allows: Allows
    min_age: int | None
    stores: tuple[str, ...]
    prices: tuple[Price, ...]
    history: tuple[HistoryEntry, ...]

    @classmethod
    def of(cls, body: Row) -> Region:
        row = body["in_force"]
        return cls(body["country"], body["alpha_3"], body["name"], body["at"], bool(body["available"]),
                   body["rule"], body["reason"], RegionRow.of(row) if row else None, Allows(**body["allows"]),
                   body["min_age"], tuple(body["stores"]), tuple(Price(**p) for p in body["prices"]),
                   tuple(HistoryEntry.of(h) for h in body["history"]))

    def to_json(self) -> Row:
        return {"country": self.country, "alpha_3": self.alpha_3, "name": self.name, "at": self.at,
                "available": self.available, "rule": self.rule, "reason": self.reason,
                "in_force": row_json(self.in_force) if self.in_force else None, "allows": self.allows.to_json(),
                "min_age": self.min_age, "stores": list(self.stores), "prices": [p.to_json() for p in self.prices],
                "history": [h.to_json() for h in self.history]}


@dataclass(frozen=True)
class CountryChoice:
    """A country for the picker; `has_region`: it has region rows (without, nothing is allowed there)."""

    code: str
    alpha_3: str
    name: str
    has_region: bool


class RegionDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def region(self, country: str, at: str | None = None) -> Region:
        """A country (code or name) as of `at` (ISO 8601 or a span back such as 30d; None: now)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services.regions import region

        with read_session(self.desk.engine) as session:
            return Region.of(region(session, country, at))

    def countries(self, text: str) -> list[CountryChoice]:
        """Countries for a picker, best match first."""
        from supportdesk.db.engine import read_session
        from supportdesk.services.regions import find_countries

        with read_session(self.desk.engine) as session:
            return [CountryChoice(**c) for c in find_countries(session, text)]
