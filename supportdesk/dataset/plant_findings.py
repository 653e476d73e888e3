"""Reconcile anomalies (formats.md section 2), each on its own otherwise clean account."""

from __future__ import annotations

from supportdesk.dataset.plot import Plot
from supportdesk.dataset.tickets import write_ticket
from supportdesk.dataset.units import DAY, HOUR
from supportdesk.dataset.world import Account, Sale

# (country, store) per planted case, cycled; zero-decimal currencies come early so even one of each has them.
MISSING = (("KR", "google"), ("JP", "apple"), ("US", "web"), ("VN", "apple"), ("DE", "google"), ("BR", "web"))
UNCREDITED = (("VN", "google"), ("US", "apple"), ("JP", "web"), ("GB", "google"), ("KR", "apple"), ("FR", "web"))
DOUBLE = (("US", "google"), ("KR", "apple"), ("DE", "web"), ("JP", "google"), ("IN", "apple"), ("BR", "apple"))
# How far back a store lets us discover a charge we never recorded: Google only by its real-time notifications,
# which Pub/Sub keeps 7 days; Apple's notification history 180 days; the web processor's charge list without limit.
DISCOVERABLE = {"google": 6, "apple": 150, "web": 300}


def plant_findings(plot: Plot) -> None:
    k = plot.per_kind
    for i in range(k):
        missing_purchase(plot, i)
        uncredited_purchase(plot, i)
        duplicate_credit(plot, i)
        amount_mismatch(plot, i)
    for i in range(max(4, k)):
        unapplied_refund(plot, i)
    for i in range(max(2, k)):
        balance_drift(plot, i)


def complaint(
    plot: Plot, acc: Account, sale: Sale, category: str, chance: float = 0.7, variant: int | None = None
) -> None:
    at = sale.at + plot.rng.randint(1, 30) * HOUR
    if at < plot.now and plot.rng.random() < chance:
        write_ticket(plot.world, acc, category, at, sale, variant=variant)


def missing_purchase(plot: Plot, i: int) -> None:
    country, store = MISSING[i % len(MISSING)]
    acc = plot.subject(country)
    t = plot.when(country, store, 2, DISCOVERABLE[store])
    sale = plot.world.sell(acc, store, plot.product(), t, recorded=False)
    plot.finding("missing_purchase", acc, sale)
    complaint(plot, acc, sale, "missing_coins")
    plot.background(acc, store, [t])


def uncredited_purchase(plot: Plot, i: int) -> None:
    country, store = UNCREDITED[i % len(UNCREDITED)]
    acc = plot.subject(country)
    t = plot.when(country, store, 2, 300)
    sale = plot.world.sell(acc, store, plot.product(), t, credits=0)
    plot.finding("uncredited_purchase", acc, sale)
    complaint(plot, acc, sale, "missing_coins")
    plot.background(acc, store, [t])


def duplicate_credit(plot: Plot, i: int) -> None:
    country, store = DOUBLE[i % len(DOUBLE)]
    acc = plot.subject(country)
    t = plot.when(country, store, 2, 300)
    sale = plot.world.sell(acc, store, plot.product(), t, credits=2)
    plot.finding("duplicate_credit", acc, sale)
    plot.background(acc, store, [t])


# (country, store, how, purchase days ago (lo, hi), refund delay in days (lo, hi))
REFUNDS = (
    ("US", "apple", "refund", (215, 330), (3, 20)),  # revoked more than 180 days ago: no notification left
    ("JP", "google", "refund", (45, 150), (2, 8)),  # voided more than 30 days ago: not in voidedpurchases
    ("GB", "web", "refund", (5, 200), (1, 4)),
    ("DE", "web", "chargeback", (40, 200), (10, 30)),
    ("KR", "apple", "refund", (6, 60), (1, 4)),
    ("BR", "google", "refund", (4, 25), (1, 2)),
)


def unapplied_refund(plot: Plot, i: int) -> None:
    country, store, how, (lo, hi), (d_lo, d_hi) = REFUNDS[i % len(REFUNDS)]
    acc = plot.subject(country)
    t = plot.when(country, store, lo, hi)
    sale = plot.world.sell(acc, store, plot.product(), t)
    refund_at = t + plot.rng.randint(d_lo * 24, d_hi * 24) * HOUR
    plot.world.refund(sale, min(refund_at, plot.now - HOUR), applied=False, chargeback=how == "chargeback")
    plot.finding("unapplied_refund", acc, sale)
    plot.background(acc, store, [t, refund_at])


def balance_drift(plot: Plot, i: int) -> None:
    if i == 0:
        # A creator whose cached diamonds are ahead of the ledger; ordinary viewers gift to them.
        acc = plot.subject("DE", "creator")
        plot.pool.append(acc)
        plot.world.drift[acc.account_id, "diamond"] = plot.rng.choice((250, 500, 1200))
    else:
        acc = plot.subject(("US", "JP", "BR", "KR", "GB", "FR")[i % 6])
        plot.background(acc, plot.rng.choice(("apple", "google")), [], least=1)
        plot.world.drift[acc.account_id, "coin"] = plot.rng.choice((-700, -70, 350, 1400))
    plot.finding("balance_drift", acc, None)


# (country, store, product, how much more (or less) the store charged than the price in force)
MISMATCH = (
    ("JP", "apple", "coins_700", 100),
    ("KR", "google", "coins_700", 1000),
    ("VN", "apple", "coins_70", 2000),
    ("US", "web", "coins_700", 100),
    ("GB", "apple", "coins_350", None),  # the old price, charged after the price change
    ("BR", "google", "coins_1400", -1000),
)


def amount_mismatch(plot: Plot, i: int) -> None:
    country, store, product, delta = MISMATCH[i % len(MISMATCH)]
    acc = plot.subject(country)
    cat = plot.world.catalog
    if delta is None:
        t = plot.when(country, store, 2, (plot.now - cat.gb_price_change) / DAY - 2)
        price = cat.base_price(country, store, product, cat.gb_price_change - DAY)
    else:
        t = plot.when(country, store, 2, 300)
        price = cat.offer(country, store, product, t).price_minor + delta
    assert all(p.price_minor != price for p in cat.rows_in_force(country, store, product, t))
    sale = plot.world.sell(acc, store, product, t, price_minor=price)
    plot.finding("amount_mismatch", acc, sale)
    complaint(plot, acc, sale, "wrong_amount", chance=0.5, variant=1)
    plot.background(acc, store, [t])
