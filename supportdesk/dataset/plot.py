"""The shared means of planting a case: fresh accounts, event times the region allows, background history,
and the manifest lines that name what was planted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any

from supportdesk.dataset.catalog import Gift
from supportdesk.dataset.clean import CleanActivity, Shopper
from supportdesk.dataset.manifest import Manifest, NearMiss, PlantedFinding, PlantedFlag
from supportdesk.dataset.people import People
from supportdesk.dataset.units import DAY, SECOND
from supportdesk.dataset.world import Account, Sale, World

SMALL_PRODUCTS = ("coins_70", "coins_350", "coins_700", "coins_1400", "coins_3500")


@dataclass
class Plot:
    world: World
    people: People
    clean: CleanActivity
    per_kind: int
    manifest: Manifest
    subjects: set[str] = field(default_factory=set)
    near_miss_accounts: set[str] = field(default_factory=set)
    # Planted creators that ordinary viewers may gift to.
    pool: list[Account] = field(default_factory=list)

    @property
    def rng(self) -> Random:
        return self.world.rng

    @property
    def now(self) -> datetime:
        return self.world.now

    def account(
        self, country: str, kind: str = "viewer", *, created: datetime | None = None, birth: date | None = None
    ) -> Account:
        created = created or self.clean.random_time(self.now - 700 * DAY, self.now - 410 * DAY)
        birth = birth or self.people.birth_date(self.now - 400 * DAY)
        return self.world.add(self.people.account(country, kind, created, birth))

    def subject(self, country: str, kind: str = "viewer", **kw: Any) -> Account:
        acc = self.account(country, kind, **kw)
        self.subjects.add(acc.account_id)
        return acc

    def bystander(self, country: str, kind: str = "viewer", **kw: Any) -> Account:
        """An account on which a near miss is staged: it must stay clean."""
        acc = self.account(country, kind, **kw)
        self.near_miss_accounts.add(acc.account_id)
        return acc

    def when(self, country: str, store: str, lo_days: float, hi_days: float) -> datetime:
        """A time between `hi_days` and `lo_days` ago when `country` sold coins through `store`."""
        for _ in range(1000):
            t = self.clean.random_time(self.now - hi_days * DAY, self.now - lo_days * DAY)
            if self.world.catalog.can_buy(country, store, t):
                return t
        raise RuntimeError(f"no time {lo_days}-{hi_days} days ago when {country} sold through {store}")

    def product(self) -> str:
        return self.rng.choice(SMALL_PRODUCTS)

    def background(self, acc: Account, store: str, avoid: list[datetime], least: int = 0) -> None:
        """Ordinary purchases well away from the planted event, so the account has a normal history."""
        n = self.rng.randint(least, 3)
        self.clean.buy_history(Shopper(acc, (store,)), n, avoid=avoid, refunds=False)

    def finding(self, kind: str, acc: Account, sale: Sale | None) -> None:
        purchase = sale.purchase if sale else None
        self.manifest.findings.append(
            PlantedFinding(
                kind,
                acc.account_id,
                sale.store if sale else None,
                sale.txn_id if sale else None,
                purchase.purchase_id if purchase else None,
            )
        )

    def flag(self, rule: str, acc: Account, sale: Sale) -> None:
        assert sale.purchase is not None
        self.manifest.flags.append(PlantedFlag(rule, acc.account_id, sale.purchase.purchase_id, sale.txn_id))

    def near_miss(self, case: str, acc: Account, sale: Sale | None, note: str) -> None:
        purchase = sale.purchase.purchase_id if sale and sale.purchase else None
        self.manifest.near_misses.append(NearMiss(case, acc.account_id, purchase, note))

    def gift_exactly(self, sender: Account, creator: Account, coins: int, start: datetime, gap: timedelta) -> None:
        """Gifts worth exactly `coins` (largest first, one event per gift kind), `gap` apart from `start`."""
        at = start
        for gift, quantity in decompose(coins, self.world.catalog.gifts):
            self.world.gift(sender, creator, gift, quantity, at)
            at += gap + self.rng.randint(0, 59) * SECOND


def decompose(coins: int, gifts: list[Gift]) -> list[tuple[Gift, int]]:
    parts = []
    for gift in sorted((g for g in gifts if g.coins <= 1000), key=lambda g: -g.coins):
        quantity, coins = divmod(coins, gift.coins)
        if quantity:
            parts.append((gift, quantity))
    return parts
