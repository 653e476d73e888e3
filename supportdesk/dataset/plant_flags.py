"""Review-rule cases (formats.md section 2), each on its own account, credited and in the store files so that
they raise the flag and no reconcile finding."""

from __future__ import annotations

from datetime import date, timedelta

from supportdesk.dataset.plant_findings import complaint
from supportdesk.dataset.plot import Plot
from supportdesk.dataset.units import DAY, HOUR, MINUTE, SECOND

DOUBLE_CHARGE = (
    ("US", "apple", "coins_350"),
    ("BR", "google", "coins_700"),
    ("JP", "web", "coins_1400"),
    ("KR", "google", "coins_70"),
    ("GB", "web", "coins_700"),
    ("IN", "google", "coins_350"),
)
UNDERAGE = (
    ("KR", "google", 18),
    ("US", "apple", 16),
    ("BR", "google", 17),
    ("JP", "web", 17),
    ("DE", "apple", 15),
    ("FR", "web", 17),
)
# (account country, purchase country, store)
ABROAD = (
    ("DE", "FR", "apple"),
    ("US", "GB", "google"),
    ("BR", "US", "web"),
    ("JP", "US", "apple"),
    ("KR", "JP", "google"),
    ("FR", "DE", "web"),
)
# (buyer country, store, bundle, share gifted, creator country)
LAUNDERING = (
    ("US", "apple", "coins_7000", 1.0, "US"),
    ("GB", "web", "coins_3500", 0.9, "BR"),
    ("BR", "google", "coins_7000", 0.85, "GB"),
    ("DE", "apple", "coins_3500", 1.0, "FR"),
)
REFUND_ABUSE = (("US", "google"), ("BR", "web"), ("JP", "apple"), ("GB", "google"))


def plant_flags(plot: Plot) -> None:
    k = plot.per_kind
    for i in range(k):
        duplicate_charge(plot, i)
        underage(plot, i)
        storefront_mismatch(plot, i)
        gift_laundering(plot, i)
        refund_abuse(plot, i)
    for i in range(max(2, k)):
        region_unavailable(plot, i)
        velocity(plot, i)


def duplicate_charge(plot: Plot, i: int) -> None:
    country, store, product = DOUBLE_CHARGE[i % len(DOUBLE_CHARGE)]
    acc = plot.subject(country)
    t = plot.when(country, store, 2, 300)
    plot.world.sell(acc, store, product, t)
    again = plot.world.sell(acc, store, product, t + plot.rng.randint(15, 100) * SECOND)
    plot.flag("duplicate_charge", acc, again)
    complaint(plot, acc, again, "wrong_amount", variant=0)
    plot.background(acc, store, [t])


def region_unavailable(plot: Plot, i: int) -> None:
    cat = plot.world.catalog
    if i % 2 == 0:
        # Bought through an app store after Vietnam suspended coin sales: the store still sold.
        store = ("google", "apple")[i // 2 % 2]
        acc = plot.subject("VN")
        days_since = (plot.now - cat.vn_suspended) / DAY
        t = plot.clean.random_time(plot.now - (days_since - 1) * DAY, plot.now - 2 * DAY)
        plot.background(acc, store, [t], least=1)
    else:
        # Argentina has store prices but no region row.
        store = "google"
        acc = plot.subject("AR")
        t = plot.clean.random_time(plot.now - 200 * DAY, plot.now - 3 * DAY)
    sale = plot.world.sell(acc, store, plot.product(), t)
    plot.flag("region_unavailable", acc, sale)


def birth_for_age(day: date, age: int, days_past_birthday: int) -> date:
    """A birth date making someone exactly `age` on `day`, their birthday `days_past_birthday` ago."""
    anniversary = day - timedelta(days=days_past_birthday)
    return anniversary.replace(year=anniversary.year - age, day=min(anniversary.day, 28))


def underage(plot: Plot, i: int) -> None:
    country, store, age = UNDERAGE[i % len(UNDERAGE)]
    t = plot.when(country, store, 5, 300)
    birth = birth_for_age(t.date(), age, plot.rng.randint(40, 300))
    created = plot.clean.random_time(t - 200 * DAY, t - 2 * DAY)
    acc = plot.subject(country, created=created, birth=birth)
    sale = plot.world.sell(acc, store, plot.product(), t)
    plot.flag("underage", acc, sale)


def storefront_mismatch(plot: Plot, i: int) -> None:
    home, abroad, store = ABROAD[i % len(ABROAD)]
    acc = plot.subject(home)
    t = plot.when(abroad, store, 5, 300)
    sale = plot.world.sell(acc, store, plot.product(), t, country=abroad)
    plot.flag("storefront_mismatch", acc, sale)
    plot.background(acc, store, [t])


def velocity(plot: Plot, i: int) -> None:
    acc_country, store = (("US", "google"), ("JP", "apple"), ("GB", "web"), ("KR", "google"))[i % 4]
    acc = plot.subject(acc_country)
    t = plot.when(acc_country, store, 5, 300)
    products: tuple[str, ...]
    if i % 2 == 0:
        # Six small bundles in 15 hours: more than 5 purchases in 24 h.
        products = ("coins_70", "coins_350", "coins_70", "coins_700", "coins_350", "coins_70")
        gap = 3 * HOUR
    else:
        # Three of the largest bundle: the third passes USD 500 (2 x 249.99 does not).
        products = ("coins_17500",) * 3
        gap = 4 * HOUR
    sales = [
        plot.world.sell(acc, store, p, t + n * gap + plot.rng.randint(0, 600) * SECOND)
        for n, p in enumerate(products)
    ]
    plot.flag("velocity", acc, sales[-1])
    plot.background(acc, store, [s.at for s in sales])


def gift_laundering(plot: Plot, i: int) -> None:
    country, store, product, share, creator_country = LAUNDERING[i % len(LAUNDERING)]
    t = plot.when(country, store, 12, 250)
    buyer = plot.subject(country, created=plot.clean.random_time(t - 20 * DAY, t - HOUR))
    creator = plot.account(creator_country, "creator", created=plot.clean.random_time(t - 60 * DAY, t - 10 * DAY))
    plot.manifest.accomplices.append(creator.account_id)
    sale = plot.world.sell(buyer, store, product, t)
    plot.gift_exactly(buyer, creator, int(sale.coins * share), t + plot.rng.randint(10, 90) * MINUTE, 20 * MINUTE)
    cash_at = t + plot.rng.randint(30, 140) * HOUR
    status = "requested" if cash_at > plot.now - 14 * DAY else "paid"
    plot.world.cashout(creator, plot.world.balance(creator.account_id, "diamond"), cash_at, status)
    plot.flag("gift_laundering", buyer, sale)


def refund_abuse(plot: Plot, i: int) -> None:
    country, store = REFUND_ABUSE[i % len(REFUND_ABUSE)]
    acc = plot.subject(country)
    t = plot.when(country, store, 70, 350)
    sales, at = [], t
    for n in range(3):
        # Three refunds inside 50 days: at least 3 within any 90-day window.
        if n:
            at += plot.rng.randint(6, 20) * DAY
        sale = plot.world.sell(acc, store, plot.product(), at)
        # The web case loses its last one as a chargeback: chargebacks count as refunds here.
        chargeback = store == "web" and n == 2
        plot.world.refund(sale, at + plot.rng.randint(20, 60) * HOUR, applied=True, chargeback=chargeback)
        sales.append(sale)
    plot.flag("refund_abuse", acc, sales[-1])
    complaint(plot, acc, sales[-1], "refund_request")
    plot.background(acc, store, [s.at for s in sales])
