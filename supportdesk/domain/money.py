"""Money as integers in minor units; exact conversion from the stores' units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from supportdesk.errors import InvalidInput

# Sanity bounds: no single bundle costs more than this many minor units, no posting moves more coins.
MAX_MINOR = 10**12
MAX_COINS = 10**9


@cache
def _known_currencies() -> frozenset[str]:
    """ISO 4217 codes that are money: legal tender in some territory since 2000 (CLDR), which leaves out
    precious metals (XAU, XAG), the test and no-currency codes (XTS, XXX), SDRs and funds codes (XDR, USN)."""
    import pycountry  # CLDR and ISO tables (~0.1 s): loaded on the first amount, so importing a rule stays cheap
    from babel.core import get_global
    from babel.numbers import get_territory_currencies

    since, until = date(2000, 1, 1), date(2100, 1, 1)
    tender = {
        code
        for territory in get_global("territory_currencies")
        for code in get_territory_currencies(territory, since, until, tender=True, non_tender=False)
    }
    return frozenset(c.alpha_3 for c in pycountry.currencies) & tender


def check_currency(code: str) -> str:
    """Return the ISO 4217 code upper-cased, or raise if it is not one."""
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha():
        raise InvalidInput(f"{code!r} is not an ISO 4217 currency code")
    upper = code.upper()
    if upper not in _known_currencies():
        import pycountry  # loaded by _known_currencies already

        known = any(c.alpha_3 == upper for c in pycountry.currencies)
        raise InvalidInput(f"{upper!r} is not money (an ISO 4217 code for no currency, a metal or a fund)"
                           if known else f"unknown currency {upper!r}")
    return upper


@cache
def minor_digits(currency: str) -> int:
    """ISO 4217 minor unit digits (JPY, KRW, VND: 0), from babel's CLDR data."""
    from babel.core import get_global  # loaded by check_currency's first call already

    fractions = get_global("currency_fractions")
    code = check_currency(currency)
    return int(fractions.get(code, fractions["DEFAULT"])[0])


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __str__(self) -> str:
        return format_money(self.minor, self.currency)


def format_money(minor: int, currency: str) -> str:
    digits = minor_digits(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    text = f"{whole:,}" if digits == 0 else f"{whole:,}.{frac:0{digits}d}"
    return f"{sign}{text} {currency.upper()}"


def parse_money(text: str, currency: str) -> int:
    """An amount typed in the currency's major unit ("4.56", "4,99.5" is refused, "610" JPY) as exact minor units;
    more decimals than the currency has is an error, never a rounding."""
    digits = minor_digits(currency)
    raw = text.strip().removesuffix(currency.upper()).strip().replace("_", "")
    whole, dot, frac = raw.partition(".")
    if not whole.replace(",", "").isdigit() and not (dot and not whole and frac.isdigit()):
        raise InvalidInput(f"{text!r} is not an amount of {currency.upper()}, like {format_money(10**digits, currency)}")
    if "," in whole and any(len(g) != 3 for g in whole.split(",")[1:]):
        raise InvalidInput(f"{text!r} is not an amount: commas only group thousands")
    if frac and not frac.isdigit() or len(frac) > digits or (dot and digits == 0):
        raise InvalidInput(f"{currency.upper()} has {digits} decimal{'s' if digits != 1 else ''}: {text!r} is not "
                           "an amount of it")
    return int(whole.replace(",", "") or 0) * 10**digits + int((frac or "0").ljust(digits, "0") or 0)


def _from_scaled(value: int, scale_digits: int, currency: str, unit: str) -> int:
    digits = minor_digits(currency)
    factor = 10 ** (scale_digits - digits)
    if value % factor:
        raise InvalidInput(f"{value} {unit} of {currency} is not a whole number of minor units")
    return value // factor


def from_milliunits(value: int, currency: str) -> int:
    """Apple `price` (milliunits of the currency) to minor units, exactly."""
    return _from_scaled(int(value), 3, currency, "milliunits")


def from_micros(value: int, currency: str) -> int:
    """Google `priceAmountMicros` to minor units, exactly."""
    return _from_scaled(int(value), 6, currency, "micros")


def to_milliunits(minor: int, currency: str) -> int:
    return minor * 10 ** (3 - minor_digits(currency))


def to_micros(minor: int, currency: str) -> int:
    return minor * 10 ** (6 - minor_digits(currency))


def check_amount(value: int, *, what: str, bound: int, allow_negative: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be a whole number, got {value!r}")
    if value < 0 and not allow_negative:
        raise InvalidInput(f"{what} must not be negative, got {value}")
    if abs(value) > bound:
        raise InvalidInput(f"{what} {value} is outside the allowed range (at most {bound:,})")
    return value
