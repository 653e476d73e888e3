"""Looking things up: search, an account's money story (its ledger checked and paged), one purchase's story, the
home overview, and batch lookups (one held session and connection for a whole `--stdin` batch)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

from supportdesk.domain.tickets import awaiting_answer

if TYPE_CHECKING:
    from supportdesk.desk.desk import Desk

Row = dict[str, Any]
Ask = Callable[[str], Row]
R = TypeVar("R", bound="_Record")


@dataclass
class Matches:
    """A search: the parsed `query`, the matching `accounts` (likeliest key first, at most `limit`), `more` when
    there were more than `limit`."""

    body: Row
    limit: int

    @property
    def accounts(self) -> list[Row]:
        return list(self.body["accounts"])

    @property
    def text(self) -> str:
        return str(self.body["query"]["text"])

    def to_json(self) -> Row:
        return self.body


@dataclass
class PurchaseStory:
    """One purchase: `purchase`, `store_record`, `region` then, refund `decision` now, `flags`, `timeline`."""

    body: Row

    def to_json(self) -> Row:
        from supportdesk.services.audit import plain

        return plain(self.body)


@dataclass
class Overview:
    """The home screen: my open `tickets` and their deadlines, open `flags` by rule, `stores`, last `reconcile`."""

    body: Row

    def to_json(self) -> Row:
        from supportdesk.services.audit import plain

        return plain(self.body)


# --- an account's story, typed -------------------------------------------------------------------------------
# Rows are frozen, slotted dataclasses whose fields are the JSON keys in order (`to_json` writes them back as
# `supportdesk account --json` has them); `of` takes the service's dict. A column the service adds and a row type
# here does not name is an error (TypeError), never silently dropped from the JSON.


class _Record:
    """`to_json`: the fields in order, nested records as their JSON."""

    __slots__ = ()

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(**row)

    def to_json(self) -> Row:
        names: tuple[str, ...] = self.__slots__
        return {name: _json(getattr(self, name)) for name in names}


def _json(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return dict(value) if isinstance(value, Mapping) else value


def _many(cls: type[R], rows: Iterable[Row]) -> tuple[R, ...]:
    return tuple(cls(**row) for row in rows)


@dataclass(frozen=True, slots=True)
class Balance(_Record):
    """One asset: the ledger's sum (None until the ledger is checked), the cached balance, their difference."""

    ledger: int | None
    cached: int
    drift: int | None


@dataclass(frozen=True, slots=True)
class Balances(_Record):
    coin: Balance
    diamond: Balance

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(Balance.of(row["coin"]), Balance.of(row["diamond"]))


@dataclass(frozen=True, slots=True)
class Debt(_Record):
    """What the account owes per asset (a clawback of spent coins): the negative ledger balance, else 0."""

    coin: int
    diamond: int


@dataclass(frozen=True, slots=True)
class AccountInfo(_Record):
    account_id: str
    handle: str
    email: str
    country: str
    birth_date: date | None
    kind: str
    status: str
    created_at: datetime
    coin_balance: int
    diamond_balance: int
    apple_app_account_token: str | None
    web_customer_id: str | None
    debt: Debt

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(**{**row, "debt": Debt.of(row["debt"])})


@dataclass(frozen=True, slots=True)
class RegionVerdict(_Record):
    """Was buying coins allowed for a purchase's country and store at its time (`rule` decided), and was the buyer
    old enough (`age_ok`: None when the birth date or the region row is unknown)."""

    allowed: bool
    rule: str
    reason: str
    country: str
    store: str
    at: datetime
    region_from: datetime | None
    min_age: int | None
    age_ok: bool | None


@dataclass(frozen=True, slots=True)
class PurchaseRow(_Record):
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
    region_at_purchase: RegionVerdict

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(**{**row, "region_at_purchase": RegionVerdict.of(row["region_at_purchase"])})


@dataclass(frozen=True, slots=True)
class EntryRow(_Record):
    entry_id: str
    account_id: str
    asset: str
    amount: int
    kind: str
    ref: str | None
    reverses: str | None
    at: datetime
    actor: str
    reason: str | None
    ticket_id: str | None
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class GiftRow(_Record):
    event_id: str
    sender_id: str
    creator_id: str
    gift_id: str
    quantity: int
    coins: int
    diamonds: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Gifts(_Record):
    sent: tuple[GiftRow, ...]
    received: tuple[GiftRow, ...]


@dataclass(frozen=True, slots=True)
class CashoutRow(_Record):
    """A cashout with the last status change by support, and the rule of the review flag holding it."""

    cashout_id: str
    creator_id: str
    diamonds: int
    amount_minor: int
    currency: str
    status: str
    at: datetime
    status_reason: str | None
    status_by: str | None
    status_at: datetime | None
    hold_flag_id: str | None
    hold_flag_rule: str | None


@dataclass(frozen=True, slots=True)
class TicketRow(_Record):
    """A ticket with its store deadline (`answer_due_at`, None when the store asked nothing)."""

    ticket_id: str
    account_id: str
    subject: str
    body: str
    category: str
    status: str
    created_at: datetime
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    assignee: str | None
    answer_due_at: datetime | None

    @property
    def awaiting_answer(self) -> bool:
        """Unsolved, and the store asked a question with a deadline."""
        return awaiting_answer({"status": self.status, "answer_due_at": self.answer_due_at})


@dataclass(frozen=True, slots=True)
class RefundRow(_Record):
    refund_id: str
    purchase_id: str
    store: str
    store_refund_id: str | None
    initiated_by: str
    amount_minor: int
    currency: str
    coins_clawed: int
    diamonds_clawed: int
    status: str
    reason: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusWhy(_Record):
    """The status and the last audited change that set it (`source` audit), or `source` import."""

    status: str
    reason: str | None
    by: str | None
    at: datetime | None
    source: str
    ticket_id: str | None = None

    def to_json(self) -> Row:
        out = _Record.to_json(self)
        if self.source != "audit":
            del out["ticket_id"]  # as imported: no change, so no ticket to name
        return out


@dataclass(frozen=True, slots=True)
class FlagRow(_Record):
    flag_id: str
    rule: str
    score: int
    status: str
    purchase_id: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Flags(_Record):
    open: tuple[FlagRow, ...]
    decided: tuple[FlagRow, ...]

    def all(self) -> tuple[FlagRow, ...]:
        return self.open + self.decided


@dataclass(frozen=True, slots=True)
class RefundCounts(_Record):
    refunds: int
    chargebacks: int
    disputes: int


@dataclass(frozen=True, slots=True)
class Spend(_Record):
    """Paid in one currency (minor units and formatted) and what went back."""

    currency: str
    purchases: int
    spent_minor: int
    refunded_minor: int
    spent: str
    refunded: str


@dataclass(frozen=True, slots=True)
class Summary(_Record):
    """The account at a glance: why its status, review flags, refund counts, lifetime spend, cashouts by status."""

    status: StatusWhy
    flags: Flags
    refunds: RefundCounts
    spend: tuple[Spend, ...]
    cashouts: Mapping[str, int]

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(StatusWhy.of(row["status"]),
                   Flags(_many(FlagRow, row["flags"]["open"]), _many(FlagRow, row["flags"]["decided"])),
                   RefundCounts.of(row["refunds"]), _many(Spend, row["spend"]), dict(row["cashouts"]))


@dataclass(frozen=True, slots=True)
class LedgerCheck(_Record):
    """Both balances summed from the ledger with drift, the debt, and how many entries."""

    balances: Balances
    debt: Debt
    ledger_total: int

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(Balances.of(row["balances"]), Debt.of(row["debt"]), row["ledger_total"])


@dataclass(frozen=True, slots=True)
class LedgerPage(_Record):
    """Entries newest first; `next` is the cursor for the page after this one (None at the oldest entry)."""

    entries: tuple[EntryRow, ...]
    next: int | None

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(_many(EntryRow, row["entries"]), row["next"])


@dataclass(frozen=True, slots=True)
class AccountStory(_Record):
    """One account's money story: the account, both balances (cached ones and `ledger_total` None until the
    ledger is checked), and everything that moved its money, newest first: the ledger's newest page
    (`ledger_next` pages on), purchases with the region verdict then, gifts, cashouts, tickets, refunds, and the
    `summary` at a glance."""

    account: AccountInfo
    balances: Balances
    purchases: tuple[PurchaseRow, ...]
    ledger: tuple[EntryRow, ...]
    ledger_total: int | None
    ledger_next: int | None
    gifts: Gifts
    cashouts: tuple[CashoutRow, ...]
    tickets: tuple[TicketRow, ...]
    refunds: tuple[RefundRow, ...]
    summary: Summary

    @classmethod
    def of(cls, row: Row) -> Self:
        return cls(
            account=AccountInfo.of(row["account"]), balances=Balances.of(row["balances"]),
            purchases=tuple(PurchaseRow.of(p) for p in row["purchases"]), ledger=_many(EntryRow, row["ledger"]),
            ledger_total=row["ledger_total"], ledger_next=row["ledger_next"],
            gifts=Gifts(_many(GiftRow, row["gifts"]["sent"]), _many(GiftRow, row["gifts"]["received"])),
            cashouts=_many(CashoutRow, row["cashouts"]), tickets=_many(TicketRow, row["tickets"]),
            refunds=_many(RefundRow, row["refunds"]), summary=Summary.of(row["summary"]))

    def checked(self, check: LedgerCheck) -> AccountStory:
        """The story with the ledger's sums, drift, debt and count in place of the cached balances."""
        return replace(self, balances=check.balances, ledger_total=check.ledger_total,
                       account=replace(self.account, debt=check.debt))

    def more(self, page: LedgerPage) -> AccountStory:
        """The story with the next page of its ledger appended."""
        return replace(self, ledger=self.ledger + page.entries, ledger_next=page.next)


class AccountDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    @property
    def limit(self) -> int:
        """How many accounts a search returns at most (a full list means there may be more)."""
        from supportdesk.services.lookup import SEARCH_LIMIT

        return SEARCH_LIMIT

    def search(self, text: str) -> Matches:
        """Accounts matching `text` under any key; raises InvalidInput for a malformed query."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.desk.engine) as session:
            return Matches(lookup.search(session, text), lookup.SEARCH_LIMIT)

    def story(self, query: str, *, check_ledger: bool = True) -> AccountStory:
        """One account's money story (see `lookup.story`; without `check_ledger`, the cached balances and
        `ledger_check` to follow); raises NotFound."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.desk.engine) as session:
            return AccountStory.of(lookup.story(session, query, check_ledger=check_ledger))

    def ledger_check(self, account_id: str) -> LedgerCheck:
        """Both balances summed from the ledger with drift, the debt and the entry count."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.desk.engine) as session:
            return LedgerCheck.of(lookup.ledger_check(session, account_id))

    def ledger_page(self, account_id: str, before_seq: int | None) -> LedgerPage:
        """The next page of an account's ledger, newest first (`entries`, `next`)."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import lookup

        with read_session(self.desk.engine) as session:
            return LedgerPage.of(lookup.ledger_page(session, account_id, before_seq))

    def purchase(self, target: str) -> PurchaseStory:
        """One purchase (id, store transaction or order id): its timeline, region then and refund decision now,
        counted on the stores' clock."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import purchase_detail

        with read_session(self.desk.engine) as session:
            return PurchaseStory(purchase_detail.detail(session, target, self.desk.now(), self.desk.refund_policy))

    def overview(self) -> Overview:
        """The home screen for the desk's agent; deadlines on the stores' clock, as refunds count."""
        from supportdesk.db.engine import read_session
        from supportdesk.services import overview
        from supportdesk.stores.sync import configured_stores

        with read_session(self.desk.engine) as session:
            return Overview(overview.overview(session, self.desk.ctx.identity.actor, self.desk.now(),
                                              configured_stores(self.desk.settings)))

    @contextmanager
    def batch(self, kind: Literal["search", "story"]) -> Iterator[Ask]:
        """One session (and its held connection and compiled statements) for a whole batch: `ask(query)` gives
        what `--json` prints for one query. A query that fails is rolled back before its error goes up, so the
        next one starts clean (PostgreSQL refuses every statement after an error until then)."""
        from sqlmodel import Session

        from supportdesk.services import lookup

        def story(session: Session, query: str) -> Row:
            return AccountStory.of(lookup.story(session, query)).to_json()

        run: Callable[[Session, str], Row] = lookup.search if kind == "search" else story
        with Session(self.desk.engine) as session:
            def ask(query: str) -> Row:
                try:
                    return run(session, query)
                except Exception:
                    session.rollback()
                    raise

            yield ask
