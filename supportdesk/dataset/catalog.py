"""Reference data relative to `now`: regions over time, price points (with a price change and promotions), gifts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from supportdesk.dataset.units import DAY, midnight

STORES = ("apple", "google", "web")
PRODUCTS: dict[str, int] = {
    "coins_70": 70,
    "coins_350": 350,
    "coins_700": 700,
    "coins_1400": 1400,
    "coins_3500": 3500,
    "coins_7000": 7000,
    # The one bundle above USD 100: the only way to pass USD 500 in 24 h with five purchases or fewer.
    "coins_17500": 17500,
}

# App Store price per bundle (in PRODUCTS order), minor units. Google and web differ in a few countries below.
APPLE_PRICES: dict[str, tuple[str, tuple[int, ...]]] = {
    "US": ("USD", (99, 499, 999, 1999, 4999, 9999, 24999)),
    "GB": ("GBP", (99, 499, 999, 1999, 4999, 9999, 24999)),
    "DE": ("EUR", (119, 599, 1199, 2399, 5999, 11999, 29999)),
    "FR": ("EUR", (119, 599, 1199, 2399, 5999, 11999, 29999)),
    "JP": ("JPY", (160, 800, 1600, 3200, 8000, 16000, 40000)),
    "KR": ("KRW", (1400, 7000, 14000, 28000, 70000, 140000, 350000)),
    "VN": ("VND", (25000, 125000, 249000, 499000, 1249000, 2499000, 6249000)),
    "BR": ("BRL", (590, 2990, 5990, 11990, 29990, 59990, 149990)),
    "IN": ("INR", (8900, 44900, 89900, 179900, 449900, 899900, 2249900)),
    # Argentina has store prices but no region row: the app was never launched there.
    "AR": ("ARS", (129900, 649900, 1299900, 2599900, 6499900, 12999900, 32499900)),
}
GOOGLE_PRICES: dict[str, tuple[int, ...]] = {
    "JP": (150, 750, 1500, 3000, 7500, 15000, 37500),
    "KR": (1500, 7500, 15000, 30000, 75000, 150000, 375000),
}
WEB_PRICES: dict[str, tuple[int, ...]] = {
    "DE": (99, 499, 999, 1999, 4999, 9999, 24999),
    "FR": (99, 499, 999, 1999, 4999, 9999, 24999),
    "IN": (7900, 39900, 79900, 159900, 399900, 799900, 1999900),
}
# GB app stores raised their prices (VAT and exchange rate) on a date inside the data's window.
GB_NEW_PRICES = (109, 549, 1099, 2199, 5499, 10999, 27499)

GIFTS: tuple[tuple[str, str, int], ...] = (
    ("rose", "Rose", 1),
    ("finger_heart", "Finger Heart", 5),
    ("perfume", "Perfume", 20),
    ("doughnut", "Doughnut", 30),
    ("hat_and_mustache", "Hat and Mustache", 99),
    ("hand_hearts", "Hand Hearts", 100),
    ("corgi", "Corgi", 299),
    ("money_gun", "Money Gun", 500),
    ("galaxy", "Galaxy", 1000),
    ("lion", "Lion", 29999),
    ("universe", "Universe", 44999),
)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class PricePoint:
    country: str
    store: str
    product_id: str
    coins: int
    price_minor: int
    currency: str
    valid_from: datetime
    valid_to: datetime | None = None
    bonus_coins: int | None = None
    is_promo: bool = False  # not written: lets offer() prefer a promotion over the base row

    def in_force(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


@dataclass(frozen=True)
class Gift:
    gift_id: str
    name: str
    coins: int
    diamonds: int


@dataclass(frozen=True)
class Offer:
    """What a buyer pays and gets for a bundle at a time: a promotion wins over the base row."""

    price_minor: int
    currency: str
    coins: int
    promo: bool


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass
class Catalog:
    now: datetime
    origin: datetime
    vn_suspended: datetime
    br_web_launch: datetime
    gb_price_change: datetime
    regions: list[RegionRow] = field(default_factory=list)
    price_points: list[PricePoint] = field(default_factory=list)
    gifts: list[Gift] = field(default_factory=list)
    _rows: dict[tuple[str, str, str], list[PricePoint]] = field(default_factory=dict, repr=False)

    def region_at(self, country: str, at: datetime) -> RegionRow | None:
        rows = [r for r in self.regions if r.country == country and r.valid_from <= at]
        return max(rows, key=lambda r: r.valid_from) if rows else None

    def can_buy(self, country: str, store: str, at: datetime) -> bool:
        region = self.region_at(country, at)
        return region is not None and region.coin_purchase and store in region.stores

    def rows_in_force(self, country: str, store: str, product_id: str, at: datetime) -> list[PricePoint]:
        return [p for p in self._rows.get((country, store, product_id), []) if p.in_force(at)]

    def offer(self, country: str, store: str, product_id: str, at: datetime) -> Offer:
        rows = self.rows_in_force(country, store, product_id, at)
        if not rows:
            raise LookupError(f"no price for {product_id} on {store} in {country} at {at}")
        promos = [p for p in rows if p.is_promo]
        row = promos[0] if promos else rows[0]
        return Offer(row.price_minor, row.currency, row.coins + (row.bonus_coins or 0), bool(promos))

    def base_price(self, country: str, store: str, product_id: str, at: datetime) -> int:
        rows = [p for p in self.rows_in_force(country, store, product_id, at) if not p.is_promo]
        return rows[0].price_minor

    def usd_equivalent(
        self, country: str, store: str, product_id: str, price_minor: int, at: datetime
    ) -> Fraction:
        """formats.md: the price times the US price of the same store and bundle over the local one."""
        us = self.base_price("US", store, product_id, at)
        return Fraction(price_minor * us, self.base_price(country, store, product_id, at))

    def currency_of(self, country: str) -> str:
        return APPLE_PRICES[country][0]

    def index(self) -> None:
        self._rows = {}
        for p in self.price_points:
            self._rows.setdefault((p.country, p.store, p.product_id), []).append(p)


def build_catalog(now: datetime) -> Catalog:
    origin = midnight(now - 730 * DAY)
    cat = Catalog(
        now=now,
        origin=origin,
        vn_suspended=midnight(now - 90 * DAY),
        br_web_launch=midnight(now - 300 * DAY),
        gb_price_change=midnight(now - 210 * DAY),
    )
    cat.regions = _regions(cat)
    cat.price_points = _base_prices(cat) + _promotions(cat)
    cat.gifts = [Gift(gid, name, coins, max(1, coins // 2)) for gid, name, coins in GIFTS]
    cat.index()
    return cat


def _regions(cat: Catalog) -> list[RegionRow]:
    all_stores = STORES
    base = {
        "US": all_stores,
        "GB": all_stores,
        "DE": all_stores,
        "FR": all_stores,
        "JP": all_stores,
        "KR": ("apple", "google"),
        "VN": ("apple", "google"),
        "BR": ("apple", "google"),
        "IN": all_stores,
    }
    rows = [
        RegionRow(
            country=c,
            currency=APPLE_PRICES[c][0],
            coin_purchase=True,
            gifting=True,
            cashout=c != "IN",
            min_age=19 if c == "KR" else 18,
            stores=stores,
            valid_from=cat.origin,
        )
        for c, stores in base.items()
    ]
    rows.append(
        RegionRow(
            "VN",
            "VND",
            False,
            True,
            True,
            18,
            ("apple", "google"),
            cat.vn_suspended,
            note="Coin sales suspended by local regulation",
        )
    )
    rows.append(
        RegionRow(
            "BR",
            "BRL",
            True,
            True,
            True,
            18,
            all_stores,
            cat.br_web_launch,
            note="Web checkout launched (Pix and cards)",
        )
    )
    return rows


def _base_prices(cat: Catalog) -> list[PricePoint]:
    rows: list[PricePoint] = []
    for country, (currency, apple) in APPLE_PRICES.items():
        for store in STORES:
            table = {
                "apple": apple,
                "google": GOOGLE_PRICES.get(country, apple),
                "web": WEB_PRICES.get(country, apple),
            }
            prices = table[store]
            changes = country == "GB" and store != "web"
            for (product_id, coins), price in zip(PRODUCTS.items(), prices, strict=True):
                end = cat.gb_price_change if changes else None
                rows.append(PricePoint(country, store, product_id, coins, price, currency, cat.origin, end))
                if changes:
                    new = GB_NEW_PRICES[list(PRODUCTS).index(product_id)]
                    rows.append(PricePoint(country, store, product_id, coins, new, currency, cat.gb_price_change))
    return rows


def promo_windows(now: datetime) -> dict[str, Window]:
    return {
        "us_web_bonus": Window(midnight(now - 75 * DAY), midnight(now - 68 * DAY)),
        "br_apple_sale": Window(midnight(now - 40 * DAY), midnight(now - 33 * DAY)),
        "jp_google_bonus": Window(midnight(now - 120 * DAY), midnight(now - 115 * DAY)),
    }


def _promotions(cat: Catalog) -> list[PricePoint]:
    w = promo_windows(cat.now)
    return [
        # Same price, 20 % more coins.
        PricePoint(
            "US", "web", "coins_700", 700, 999, "USD", w["us_web_bonus"].start, w["us_web_bonus"].end, 140, True
        ),
        # Lower price, same coins.
        PricePoint(
            "BR",
            "apple",
            "coins_350",
            350,
            2490,
            "BRL",
            w["br_apple_sale"].start,
            w["br_apple_sale"].end,
            is_promo=True,
        ),
        PricePoint(
            "JP",
            "google",
            "coins_1400",
            1400,
            3000,
            "JPY",
            w["jp_google_bonus"].start,
            w["jp_google_bonus"].end,
            280,
            True,
        ),
    ]
