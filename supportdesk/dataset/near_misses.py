"""Cases just inside a threshold, or that look like trouble and are not, staged on clean accounts."""

from __future__ import annotations

from supportdesk.dataset import storefiles
from supportdesk.dataset.catalog import promo_windows
from supportdesk.dataset.plant_flags import birth_for_age
from supportdesk.dataset.plot import Plot
from supportdesk.dataset.units import DAY, HOUR, MINUTE, SECOND


def plant_near_misses(plot: Plot) -> None:
    for stage in (
        repeat_after_two_minutes,
        five_in_a_day,
        usd_just_under_500,
        gifted_79_percent,
        two_refunds,
        won_dispute,
        korean_aged_19,
        promotions,
        price_change,
        pending_purchase,
        consumption_request,
    ):
        stage(plot)


def repeat_after_two_minutes(plot: Plot) -> None:
    acc = plot.bystander("US")
    t = plot.when("US", "google", 5, 300)
    plot.world.sell(acc, "google", "coins_700", t)
    again = plot.world.sell(acc, "google", "coins_700", t + 121 * SECOND)
    plot.near_miss("repeat_after_2m01s", acc, again, "same bundle bought again 2:01 after the first")
    plot.background(acc, "google", [t])


def five_in_a_day(plot: Plot) -> None:
    acc = plot.bystander("GB")
    t = plot.when("GB", "web", 5, 300)
    products = ("coins_70", "coins_350", "coins_700", "coins_70", "coins_350")
    sales = [plot.world.sell(acc, "web", p, t + n * 4 * HOUR) for n, p in enumerate(products)]
    plot.near_miss("five_purchases_in_24h", acc, sales[-1], "exactly 5 purchases in 16 hours")
    plot.background(acc, "web", [s.at for s in sales])


def usd_just_under_500(plot: Plot) -> None:
    acc = plot.bystander("KR")
    t = plot.when("KR", "google", 5, 300)
    first = plot.world.sell(acc, "google", "coins_17500", t)
    second = plot.world.sell(acc, "google", "coins_17500", t + 5 * HOUR)
    plot.near_miss("usd_499_98_in_24h", acc, second, "2 x KRW 375,000 = USD 499.98 equivalent in 5 hours")
    plot.background(acc, "google", [first.at, second.at])


def gifted_79_percent(plot: Plot) -> None:
    t = plot.when("US", "web", 12, 250)
    buyer = plot.bystander("US", created=plot.clean.random_time(t - 30 * DAY, t - HOUR))
    creator = plot.bystander("US", "creator", created=plot.clean.random_time(t - 90 * DAY, t - 10 * DAY))
    sale = plot.world.sell(buyer, "web", "coins_700", t)
    # 79 %: just short of the 80 % that makes it laundering (553 of 700, or 663 of 840 in the bonus week).
    gifted = sale.coins * 79 // 100
    plot.gift_exactly(buyer, creator, gifted, t + 40 * MINUTE, 15 * MINUTE)
    cash_at = t + plot.rng.randint(48, 96) * HOUR
    status = "requested" if cash_at > plot.now - 14 * DAY else "paid"
    plot.world.cashout(creator, plot.world.balance(creator.account_id, "diamond"), cash_at, status)
    plot.near_miss(
        "gifted_79_percent",
        buyer,
        sale,
        f"{gifted} of {sale.coins} coins gifted to {creator.handle}, who cashed out",
    )


def two_refunds(plot: Plot) -> None:
    """Three refunds, but never three inside 90 days: the last comes 95 days after the second."""
    acc = plot.bystander("BR")
    t = plot.when("BR", "google", 160, 250)
    sales = []
    for offset in (0, 40, 135):
        sale = plot.world.sell(acc, "google", plot.product(), t + offset * DAY)
        plot.world.refund(sale, sale.at + 2 * DAY, applied=True)
        sales.append(sale)
    plot.near_miss("two_refunds_in_90_days", acc, sales[-1], "refunds on days 0, 40 and 135")
    plot.background(acc, "google", [s.at for s in sales])


def won_dispute(plot: Plot) -> None:
    acc = plot.bystander("FR")
    t = plot.when("FR", "web", 30, 250)
    sale = plot.world.sell(acc, "web", plot.product(), t)
    plot.world.dispute_won(sale, t + plot.rng.randint(5, 20) * DAY)
    plot.near_miss("dispute_won", acc, sale, "a won dispute changes nothing")


def korean_aged_19(plot: Plot) -> None:
    t = plot.when("KR", "apple", 5, 300)
    acc = plot.bystander("KR", created=t - 30 * DAY, birth=birth_for_age(t.date(), 19, 10))
    sale = plot.world.sell(acc, "apple", plot.product(), t)
    plot.near_miss("korean_buyer_aged_19", acc, sale, "turned 19 ten days before buying")


def promotions(plot: Plot) -> None:
    """A purchase inside each promotion: bonus coins credited, or the lower promotional price charged."""
    cases = (
        ("us_web_bonus", "US", "web", "coins_700"),
        ("br_apple_sale", "BR", "apple", "coins_350"),
        ("jp_google_bonus", "JP", "google", "coins_1400"),
    )
    windows = promo_windows(plot.now)
    for name, country, store, product in cases:
        acc = plot.bystander(country)
        w = windows[name]
        sale = plot.world.sell(acc, store, product, plot.clean.random_time(w.start + HOUR, w.end - HOUR))
        plot.near_miss(
            f"promotion_{name}", acc, sale, f"{sale.coins} coins for {sale.price_minor} {sale.currency}"
        )
        plot.background(acc, store, [sale.at])


def price_change(plot: Plot) -> None:
    acc = plot.bystander("GB")
    change = plot.world.catalog.gb_price_change
    before = plot.world.sell(acc, "apple", "coins_700", change - 2 * DAY)
    after = plot.world.sell(acc, "apple", "coins_700", change + 3 * DAY)
    plot.near_miss(
        "gb_price_change", acc, after, f"{before.price_minor} before the change, {after.price_minor} after"
    )


def pending_purchase(plot: Plot) -> None:
    acc = plot.bystander("BR")
    t = plot.clean.random_time(plot.now - 30 * HOUR, plot.now - HOUR)
    sale = plot.world.sell(acc, "google", plot.product(), t, status="pending")
    plot.near_miss("pending_purchase", acc, sale, "pending at Google and with us: no credit yet")
    plot.background(acc, "google", [t])


def consumption_request(plot: Plot) -> None:
    acc = plot.bystander("US")
    t = plot.when("US", "apple", 3, 10)
    sale = plot.world.sell(acc, "apple", plot.product(), t)
    storefiles.apple_consumption_request(sale.record, t + plot.rng.randint(20, 40) * HOUR, plot.rng)
    plot.near_miss("apple_consumption_request", acc, sale, "the customer asked Apple; Apple has not decided")
