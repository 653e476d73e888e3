"""Support tickets written the way customers write them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pycountry
from babel.numbers import format_currency

from supportdesk.dataset.units import minor_digits
from supportdesk.dataset.world import Account, Sale, Ticket, World

STORE_WORDS = {
    "apple": ("iPhone", "App Store"),
    "google": ("Android phone", "Google Play"),
    "web": ("laptop", "the website"),
}

TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "missing_coins": (
        (
            "Coins not showing up",
            "Hi, I bought {coins} coins on my {device} and they never showed up in my "
            "balance. I was charged {amount}. The receipt says {ref}. Please help!",
        ),
        ("paid but no coins??", "i paid {amount} for the {coins} coin pack and my balance didnt change. {ref}"),
        (
            "Missing purchase",
            "Hello, I purchased {coins} coins through {store} ({amount}) but they are not in my "
            "account {handle}. Could you check? {ref}",
        ),
    ),
    "wrong_amount": (
        (
            "Charged twice",
            "I tapped buy once and got charged twice for {coins} coins ({amount} each). "
            "Can you refund one of them?",
        ),
        (
            "Wrong price charged",
            "The shop showed a different price but {store} charged me {amount} for {coins} "
            "coins. Why was I charged more? {ref}",
        ),
    ),
    "refund_request": (
        (
            "Refund please",
            "I bought {coins} coins by accident ({amount}) and haven't used them. Can I get my money back?",
        ),
        ("Request refund", "My son bought coins on my {device} without asking, {amount}. Please refund. {ref}"),
        ("Want a refund", "Not happy with the purchase of {coins} coins, please refund {amount}."),
    ),
    "region": (
        (
            "Can't buy coins anymore",
            "The coin shop says purchases are not available in my country ({country}). "
            "Is this a bug? I bought coins here before.",
        ),
        ("Coins in my country?", "Are coins available in {country}? A friend said the shop was closed."),
    ),
    "other": (
        (
            "Stream froze while sending a gift",
            "I sent a gift and the stream froze, not sure if it went "
            "through. My coins look lower than they should. Can you check {handle}?",
        ),
        (
            "Gift went to the wrong creator",
            "I meant to send a gift to another creator but it went to the one before. Can you do anything?",
        ),
        ("Lost my streak", "The app crashed during a live and I lost my gift streak, very annoying."),
    ),
}


def money(minor: int, currency: str) -> str:
    value = Decimal(minor).scaleb(-minor_digits(currency))
    return format_currency(value, currency, locale="en_US")


def write_ticket(
    world: World,
    account: Account,
    category: str,
    at: datetime,
    sale: Sale | None,
    *,
    status: str = "open",
    variant: int | None = None,
) -> Ticket:
    options = TEMPLATES[category]
    subject, body = options[world.rng.randrange(len(options)) if variant is None else variant]
    country = pycountry.countries.get(alpha_2=account.country)
    fields = {"handle": account.handle, "country": country.name if country else account.country}
    if sale is not None:
        device, store = STORE_WORDS[sale.store]
        ref = {"apple": "Apple transaction {}", "google": "Order number {}", "web": "Receipt {}"}[sale.store]
        fields |= {
            "coins": f"{sale.coins:,}",
            "amount": money(sale.price_minor, sale.currency),
            "device": device,
            "store": store,
            "ref": ref.format(sale.txn_id),
        }
    return world.ticket(account, category, subject.format(**fields), body.format(**fields), at, status)
