"""Refund decisions (domain.md, "Refund policy"): plain facts in, a `Decision` out. No SQL, no HTTP.

Which coins of a bundle were spent is decided by one rule, `attribute_spending`:

    FIFO lots. Every coin credit (purchase, grant, positive adjustment or reversal) opens a lot; every debit
    takes coins from the oldest lot that still has some. A clawback or reversal that names a purchase (`ref`)
    takes from the newest lot with that ref first (it takes back that bundle's own coins), then FIFO. A debit
    that no lot covers is a debt; the next credits pay debts off first, oldest debt first.

So a bundle is spent after the coins the account already had and before any bundle bought later; the coins
of this bundle that a debit took are "spent", and a gift's share of them is what that gift's creator earned
from this bundle. Ties in time follow ledger order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from supportdesk.domain.money import format_money
from supportdesk.errors import ConfigError, InvalidInput

REFUND = "refund"
STORE_DECIDES = "store_decides"
DENY = "deny"
TAKEN_BACK = ("refunded", "revoked", "charged_back")
STORE_TAKEN_BACK = ("refunded", "charged_back")  # store_records states
TAKES_BACK_BY_REF = ("refund_clawback", "reversal")
# What an agent picks as the refund's cause (the diamond policy is keyed by it): fraud covers a card or account
# used without the owner's consent (unauthorised); goodwill and anything else are "other".
CAUSES = ("remorse", "duplicate", "fraud", "other")
CAUSE_WORDS = {"remorse": "the customer changed their mind", "duplicate": "charged twice for one purchase",
               "fraud": "unauthorised: card or account used without consent", "other": "goodwill or anything else"}
# Denials a lead may override (with a reason, audited as an override); the others are facts, not policy.
OVERRIDABLE = ("google.window", "google.refund_limit", "web.window")
APPLE_HOW_TO_ASK = ("ask Apple through the refund option in the App Store or at reportaproblem.apple.com")


# -- policy -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """`[policy.refund]` in the config; every number a rule uses."""

    apple_grant_full_days: int
    apple_decline_spent_percent: int
    google_window_days: int
    web_window_days: int
    max_refunds: int
    refund_count_days: int
    diamond_clawback_reasons: tuple[str, ...]

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> Policy:
        values: dict[str, Any] = {}
        for name in ("apple_grant_full_days", "apple_decline_spent_percent", "google_window_days",
                     "web_window_days", "max_refunds", "refund_count_days"):
            value = raw.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"[policy.refund] {name} must be a whole number of at least 0, not {value!r}")
            values[name] = value
        reasons = raw.get("diamond_clawback_reasons", [])
        if not isinstance(reasons, list | tuple) or not all(isinstance(r, str) for r in reasons):
            raise ConfigError("[policy.refund] diamond_clawback_reasons must be a list of causes, e.g. "
                              '["fraud", "chargeback"]')
        return cls(**values, diamond_clawback_reasons=tuple(reasons))

    def claws_back_diamonds(self, cause: str) -> bool:
        return cause in self.diamond_clawback_reasons


# -- which coins of a bundle were spent ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CoinMove:
    """One coin ledger entry of the account, in ledger order."""

    amount: int
    kind: str
    ref: str | None = None


@dataclass(frozen=True)
class Consumer:
    """A debit that used coins of the bundle: a gift (`ref` = gift event), a clawback, an adjustment."""

    kind: str
    ref: str | None
    coins: int


@dataclass(frozen=True)
class Spending:
    credited: int  # coins the purchase credited (0 if it never was)
    spent: int
    consumers: tuple[Consumer, ...] = ()

    @property
    def unspent(self) -> int:
        return self.credited - self.spent

    @property
    def gifted(self) -> tuple[Consumer, ...]:
        return tuple(c for c in self.consumers if c.kind == "gift_sent")


class _Lot:
    __slots__ = ("ref", "left", "target")

    def __init__(self, ref: str | None, left: int, target: bool) -> None:
        self.ref, self.left, self.target = ref, left, target


def attribute_spending(moves: list[CoinMove], purchase_id: str) -> Spending:
    """The FIFO rule in this module's docstring, for the first `purchase` credit whose ref is `purchase_id`."""
    lots: deque[_Lot] = deque()
    debts: deque[list[Any]] = deque()  # [move, coins still owed]
    target: _Lot | None = None
    credited = 0
    used: dict[tuple[str, str | None], int] = {}

    def take(lot: _Lot, coins: int, move: CoinMove) -> None:
        lot.left -= coins
        if lot.target:
            used[(move.kind, move.ref)] = used.get((move.kind, move.ref), 0) + coins

    for move in moves:
        if move.amount > 0:
            is_target = target is None and move.kind == "purchase" and move.ref == purchase_id
            lot = _Lot(move.ref, move.amount, is_target)
            if is_target:
                target, credited = lot, move.amount
            while debts and lot.left:
                debt = debts[0]
                coins = min(debt[1], lot.left)
                take(lot, coins, debt[0])
                debt[1] -= coins
                if not debt[1]:
                    debts.popleft()
            if lot.left:
                lots.append(lot)
        elif move.amount < 0:
            need = -move.amount
            if move.kind in TAKES_BACK_BY_REF and move.ref:
                for lot in reversed(lots):
                    if lot.ref == move.ref and need:
                        coins = min(lot.left, need)
                        take(lot, coins, move)
                        need -= coins
                lots = deque(lot for lot in lots if lot.left)
            while need and lots:
                coins = min(lots[0].left, need)
                take(lots[0], coins, move)
                need -= coins
                if not lots[0].left:
                    lots.popleft()
            if need:
                debts.append([move, need])
    if target is None:
        return Spending(0, 0)
    consumers = tuple(Consumer(kind, ref, coins) for (kind, ref), coins in used.items())
    return Spending(credited, credited - target.left, consumers)


# -- facts and decision -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PurchaseFacts:
    purchase_id: str
    store: str  # apple | google | web
    coins: int
    price_minor: int
    currency: str
    purchased_at: datetime
    status: str  # completed | pending | refunded | revoked | charged_back


@dataclass(frozen=True)
class StoreFacts:
    """What the store last told us (store_records), if synced."""

    state: str | None = None  # purchased | pending | canceled | refunded | charged_back
    refunded_at: datetime | None = None
    dispute: str | None = None  # web: the status of the charge's dispute, if any


@dataclass(frozen=True)
class PendingRefund:
    """A refund row already recorded for the purchase."""

    status: str  # requested | succeeded | failed
    amount_minor: int
    coins: int
    created_at: datetime
    cause: str = "remorse"


@dataclass(frozen=True)
class RefundFacts:
    purchase: PurchaseFacts
    spending: Spending
    now: datetime
    refund_dates: tuple[datetime, ...] = ()  # when the account's earlier refunds/revocations/chargebacks happened
    store: StoreFacts = field(default_factory=StoreFacts)
    pending: PendingRefund | None = None
    cause: str = "remorse"  # remorse | duplicate | fraud | chargeback | other
    complaint_at: datetime | None = None  # when the worked ticket was opened: the window ends there
    ticket_id: str | None = None


CONSUMPTION_ANSWER_HOURS = 12  # Apple expects the answer within 12 hours of its CONSUMPTION_REQUEST
ALL_SPENT = 100_000  # consumptionPercentage is milliunits: 100000 = every coin spent


@dataclass(frozen=True)
class ConsumptionAnswer:
    """What we send when Apple asks (PUT consumption); `consumption_percentage` is milliunits (100000 = all).
    GRANT_PRORATED needs 0 < percentage < 100000 (Apple rejects the ends), and the answer is due within
    `answer_within_hours` of Apple's request."""

    refund_preference: str  # GRANT_FULL | GRANT_PRORATED | DECLINE
    consumption_percentage: int
    delivery_status: str
    why: str
    answer_within_hours: int = CONSUMPTION_ANSWER_HOURS


@dataclass(frozen=True)
class Counted:
    """The two dates a refund window is counted between, and why the end is what it is."""

    start: datetime  # the charge
    end: datetime  # the worked ticket's creation (the customer's complaint), or now
    basis: str  # "ticket" | "now"
    ticket_id: str | None = None
    note: str = ""  # why a worked ticket did not end the window

    @property
    def age(self) -> timedelta:
        return self.end - self.start

    def words(self) -> str:
        end = f"{self.ticket_id} opened" if self.basis == "ticket" else "now"
        note = f" ({self.note})" if self.note else ""
        return (f"counted from the charge {self.start:%Y-%m-%d %H:%M} to {end} {self.end:%Y-%m-%d %H:%M} UTC: "
                f"{_days(self.age)}{note}")


def window_span(purchased_at: datetime, now: datetime, complaint_at: datetime | None = None,
                ticket_id: str | None = None) -> Counted:
    """A refund window runs from the charge to the customer's complaint: the creation of the ticket being worked,
    so a charge reported on time is not refused because the agent reached it late. Without a ticket, or with one
    opened before the charge (about something else) or after now (a clock apart), it runs to now."""
    if complaint_at is None:
        return Counted(purchased_at, now, "now")
    if complaint_at < purchased_at:
        return Counted(purchased_at, now, "now", ticket_id, f"{ticket_id or 'the ticket'} was opened before the charge")
    if complaint_at > now:
        return Counted(purchased_at, now, "now", ticket_id, f"{ticket_id or 'the ticket'} was opened after now")
    return Counted(purchased_at, complaint_at, "ticket", ticket_id)


@dataclass(frozen=True)
class Decision:
    outcome: str  # refund | store_decides | deny
    rule: str
    explanation: str
    refund_minor: int = 0
    currency: str = ""
    coins_clawback: int = 0
    claws_back_diamonds: bool = False
    consumption: ConsumptionAnswer | None = None
    counted: Counted | None = None  # the dates the window was counted between
    window: str = ""  # the same in words, for the agent
    overridable: bool = False  # a deny a lead may override
    overridden: str | None = None  # the deny rule a lead's override set aside
    partial_of: int | None = None  # a partial amount: what the policy would have refunded

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def span(facts: RefundFacts) -> Counted:
    return window_span(facts.purchase.purchased_at, facts.now, facts.complaint_at, facts.ticket_id)


def age(facts: RefundFacts) -> timedelta:
    return span(facts).age


def recent_refunds(facts: RefundFacts, policy: Policy) -> int:
    since = facts.now - timedelta(days=policy.refund_count_days)
    return sum(1 for at in facts.refund_dates if since <= at <= facts.now)


def _old(f: RefundFacts) -> str:
    counted = span(f)
    if counted.basis == "ticket":
        return f"was {_days(counted.age)} old when you wrote to us"
    return f"is {_days(counted.age)} old"


def _days(delta: timedelta) -> str:
    days = delta.days
    return "less than a day" if days < 1 else f"{days} day{'s' if days != 1 else ''}"


def decide(facts: RefundFacts, policy: Policy, override: bool = False) -> Decision:
    """The first rule that applies decides; each explains itself in one sentence for the customer. With
    `override` (a lead's), the denials in OVERRIDABLE are set aside and the decision names the one it set aside."""
    d = _decide(facts, policy, ())
    if override and d.outcome == DENY and d.rule in OVERRIDABLE:
        skip: tuple[str, ...] = (d.rule,)
        while (again := _decide(facts, policy, skip)).outcome == DENY and again.rule in OVERRIDABLE:
            skip += (again.rule,)
        if again.outcome == REFUND:
            sentence = again.explanation[0].lower() + again.explanation[1:]
            d = replace(again, overridden=" + ".join(skip), explanation=f"As an exception to our policy, {sentence}")
        else:
            d = again
    counted = span(facts)
    return replace(d, counted=counted, window=counted.words(),
                   overridable=d.outcome == DENY and d.rule in OVERRIDABLE)


def _decide(facts: RefundFacts, policy: Policy, skip: tuple[str, ...]) -> Decision:
    p = facts.purchase
    for rule in (_already, _pending, _store_took_back, _not_completed):
        decision = rule(facts, policy)
        if decision is not None:
            return decision
    if p.store == "apple":
        return _apple(facts, policy)
    if p.store == "google":
        return _google(facts, policy, skip)
    if p.store == "web":
        return _web(facts, policy, skip)
    return Decision(DENY, "any.unknown_store", f"We cannot refund a purchase from the store {p.store!r}.")


def partial(d: Decision, amount_minor: int, store: str) -> Decision:
    """The decision for a part of its amount: at most what it refunds, coins clawed back in proportion and rounded
    down (coins = clawback x amount // refund), so a partial refund never claws back more than the bundle credited
    nor more than the full refund would. Google Play's orders.refund refunds whole orders only (no amount), and
    only Apple refunds App Store purchases."""
    if d.outcome == STORE_DECIDES:
        raise InvalidInput(f"only Apple refunds App Store purchases, so no amount can be chosen here; {APPLE_HOW_TO_ASK}")
    if d.outcome != REFUND:
        raise InvalidInput(f"there is no refund to take a part of: the decision is {d.outcome} ({d.rule})")
    if amount_minor <= 0:
        raise InvalidInput(f"the amount must be more than 0 minor units of {d.currency}, not {amount_minor}")
    if amount_minor > d.refund_minor:
        raise InvalidInput(f"the amount {amount_minor} is more than the {format_money(d.refund_minor, d.currency)} "
                           f"({d.refund_minor} minor units) this purchase can be refunded")
    if amount_minor == d.refund_minor:
        return d
    if d.rule == "any.refund_in_progress":
        raise InvalidInput(f"a refund of {format_money(d.refund_minor, d.currency)} is already in progress; "
                           "it finishes with its own amount")
    if store == "google":
        raise InvalidInput("Google Play refunds whole orders only (orders.refund takes no amount); "
                           "make a partial refund in the Play Console")
    coins = d.coins_clawback * amount_minor // d.refund_minor
    return replace(d, refund_minor=amount_minor, coins_clawback=coins, partial_of=d.refund_minor)


def _already(f: RefundFacts, policy: Policy) -> Decision | None:
    p = f.purchase
    if p.status in TAKEN_BACK or (f.pending is not None and f.pending.status == "succeeded"):
        word = {"revoked": "revoked by Apple", "charged_back": "charged back by the bank"}.get(p.status, "refunded")
        return Decision(DENY, "any.already_refunded",
                        f"This purchase was already {word}, so it cannot be refunded again.", currency=p.currency)
    return None


def _pending(f: RefundFacts, policy: Policy) -> Decision | None:
    if f.pending is None or f.pending.status != "requested":
        return None
    p = f.purchase
    amount = format_money(f.pending.amount_minor, p.currency)
    return Decision(REFUND, "any.refund_in_progress",
                    f"A refund of {amount} was started on {f.pending.created_at:%Y-%m-%d} and is being completed; "
                    "applying it again finishes it without refunding twice.",
                    refund_minor=f.pending.amount_minor, currency=p.currency, coins_clawback=f.pending.coins,
                    claws_back_diamonds=policy.claws_back_diamonds(f.pending.cause))


def _store_took_back(f: RefundFacts, policy: Policy) -> Decision | None:
    p = f.purchase
    if f.store.state not in STORE_TAKEN_BACK:
        return None
    when = f" on {f.store.refunded_at:%Y-%m-%d}" if f.store.refunded_at else ""
    if p.store == "web" and f.store.state == "charged_back":
        return Decision(DENY, "web.dispute_lost",
                        f"Your bank already returned this payment through a chargeback{when}, so there is nothing "
                        "left for us to refund.", currency=p.currency, coins_clawback=f.spending.credited,
                        claws_back_diamonds=policy.claws_back_diamonds("chargeback"))
    return Decision(DENY, "any.store_refunded",
                    f"The store already returned this payment{when}, so there is nothing left for us to refund.",
                    currency=p.currency, coins_clawback=f.spending.credited,
                    claws_back_diamonds=policy.claws_back_diamonds(
                        "chargeback" if f.store.state == "charged_back" else "other"))


def _not_completed(f: RefundFacts, policy: Policy) -> Decision | None:
    p = f.purchase
    if p.status == "completed":
        return None
    return Decision(DENY, "any.not_completed",
                    f"This purchase is {p.status}, not completed, so there is no payment to refund yet.",
                    currency=p.currency)


def consumption_answer(f: RefundFacts, policy: Policy) -> ConsumptionAnswer:
    """domain.md: GRANT_FULL when nothing was spent and it is young; DECLINE when more than the threshold was
    spent or the account has had too many refunds; otherwise GRANT_PRORATED."""
    s, p = f.spending, f.purchase
    credited = s.credited or p.coins
    percentage = min(ALL_SPENT, s.spent * ALL_SPENT // credited) if credited else 0
    if s.spent > 0 and percentage == 0:
        percentage = 1  # a coin spent is a share above nothing, however small
    delivery = "DELIVERED" if s.credited else "UNDELIVERED_OTHER"
    refunds = recent_refunds(f, policy)
    if s.spent * 100 > policy.apple_decline_spent_percent * credited:
        return ConsumptionAnswer("DECLINE", percentage, delivery,
                                 f"{s.spent:,} of {credited:,} coins were spent "
                                 f"(more than {policy.apple_decline_spent_percent}%)")
    if refunds >= policy.max_refunds:
        return ConsumptionAnswer("DECLINE", percentage, delivery,
                                 f"the account had {refunds} refunds in {policy.refund_count_days} days")
    if s.spent == 0 and age(f) < timedelta(days=policy.apple_grant_full_days):
        return ConsumptionAnswer("GRANT_FULL", percentage, delivery,
                                 f"no coins spent and under {policy.apple_grant_full_days} days old")
    if percentage == 0:  # a prorated refund of nothing spent is a full one, and Apple refuses GRANT_PRORATED at 0
        return ConsumptionAnswer("GRANT_FULL", percentage, delivery, "no coins spent")
    if percentage >= ALL_SPENT:  # likewise at 100000: everything was spent, nothing is left to refund
        return ConsumptionAnswer("DECLINE", percentage, delivery, f"all {credited:,} coins were spent")
    return ConsumptionAnswer("GRANT_PRORATED", percentage, delivery,
                             f"{s.spent:,} of {credited:,} coins spent")


def _apple(f: RefundFacts, policy: Policy) -> Decision:
    answer = consumption_answer(f, policy)
    return Decision(STORE_DECIDES, "apple.store_decides",
                    f"Only Apple can refund App Store purchases: please {APPLE_HOW_TO_ASK}; if Apple refunds it, "
                    "the coins are taken back.",
                    currency=f.purchase.currency, coins_clawback=f.spending.credited, consumption=answer)


def _google(f: RefundFacts, policy: Policy, skip: tuple[str, ...] = ()) -> Decision:
    p = f.purchase
    window = timedelta(days=policy.google_window_days)
    if age(f) > window and "google.window" not in skip:
        return Decision(DENY, "google.window",
                        f"This Google Play purchase {_old(f)} and we refund Google Play purchases only "
                        f"up to {policy.google_window_days} days after buying.", currency=p.currency)
    refunds = recent_refunds(f, policy)
    if refunds >= policy.max_refunds and "google.refund_limit" not in skip:
        return Decision(DENY, "google.refund_limit",
                        f"This account already had {refunds} refunds in the last {policy.refund_count_days} days, "
                        f"and we refund at most {policy.max_refunds} in that time.", currency=p.currency)
    price = format_money(p.price_minor, p.currency)
    debt = " (coins already spent become a negative balance)" if f.spending.spent else ""
    return Decision(REFUND, "google.refund",
                    f"We refund the full {price} through Google Play and take the bundle's "
                    f"{f.spending.credited:,} coins back{debt}.",
                    refund_minor=p.price_minor, currency=p.currency, coins_clawback=f.spending.credited,
                    claws_back_diamonds=policy.claws_back_diamonds(f.cause))


def _web(f: RefundFacts, policy: Policy, skip: tuple[str, ...] = ()) -> Decision:
    p, s = f.purchase, f.spending
    if f.store.dispute in ("warning_needs_response", "warning_under_review", "needs_response", "under_review"):
        return Decision(DENY, "web.dispute_open",
                        "This payment is disputed with your bank, so the bank decides; we cannot refund it meanwhile.",
                        currency=p.currency)
    if age(f) > timedelta(days=policy.web_window_days) and "web.window" not in skip:
        return Decision(DENY, "web.window",
                        f"This purchase {_old(f)} and we refund web purchases only up to "
                        f"{policy.web_window_days} days after buying.", currency=p.currency)
    claws = policy.claws_back_diamonds(f.cause)
    if s.spent == 0:
        price = format_money(p.price_minor, p.currency)
        return Decision(REFUND, "web.full",
                        f"None of the coins were spent, so we refund the full {price} to your card and take the "
                        f"{s.credited:,} coins back.",
                        refund_minor=p.price_minor, currency=p.currency, coins_clawback=s.credited,
                        claws_back_diamonds=claws)
    if s.unspent == 0:
        return Decision(DENY, "web.all_spent",
                        f"All {s.credited:,} coins of this purchase were already spent, so there is nothing left "
                        "to refund.", currency=p.currency)
    amount = p.price_minor * s.unspent // s.credited  # rounded down to the minor unit
    if amount == 0:
        return Decision(DENY, "web.too_little_unspent",
                        f"Only {s.unspent:,} of {s.credited:,} coins are unspent, worth less than the smallest "
                        f"amount of {p.currency} we can refund.", currency=p.currency)
    return Decision(REFUND, "web.partial_unspent",
                    f"{s.spent:,} of the {s.credited:,} coins were already spent, so we refund the unspent share, "
                    f"{format_money(amount, p.currency)} of {format_money(p.price_minor, p.currency)}, and take "
                    f"back only the {s.unspent:,} unspent coins.",
                    refund_minor=amount, currency=p.currency, coins_clawback=s.unspent, claws_back_diamonds=claws)


def refund_cause(state: str | None, reason: str | None) -> str:
    """The cause the diamond policy is keyed by, from a store's refund state and reason."""
    if state == "charged_back" or reason == "chargeback":
        return "chargeback"
    if reason in ("fraud", "friendly_fraud", "fraudulent"):
        return "fraud"
    if reason in ("duplicate", "remorse"):
        return reason
    return "other"


def diamonds_from(gift_coins: int, gift_diamonds: int, coins_from_bundle: int) -> int:
    """A gift's diamonds earned with the bundle's coins: its share, rounded down."""
    return gift_diamonds * coins_from_bundle // gift_coins if gift_coins else 0
