"""`write_scaled()`: a large, valid, clean dataset streamed straight to disk for benchmarks.

Same reference data and record shapes as `generate()`, but no planted cases, sequential ids and plain activity:
each viewer buys a few bundles days apart, then gifts part of them a day or more later. Only the creators'
running diamond balances are kept in memory (written last), so a million ledger entries take seconds."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from typing import TextIO

from supportdesk.dataset import storefiles
from supportdesk.dataset.catalog import Catalog, Gift, build_catalog
from supportdesk.dataset.generate import normalize_now
from supportdesk.dataset.people import NAMES
from supportdesk.dataset.units import DAY, iso
from supportdesk.dataset.writer import asdict, dump, price_line, region_line, write_lines

COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "JP", "KR", "BR", "IN")
PRODUCTS = ("coins_70", "coins_350", "coins_700", "coins_1400", "coins_3500")


@dataclass(frozen=True)
class ScaledCounts:
    accounts: int
    purchases: int
    ledger_entries: int
    gift_events: int


class Clock:
    """ISO timestamps from epoch seconds without strftime per line (the date part is cached per day)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def iso(self, epoch: int) -> str:
        day, rest = divmod(epoch, 86400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%dT")
        hour, rest = divmod(rest, 3600)
        minute, second = divmod(rest, 60)
        return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}Z"


@dataclass
class Streams:
    """The open files of a scaled dataset, one per JSON Lines file written row by row."""

    accounts: TextIO
    purchases: TextIO
    ledger: TextIO
    gift_events: TextIO
    apple: TextIO
    google: TextIO
    web: TextIO


class ScaledWriter:
    def __init__(self, out: Streams, catalog: Catalog, rng: Random) -> None:
        self.out, self.cat, self.rng, self.clock = out, catalog, rng, Clock()
        self.purchases = self.entries = self.events = 0
        self.creator_diamonds: dict[str, int] = {}
        # Gifts by price, cheapest first, for "the dearest gift within budget".
        self.gifts = sorted(catalog.gifts, key=lambda g: g.coins)
        self.gift_coins = [g.coins for g in self.gifts]
        self.now = int(catalog.now.timestamp())

    def entry(self, account_id: str, asset: str, amount: int, kind: str, ref: str, at: int) -> None:
        # Ids, kinds and timestamps need no JSON escaping: a format string is several times faster than json.
        self.entries += 1
        self.out.ledger.write(
            f'{{"entry_id":"le_{self.entries:014x}","account_id":"{account_id}","asset":"{asset}",'
            f'"amount":{amount},"kind":"{kind}","ref":"{ref}","at":"{self.clock.iso(at)}","actor":"system"}}\n'
        )

    def viewer(self, n: int, purchases: int, gifts: int, creators: list[str]) -> None:
        rng = self.rng
        account_id, country = f"acc_{n:010x}", COUNTRIES[n % len(COUNTRIES)]
        t = self.now - rng.randint(60 * 86400, 390 * 86400)
        identity: dict[str, str] = {}
        coins = 0
        for _ in range(purchases):
            coins += self.purchase(account_id, country, rng.choice(PRODUCTS), t, identity)
            t += rng.randint(27, 120) * 3600
        for _ in range(gifts):
            # Spread the coins over the remaining gifts so no balance goes below zero.
            budget = coins // max(gifts, 1)
            gift = self.gifts[max(0, bisect_right(self.gift_coins, budget) - 1)]
            if gift.coins > coins:
                break
            self.gift(account_id, rng.choice(creators), gift, t)
            coins -= gift.coins
            t += rng.randint(1, 48) * 3600
        name = NAMES[country][n % len(NAMES[country])]
        line = {
            "account_id": account_id,
            "handle": f"@{name}.{n}",
            "email": f"{name}.{n}@example.com",
            "country": country,
            "birth_date": f"{1970 + n % 30}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "kind": "viewer",
            "status": "active",
            "created_at": self.clock.iso(t - 400 * 86400),
            "coin_balance": coins,
            "diamond_balance": 0,
        }
        if "apple" in identity:
            line["apple_app_account_token"] = identity["apple"]
        if "web" in identity:
            line["web_customer_id"] = identity["web"]
        self.out.accounts.write(dump(line))

    def gift(self, sender: str, creator: str, gift: Gift, at: int) -> None:
        self.events += 1
        event_id = f"ge_{self.events:012x}"
        self.out.gift_events.write(
            f'{{"event_id":"{event_id}","sender_id":"{sender}","creator_id":"{creator}","gift_id":"{gift.gift_id}",'
            f'"quantity":1,"coins":{gift.coins},"diamonds":{gift.diamonds},"at":"{self.clock.iso(at)}"}}\n'
        )
        self.entry(sender, "coin", -gift.coins, "gift_sent", event_id, at)
        self.entry(creator, "diamond", gift.diamonds, "gift_received", event_id, at)
        self.creator_diamonds[creator] += gift.diamonds

    def purchase(self, account_id: str, country: str, product: str, epoch: int, identity: dict[str, str]) -> int:
        self.purchases += 1
        n, at = self.purchases, datetime.fromtimestamp(epoch, UTC)
        region = self.cat.region_at(country, at)
        assert region is not None, f"no region row for {country} at {at}"  # the plot buys only where it may
        store = self.rng.choice(region.stores)
        offer = self.cat.offer(country, store, product, at)
        price, currency = offer.price_minor, offer.currency
        if store == "apple":
            token = identity.setdefault("apple", f"{n:08x}-0000-4000-8000-{self.rng.getrandbits(48):012x}")
            txn = f"2000000{n:09d}"
            record = storefiles.apple_transaction(txn, product, at, country, price, currency, token, 0)
        elif store == "google":
            digits = f"{n:016d}0"
            txn = f"GPA.{digits[:4]}-{digits[4:8]}-{digits[8:12]}-{digits[12:]}"
            record = storefiles.google_purchase(
                txn, f"tok{n:012d}.AO-J1O", product, at, country, price, currency, account_id, 0
            )
        else:
            customer = identity.setdefault("web", f"cus_{n:014x}")
            txn = f"ch_{n:024x}"
            record = storefiles.web_charge(
                txn,
                customer,
                at,
                country,
                price,
                currency,
                account_id,
                product,
                offer.coins,
                f"fp{account_id[4:]}",
            )
        getattr(self.out, store).write(dump(record))
        purchase_id = f"pur_{n:012x}"
        self.out.purchases.write(
            dump(
                {
                    "purchase_id": purchase_id,
                    "account_id": account_id,
                    "store": store,
                    "store_transaction_id": txn,
                    "product_id": product,
                    "coins": offer.coins,
                    "price_minor": price,
                    "currency": currency,
                    "country": country,
                    "purchased_at": self.clock.iso(epoch),
                    "status": "completed",
                }
            )
        )
        self.entry(account_id, "coin", offer.coins, "purchase", purchase_id, epoch + 1)
        return offer.coins


def write_scaled(
    out_dir: Path,
    ledger_entries: int = 1_000_000,
    *,
    accounts: int | None = None,
    seed: int = 7,
    now: datetime | None = None,
) -> ScaledCounts:
    """About `ledger_entries` ledger entries over `accounts` accounts (default one per ten entries)."""
    cat, rng = build_catalog(normalize_now(now)), Random(seed)
    accounts = accounts or max(20, ledger_entries // 10)
    out_dir = Path(out_dir)
    _write_reference(out_dir, cat)
    paths = {
        "accounts": "app/accounts.jsonl",
        "purchases": "app/purchases.jsonl",
        "ledger": "app/ledger.jsonl",
        "gift_events": "app/gift_events.jsonl",
        "apple": "store/apple/transactions.jsonl",
        "google": "store/google/purchases.jsonl",
        "web": "store/web/charges.jsonl",
    }
    files = {}
    for key, rel in paths.items():
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        files[key] = (out_dir / rel).open("w", encoding="utf-8", buffering=1 << 20)
    try:
        writer = ScaledWriter(Streams(**files), cat, rng)
        creators = [f"acc_{n:010x}" for n in range(max(2, accounts // 10))]
        writer.creator_diamonds = dict.fromkeys(creators, 0)
        viewers = accounts - len(creators)
        for i in range(viewers):
            quota = (i + 1) * ledger_entries // viewers - i * ledger_entries // viewers
            purchases = max(1, quota // 3)
            writer.viewer(
                len(creators) + i, purchases + (quota - purchases) % 2, (quota - purchases) // 2, creators
            )
        for n, creator in enumerate(creators):
            files["accounts"].write(
                dump(
                    {
                        "account_id": creator,
                        "handle": f"@creator.{n}",
                        "email": f"creator.{n}@example.com",
                        "country": "US",
                        "birth_date": "1990-05-17",
                        "kind": "creator",
                        "status": "active",
                        "created_at": iso(cat.now - 700 * DAY),
                        "coin_balance": 0,
                        "diamond_balance": writer.creator_diamonds[creator],
                    }
                )
            )
    finally:
        for fh in files.values():
            fh.close()
    for rel in ("app/cashouts.jsonl", "app/tickets.jsonl", "store/web/disputes.jsonl"):
        write_lines(out_dir / rel, [])
    return ScaledCounts(accounts, writer.purchases, writer.entries, writer.events)


def _write_reference(out_dir: Path, cat: Catalog) -> None:
    write_lines(out_dir / "app" / "regions.jsonl", (region_line(r) for r in cat.regions))
    write_lines(out_dir / "app" / "price_points.jsonl", (price_line(p) for p in cat.price_points))
    write_lines(out_dir / "app" / "gifts.jsonl", (asdict(g) for g in cat.gifts))
