"""Money and time in the units each file uses: minor units for us, the stores' own units for them."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

import pycountry
from babel.numbers import get_currency_precision

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@cache
def minor_digits(currency: str) -> int:
    """ISO 4217 minor digits from babel's CLDR data (JPY, KRW, VND: 0)."""
    return get_currency_precision(currency.upper())


def apple_milliunits(minor: int, currency: str) -> int:
    return minor * 10 ** (3 - minor_digits(currency))


def google_micros(minor: int, currency: str) -> int:
    return minor * 10 ** (6 - minor_digits(currency))


@cache
def alpha3(country: str) -> str:
    """Apple storefronts are ISO 3166-1 alpha-3."""
    found = pycountry.countries.get(alpha_2=country)
    if found is None:
        raise ValueError(f"unknown country {country!r}")
    return found.alpha_3


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp()) * 1000


def epoch_s(at: datetime) -> int:
    return int(at.timestamp())


def midnight(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)
