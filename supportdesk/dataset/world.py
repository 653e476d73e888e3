"""The records of one dataset and the moves that keep them consistent: every sale has its store record,
every credit its ledger entry, every refund the store's refund fields (unless a planted anomaly says otherwise)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from random import Random

from supportdesk.dataset import storefiles
from supportdesk.dataset.catalog import Catalog, Gift
from supportdesk.dataset.ids import IdMaker
from supportdesk.dataset.units import MINUTE, SECOND


@dataclass
class Account:
    account_id: str
    handle: str
    email: str
    country: str
    birth_date: date | None
    kind: str
    status: str
    created_at: datetime
    coin_balance: int = 0
    diamond_balance: int = 0
    apple_app_account_token: str | None = None
    web_customer_id: str | None = None


@dataclass
class Purchase:
    purchase_id: str
    account_id: str
    store: str
    store_transaction_id: str
    product_id: str
    coins: int
    price_minor: int
    currency: str
    country: str
    purchased_at: datetime
    status: str


@dataclass
class Entry:
    entry_id: str
    account_id: str
    asset: str
    amount: int
    kind: str
    ref: str | None
    at: datetime
    actor: str = "system"
    reason: str | None = None


@dataclass
class GiftEvent:
    event_id: str
    sender_id: str
    creator_id: str
    gift_id: str
    quantity: int
    coins: int
    diamonds: int
    at: datetime


@dataclass
class Cashout:
    cashout_id: str
    creator_id: str
    diamonds: int
    amount_minor: int
    currency: str
    status: str
    at: datetime


@dataclass
class Ticket:
    ticket_id: str
    account_id: str
    subject: str
    body: str
    category: str
    status: str
    created_at: datetime


@dataclass
class Sale:
    """One store charge and, unless it is a planted missing purchase, our record of it."""

    store: str
    txn_id: str
    record: dict
    account: Account
    product_id: str
    coins: int
    price_minor: int
    currency: str
    country: str
    at: datetime
    purchase: Purchase | None
    refunded_at: datetime | None = None


@dataclass
class World:
    catalog: Catalog
    rng: Random
    ids: IdMaker
    accounts: list[Account] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)
    ledger: list[Entry] = field(default_factory=list)
    gift_events: list[GiftEvent] = field(default_factory=list)
    cashouts: list[Cashout] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    sales: list[Sale] = field(default_factory=list)
    disputes: list[dict] = field(default_factory=list)
    # Planted balance drift: cached minus ledger, per account and asset.
    drift: dict[tuple[str, str], int] = field(default_factory=dict)
    _sums: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        return self.catalog.now

    def add(self, account: Account) -> Account:
        self.accounts.append(account)
        return account

    def post(
        self,
        account_id: str,
        asset: str,
        amount: int,
        kind: str,
        ref: str | None,
        at: datetime,
        reason: str | None = None,
    ) -> Entry:
        entry = Entry(self.ids.entry(), account_id, asset, amount, kind, ref, at, reason=reason)
        self.ledger.append(entry)
        self._sums[account_id, asset] += amount
        return entry

    def balance(self, account_id: str, asset: str) -> int:
        return self._sums[account_id, asset]

    def sell(
        self,
        account: Account,
        store: str,
        product_id: str,
        at: datetime,
        *,
        country: str | None = None,
        price_minor: int | None = None,
        recorded: bool = True,
        credits: int = 1,
        status: str = "completed",
    ) -> Sale:
        """A store charge at the price in force (or `price_minor`), our purchase row and `credits` credits."""
        country = country or account.country
        offer = self.catalog.offer(country, store, product_id, at)
        price = offer.price_minor if price_minor is None else price_minor
        txn_id, record = self._store_record(
            account,
            store,
            product_id,
            at,
            country,
            price,
            offer.currency,
            offer.coins,
            pending=status == "pending",
        )
        sale = Sale(
            store, txn_id, record, account, product_id, offer.coins, price, offer.currency, country, at, None
        )
        self.sales.append(sale)
        if recorded:
            sale.purchase = Purchase(
                self.ids.purchase(),
                account.account_id,
                store,
                txn_id,
                product_id,
                offer.coins,
                price,
                offer.currency,
                country,
                at,
                status,
            )
            self.purchases.append(sale.purchase)
            for _ in range(credits if status == "completed" else 0):
                credit_at = at + self.rng.randint(1, 20) * SECOND
                self.post(
                    account.account_id, "coin", offer.coins, "purchase", sale.purchase.purchase_id, credit_at
                )
        return sale

    def _store_record(
        self,
        account: Account,
        store: str,
        product_id: str,
        at: datetime,
        country: str,
        price: int,
        currency: str,
        coins: int,
        pending: bool,
    ) -> tuple[str, dict]:
        ms = self.rng.randint(0, 999)
        if store == "apple":
            if account.apple_app_account_token is None:
                account.apple_app_account_token = self.ids.app_account_token()
            txn = self.ids.apple_transaction()
            token = account.apple_app_account_token
            return txn, storefiles.apple_transaction(txn, product_id, at, country, price, currency, token, ms)
        if store == "google":
            order = self.ids.google_order()
            return order, storefiles.google_purchase(
                order,
                self.ids.google_token(),
                product_id,
                at,
                country,
                price,
                currency,
                account.account_id,
                ms,
                pending,
            )
        if account.web_customer_id is None:
            account.web_customer_id = self.ids.customer()
        card = self._fingerprints.setdefault(account.account_id, self.ids.fingerprint())
        charge = self.ids.charge()
        return charge, storefiles.web_charge(
            charge,
            account.web_customer_id,
            at,
            country,
            price,
            currency,
            account.account_id,
            product_id,
            coins,
            card,
        )

    def refund(self, sale: Sale, at: datetime, *, applied: bool, chargeback: bool = False) -> None:
        """The store refunds (or, for web with `chargeback`, loses a dispute); `applied` means we clawed back."""
        sale.refunded_at = at
        if sale.store == "apple":
            storefiles.apple_revoke(sale.record, at, self.rng)
        elif sale.store == "google":
            storefiles.google_void(sale.record, at, self.rng)
        elif chargeback:
            reason = self.rng.choice(("fraudulent", "product_not_received", "credit_not_processed"))
            self.disputes.append(storefiles.web_dispute(sale.record, self.ids.dispute(), at, "lost", reason))
        else:
            storefiles.web_refund(sale.record, self.ids.refund(), at)
        if applied and sale.purchase is not None:
            sale.purchase.status = "charged_back" if chargeback else "refunded"
            clawback_at = at + self.rng.randint(1, 30) * MINUTE
            reason = "chargeback lost" if chargeback else f"{sale.store} refund"
            self.post(
                sale.account.account_id,
                "coin",
                -sale.coins,
                "refund_clawback",
                sale.purchase.purchase_id,
                clawback_at,
                reason,
            )

    def dispute_won(self, sale: Sale, at: datetime) -> None:
        self.disputes.append(storefiles.web_dispute(sale.record, self.ids.dispute(), at, "won", "fraudulent"))

    def gift(self, sender: Account, creator: Account, gift: Gift, quantity: int, at: datetime) -> GiftEvent:
        event = GiftEvent(
            self.ids.gift_event(),
            sender.account_id,
            creator.account_id,
            gift.gift_id,
            quantity,
            gift.coins * quantity,
            gift.diamonds * quantity,
            at,
        )
        self.gift_events.append(event)
        self.post(sender.account_id, "coin", -event.coins, "gift_sent", event.event_id, at)
        self.post(creator.account_id, "diamond", event.diamonds, "gift_received", event.event_id, at)
        return event

    def cashout(self, creator: Account, diamonds: int, at: datetime, status: str) -> Cashout:
        cat = self.catalog
        local = cat.base_price(creator.country, "apple", "coins_7000", at)
        us = cat.base_price("US", "apple", "coins_7000", at)
        # A diamond is worth about half a US cent to the creator, paid in the creator's currency.
        amount = diamonds * local // (2 * us)
        co = Cashout(
            self.ids.cashout(), creator.account_id, diamonds, amount, cat.currency_of(creator.country), status, at
        )
        self.cashouts.append(co)
        if status != "rejected":
            self.post(creator.account_id, "diamond", -diamonds, "cashout", co.cashout_id, at)
        return co

    def ticket(
        self, account: Account, category: str, subject: str, body: str, at: datetime, status: str = "open"
    ) -> Ticket:
        t = Ticket(self.ids.ticket(), account.account_id, subject, body, category, status, at)
        self.tickets.append(t)
        return t

    def grant(self, account: Account, coins: int, at: datetime, ticket: Ticket) -> Entry:
        return self.post(account.account_id, "coin", coins, "grant", ticket.ticket_id, at, "goodwill")

    def finish(self) -> None:
        """Cached balances equal the ledger, except where a drift was planted; tickets numbered by date."""
        for a in self.accounts:
            a.coin_balance = self.balance(a.account_id, "coin") + self.drift.get((a.account_id, "coin"), 0)
            a.diamond_balance = self.balance(a.account_id, "diamond") + self.drift.get(
                (a.account_id, "diamond"), 0
            )
        self.tickets.sort(key=lambda t: t.created_at)
        renamed = {t.ticket_id: f"T-{n}" for n, t in enumerate(self.tickets, 1001)}
        for t in self.tickets:
            t.ticket_id = renamed[t.ticket_id]
        for e in self.ledger:
            if e.kind == "grant" and e.ref is not None:
                e.ref = renamed[e.ref]
