"""Regions in force: which row rules a country at a time, what it allows, its prices and how it changed.

Pure: plain rows in, plain verdicts out. A region row is in force from its `valid_from` until the next row of the
same country; a price point is in force on `[valid_from, valid_to)`. Countries are resolved with pycountry (ISO
3166-1), never a hand-typed table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import cache
from typing import Any

import pycountry

from supportdesk.errors import InvalidInput, NotFound

ACTIONS = ("buy_coins", "send_gifts", "cash_out")
_FLAG = {"buy_coins": "coin_purchase", "send_gifts": "gifting", "cash_out": "cashout"}
_LABEL = {"coin_purchase": "buy coins", "gifting": "send gifts", "cashout": "cash out", "min_age": "min age",
          "stores": "stores", "currency": "currency", "note": "note"}
NO_ROW = "no region row: unavailable"
MAX_QUERY = 100


@dataclass(frozen=True, slots=True)
class RegionRow:
    country: str
    currency: str
    coin_purchase: bool
    gifting: bool
    cashout: bool
    min_age: int
    stores: tuple[str, ...]
    valid_from: datetime
    note: str | None = None

    @classmethod
    def of(cls, row: Any) -> RegionRow:
        """From a table row or a mapping with the same field names."""
        get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
        values: dict[str, Any] = {f.name: get(f.name) for f in fields(cls)}
        values["stores"] = tuple(values["stores"] or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class PriceRow:
    country: str
    store: str
    product_id: str
    coins: int
    price_minor: int
    currency: str
    valid_from: datetime
    valid_to: datetime | None = None
    bonus_coins: int = 0

    @classmethod
    def of(cls, row: Any) -> PriceRow:
        get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
        values: dict[str, Any] = {f.name: get(f.name) for f in fields(cls)}
        values["bonus_coins"] = values["bonus_coins"] or 0
        return cls(**values)

    def in_force(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    @property
    def promotion(self) -> bool:
        return self.bonus_coins > 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether something was allowed, the rule that decided and one sentence an agent can read out."""

    allowed: bool
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    alpha_3: str
    name: str


# --- in force ---------------------------------------------------------------------------------------------------

def region_in_force(rows: Iterable[RegionRow], at: datetime) -> RegionRow | None:
    """The latest row with valid_from <= at (rows of one country), or None."""
    best: RegionRow | None = None
    for row in rows:
        if row.valid_from <= at and (best is None or row.valid_from > best.valid_from):
            best = row
    return best


def prices_in_force(rows: Iterable[PriceRow], at: datetime) -> list[PriceRow]:
    """Every price point in force at `at` (a promotion overlaps its base row), by store, bundle size, base first."""
    return sorted((r for r in rows if r.in_force(at)),
                  key=lambda r: (r.store, r.coins, r.product_id, r.promotion, r.valid_from, r.price_minor))


# --- what a row allows ------------------------------------------------------------------------------------------

def allows(row: RegionRow | None) -> dict[str, bool]:
    return {action: bool(row and getattr(row, _FLAG[action])) for action in ACTIONS}


def day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def action_verdict(country: str, rows: Sequence[RegionRow], at: datetime, action: str = "buy_coins",
                   store: str | None = None) -> Verdict:
    """May `action` be done in `country` at `at` (through `store`, for coin purchases)? Names the deciding rule."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    if not rows:
        return Verdict(False, "no_region_row", NO_ROW)
    row = region_in_force(rows, at)
    if row is None:
        first = min(r.valid_from for r in rows)
        return Verdict(False, "no_region_row",
                       f"no region row in force on {day(at)} (the first starts {day(first)}): unavailable")
    since = f"(row in force since {day(row.valid_from)})"
    what = _LABEL[_FLAG[action]]
    if not getattr(row, _FLAG[action]):
        note = f": {row.note}" if row.note else ""
        return Verdict(False, f"{action}_off", f"{what}: not allowed in {country} since {day(row.valid_from)}{note}")
    if action == "buy_coins":
        if not row.stores:
            return Verdict(False, "no_store", f"no store sold coins in {country} {since}")
        if store is not None and store not in row.stores:
            return Verdict(False, "store_not_offered",
                           f"coins were not sold through {store} in {country}, only {', '.join(row.stores)} {since}")
        through = f" through {store}" if store else f" through {', '.join(row.stores)}"
        return Verdict(True, "allowed", f"{what}: allowed in {country}{through} {since}")
    return Verdict(True, "allowed", f"{what}: allowed in {country} {since}")


def age_on(birth: date, on: date) -> int:
    """Whole years; someone born on 29 February turns a year older on 1 March in non-leap years."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def age_verdict(row: RegionRow | None, birth: date | None, at: datetime) -> Verdict:
    """Was the person at least the row's minimum age on that (UTC) day? Unknown birth dates are not refused."""
    if row is None:
        return Verdict(False, "no_region_row", NO_ROW)
    if birth is None:
        return Verdict(True, "age_unknown", f"no birth date on the account; the minimum age is {row.min_age}")
    age = age_on(birth, at.date())
    if age < row.min_age:
        return Verdict(False, "underage", f"{age} years old on {day(at)}, under the minimum age {row.min_age}")
    return Verdict(True, "age_ok", f"{age} years old on {day(at)}, at least the minimum age {row.min_age}")


# --- history ----------------------------------------------------------------------------------------------------

_COMPARED = ("coin_purchase", "gifting", "cashout", "min_age", "stores", "currency", "note")


def changes(before: RegionRow | None, after: RegionRow) -> list[dict[str, Any]]:
    """Fields that differ from the previous row of the country ([] for its first row)."""
    if before is None:
        return []
    return [{"field": f, "from": _plain(getattr(before, f)), "to": _plain(getattr(after, f))}
            for f in _COMPARED if getattr(before, f) != getattr(after, f)]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return " ".join(value) or "none"
    return "none" if value is None else str(value)


def describe_row(row: RegionRow) -> str:
    flags = ", ".join(f"{_LABEL[f]} {_show(getattr(row, f))}" for f in ("coin_purchase", "gifting", "cashout"))
    return f"{flags}; age {row.min_age}; {row.currency}; stores {_show(row.stores)}"


def describe_changes(diff: list[dict[str, Any]]) -> str:
    return "; ".join(f"{_LABEL[c['field']]} {_show(c['from'])} -> {_show(c['to'])}" for c in diff) or "no change"


def history(rows: Iterable[RegionRow], at: datetime | None = None) -> list[dict[str, Any]]:
    """Every row oldest first, what changed from the one before, and which is in force at `at`."""
    ordered = sorted(rows, key=lambda r: r.valid_from)
    current = region_in_force(ordered, at) if at is not None else None
    out: list[dict[str, Any]] = []
    for before, row in zip([None, *ordered], ordered, strict=False):
        diff = changes(before, row)
        out.append({**row_json(row), "in_force": row is current, "changes": diff,
                    "summary": "first row: " + describe_row(row) if before is None else describe_changes(diff)})
    return out


def row_json(row: RegionRow) -> dict[str, Any]:
    return {"country": row.country, "currency": row.currency, "coin_purchase": row.coin_purchase,
            "gifting": row.gifting, "cashout": row.cashout, "min_age": row.min_age, "stores": list(row.stores),
            "valid_from": row.valid_from, "note": row.note}


# --- countries --------------------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", plain.casefold()).strip()


def _country(c: Any) -> Country:
    return Country(c.alpha_2, c.alpha_3, getattr(c, "common_name", None) or c.name)


@cache
def _names() -> tuple[tuple[str, str, Country], ...]:
    """(normalised name, normalised name without spaces, country) for every short, common and official name."""
    out = []
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            if name := getattr(c, attr, None):
                n = _norm(name)
                out.append((n, n.replace(" ", ""), _country(c)))
    return tuple(out)


def all_countries() -> list[Country]:
    return sorted({_country(c) for c in pycountry.countries}, key=lambda c: c.name)


def resolve_country(text: str) -> Country:
    """A code (alpha-2 or alpha-3, any case) or a name ("Vietnam", "viet nam") to one country, or a clear error."""
    value = (text or "").strip()
    if not value:
        raise InvalidInput("give a country code (VN, VNM) or name (Vietnam)")
    if len(value) > MAX_QUERY or not re.fullmatch(r"[\w .,'’()\-]+", value) or any(ch.isdigit() for ch in value):
        raise InvalidInput(f"{value[:40]!r} is not a country code or name")
    if len(value) in (2, 3) and value.isascii() and value.isalpha():
        code = value.upper()
        found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else pycountry.countries.get(alpha_3=code)
        if found is None:
            raise InvalidInput(f"{value.upper()!r} is not an ISO 3166-1 country code")
        return _country(found)
    n = _norm(value)
    exact = {c for name, squashed, c in _names() if n in (name, squashed) or n.replace(" ", "") == squashed}
    if len(exact) == 1:
        return exact.pop()
    containing = {c for name, _, c in _names() if re.search(rf"\b{re.escape(n)}\b", name)}
    if len(containing) == 1:
        return containing.pop()
    if len(containing) > 1:
        listed = ", ".join(f"{c.name} ({c.code})" for c in sorted(containing, key=lambda c: c.code))
        raise InvalidInput(f"{value!r} matches several countries: {listed}; give the code")
    try:
        return _country(pycountry.countries.search_fuzzy(value)[0])
    except LookupError:
        raise NotFound(f"no country called {value!r}") from None


def search_countries(text: str, limit: int | None = 50) -> list[Country]:
    """Countries for a picker: code matches first, then names starting with, then containing the text."""
    n = _norm(text or "")
    if not n:
        return all_countries()[:limit]
    ranked: dict[Country, int] = {}
    for c in all_countries():
        if n.upper() in (c.code, c.alpha_3):
            ranked[c] = 0
    for name, _, c in _names():
        rank = 1 if name.startswith(n) else 2 if re.search(rf"\b{re.escape(n)}", name) else 3 if n in name else None
        if rank is not None and rank < ranked.get(c, 9):
            ranked[c] = rank
    if not ranked:  # a misspelling, or a subdivision's name: pycountry's fuzzy search
        try:
            return list(dict.fromkeys(_country(c) for c in pycountry.countries.search_fuzzy(text)))[:limit]
        except LookupError:
            return []
    return sorted(ranked, key=lambda c: (ranked[c], c.name))[:limit]
