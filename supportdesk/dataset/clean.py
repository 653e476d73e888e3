"""Ordinary activity that must trip nothing: purchases a day or more apart in the buyer's own country, gifts
sent a day or more after the last purchase (so no gift can look like laundering), refunds applied in full."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from random import Random

from supportdesk.dataset.catalog import STORES
from supportdesk.dataset.people import People
from supportdesk.dataset.tickets import write_ticket
from supportdesk.dataset.units import DAY, HOUR, MINUTE, SECOND
from supportdesk.dataset.world import Account, Entry, Sale, World

PRODUCT_WEIGHTS = {
    "coins_70": 26,
    "coins_350": 24,
    "coins_700": 20,
    "coins_1400": 12,
    "coins_3500": 9,
    "coins_7000": 6,
    "coins_17500": 3,
}
# Fewer than one purchase per 24 h: no velocity, no duplicate charge, at most one bundle's USD per day.
MIN_GAP = 26 * HOUR
# Gifts come at least this long after the sender's latest purchase.
GIFT_DELAY = 25 * HOUR


@dataclass
class Shopper:
    """How one clean account buys: which stores it uses and how often."""

    account: Account
    stores: tuple[str, ...]
    sales: list[Sale] = field(default_factory=list)


@dataclass
class CleanActivity:
    world: World
    people: People
    creators: list[Account] = field(default_factory=list)

    @property
    def rng(self) -> Random:
        return self.world.rng

    def random_time(self, start: datetime, end: datetime) -> datetime:
        seconds = int((end - start).total_seconds())
        return start + self.rng.randint(0, max(seconds, 0)) * SECOND

    def store_choice(self, country: str) -> tuple[str, ...]:
        """A main store (iPhone, Android or the website), sometimes a second, among those the country offers."""
        region = self.world.catalog.region_at(country, self.world.now)
        offered = [s for s in STORES if region is None or s in region.stores]
        first = self.rng.choices(offered, weights=[{"apple": 45, "google": 40, "web": 15}[s] for s in offered])[0]
        others = [s for s in offered if s != first]
        if others and self.rng.random() < 0.2:
            return (first, self.rng.choice(others))
        return (first,)

    def purchase_times(self, n: int, start: datetime, end: datetime, avoid: list[datetime]) -> list[datetime]:
        """Up to `n` times in [start, end], each MIN_GAP from the others and three days from `avoid`."""
        times: list[datetime] = []
        for _ in range(n * 8):
            if len(times) == n or end <= start:
                break
            t = self.random_time(start, end)
            if all(abs(t - o) >= MIN_GAP for o in times) and all(abs(t - o) >= 3 * DAY for o in avoid):
                times.append(t)
        return sorted(times)

    def buy_history(
        self,
        shopper: Shopper,
        n: int,
        *,
        avoid: list[datetime] | None = None,
        refunds: bool = True,
        start: datetime | None = None,
    ) -> list[Sale]:
        world, acc = self.world, shopper.account
        start = max(start or acc.created_at + DAY, world.now - 400 * DAY)
        sales = []
        for t in self.purchase_times(n, start, world.now - 2 * HOUR, avoid or []):
            stores = [s for s in shopper.stores if world.catalog.can_buy(acc.country, s, t)]
            if not stores:
                continue
            product = self.rng.choices(list(PRODUCT_WEIGHTS), weights=list(PRODUCT_WEIGHTS.values()))[0]
            sales.append(world.sell(acc, self.rng.choice(stores), product, t))
        if refunds and sales and self.rng.random() < 0.06:
            self.refund_one(self.rng.choice(sales))
        shopper.sales.extend(sales)
        return sales

    def refund_one(self, sale: Sale) -> None:
        at = sale.at + self.rng.randint(2, 240) * HOUR
        if at >= self.world.now - HOUR:
            return
        write_ticket(
            self.world,
            sale.account,
            "refund_request",
            sale.at + self.rng.randint(1, 90) * MINUTE,
            sale,
            status="solved",
        )
        chargeback = sale.store == "web" and self.rng.random() < 0.3
        self.world.refund(sale, at, applied=True, chargeback=chargeback)

    def send_gifts(self, shopper: Shopper, creators: list[Account]) -> None:
        """Spend some of each credited bundle on gifts in the quiet time before the next purchase."""
        world, sales = self.world, sorted(shopper.sales, key=lambda s: s.at)
        if not creators:
            return
        favourite = self.rng.choice(creators)
        spendable = 0
        for i, sale in enumerate(sales):
            kept = sale.purchase is not None and sale.purchase.status == "completed" and sale.refunded_at is None
            spendable += sale.coins if kept else 0
            start = sale.at + GIFT_DELAY
            end = (sales[i + 1].at if i + 1 < len(sales) else world.now) - HOUR
            if end <= start or spendable <= 0 or self.rng.random() < 0.3:
                continue
            budget = int(spendable * self.rng.uniform(0.3, 1.0))
            times = sorted(self.random_time(start, end) for _ in range(self.rng.randint(1, 4)))
            for j, t in enumerate(times):
                share = budget if j == len(times) - 1 else budget // (len(times) - j)
                creator = favourite if self.rng.random() < 0.7 else self.rng.choice(creators)
                spent = self.gift_coins(shopper.account, creator, share, t)
                budget -= spent
                spendable -= spent

    def gift_coins(self, sender: Account, creator: Account, coins: int, at: datetime) -> int:
        """Gifts worth at most `coins`, as one or two events of one gift kind each; returns coins spent."""
        spent = 0
        gifts = [g for g in self.world.catalog.gifts if g.coins <= coins and g.coins <= 1000]
        for n in range(self.rng.randint(1, 2)):
            affordable = [g for g in gifts if g.coins <= coins - spent]
            if not affordable:
                break
            gift = self.rng.choice(affordable[-4:])
            quantity = self.rng.randint(1, min(20, (coins - spent) // gift.coins))
            self.world.gift(sender, creator, gift, quantity, at + n * 10 * SECOND)
            spent += gift.coins * quantity
        return spent

    def cash_out(self, creator: Account, received: list[Entry]) -> None:
        """Creators redeem once they hold a few thousand diamonds, some time after the gifts came in."""
        world = self.world
        received = sorted(received, key=lambda e: e.at)
        available = 0
        for i, entry in enumerate(received):
            available += entry.amount
            nxt = received[i + 1].at if i + 1 < len(received) else world.now
            at = entry.at + self.rng.randint(1, 20) * DAY
            region = world.catalog.region_at(creator.country, at)
            if available < 1500 or at >= nxt or region is None or not region.cashout or self.rng.random() < 0.3:
                continue
            world.cashout(creator, available, at, self.cashout_status(at))
            if world.cashouts[-1].status != "rejected":
                available = 0

    def cashout_status(self, at: datetime) -> str:
        if at > self.world.now - 7 * DAY:
            return "requested"
        return self.rng.choices(("paid", "held", "rejected"), weights=(90, 5, 5))[0]

    def populate(self, n: int, pool: list[Account]) -> list[Account]:
        """`n` ordinary accounts, about one in ten a creator; viewers gift to these creators and to `pool`."""
        world, made = self.world, []
        creators = [self.new_account("creator") for _ in range(max(2, n // 10))]
        made += creators
        self.creators = creators + pool
        shoppers = [Shopper(self.new_account("viewer"), ()) for _ in range(n - len(creators))]
        for s in shoppers:
            s.stores = self.store_choice(s.account.country)
            count = self.rng.choices(range(9), weights=(22, 20, 16, 12, 10, 8, 6, 4, 2))[0]
            self.buy_history(s, count)
            self.send_gifts(s, self.creators)
            self.maybe_goodwill(s.account)
            self.maybe_region_question(s.account)
            made.append(s.account)
        received: dict[str, list[Entry]] = {c.account_id: [] for c in self.creators}
        for e in world.ledger:
            if e.kind == "gift_received" and e.account_id in received:
                received[e.account_id].append(e)
        for c in self.creators:
            self.cash_out(c, received[c.account_id])
        for s in shoppers:
            # Signed in on an iPhone without ever buying.
            if not s.sales and self.rng.random() < 0.3:
                s.account.apple_app_account_token = world.ids.app_account_token()
        return made

    def new_account(self, kind: str, country: str | None = None) -> Account:
        world, people = self.world, self.people
        country = country or people.country()
        created = self.random_time(world.now - 700 * DAY, world.now - 3 * DAY)
        status = self.rng.choices(("active", "limited", "suspended", "banned"), weights=(92, 4, 2, 2))[0]
        birth = people.birth_date(world.now - 400 * DAY)
        return world.add(people.account(country, kind, created, birth, status))

    def maybe_goodwill(self, acc: Account) -> None:
        if self.rng.random() >= 0.05 or acc.created_at > self.world.now - 10 * DAY:
            return
        at = self.random_time(acc.created_at + DAY, self.world.now - 2 * DAY)
        ticket = write_ticket(self.world, acc, "other", at, None, status="solved")
        self.world.grant(acc, self.rng.choice((70, 70, 140, 350)), at + self.rng.randint(1, 48) * HOUR, ticket)

    def maybe_region_question(self, acc: Account) -> None:
        """Buyers in a country that stopped coin sales write in to ask why."""
        cat = self.world.catalog
        if acc.country != "VN" or self.rng.random() >= 0.5 or cat.vn_suspended > self.world.now - 3 * DAY:
            return
        at = self.random_time(max(cat.vn_suspended, acc.created_at) + DAY, self.world.now - DAY)
        status = "solved" if at < self.world.now - 14 * DAY else "open"
        write_ticket(self.world, acc, "region", at, None, status=status, variant=0)
