"""The tables. Money is BigInteger minor units + ISO code; coins and diamonds are integers.

Designed for every feature: lookup, ledger, import, store records (reconcile), refunds, review flags, tickets
and the hash-chained audit log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel


def _big(**kw: Any) -> Any:
    return Field(sa_column=Column(BigInteger, nullable=kw.pop("nullable", False), **kw))


class Region(SQLModel, table=True):
    __tablename__ = "regions"
    __table_args__ = (UniqueConstraint("country", "valid_from", name="uq_regions_country_from"),)
    id: int | None = Field(default=None, primary_key=True)
    country: str = Field(max_length=2, index=True)
    currency: str = Field(max_length=3)
    coin_purchase: bool
    gifting: bool
    cashout: bool
    min_age: int
    stores: list[str] = Field(sa_column=Column(JSON, nullable=False))
    valid_from: datetime
    note: str | None = None


class PricePoint(SQLModel, table=True):
    __tablename__ = "price_points"
    __table_args__ = (
        UniqueConstraint(
            "country", "store", "product_id", "valid_from", "price_minor", "bonus_coins",
            name="uq_price_points",
        ),
        Index("ix_price_points_lookup", "country", "store", "product_id", "valid_from"),
    )
    id: int | None = Field(default=None, primary_key=True)
    country: str = Field(max_length=2)
    store: str = Field(max_length=8)
    product_id: str = Field(max_length=64)
    coins: int
    price_minor: int = _big()
    currency: str = Field(max_length=3)
    valid_from: datetime
    valid_to: datetime | None = None
    bonus_coins: int = 0


class Gift(SQLModel, table=True):
    __tablename__ = "gifts"
    gift_id: str = Field(primary_key=True, max_length=64)
    name: str
    coins: int
    diamonds: int


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (  # agents type handles and emails in any case: case-insensitive lookups use these
        Index("ix_accounts_handle_lower", func.lower(text("handle")), unique=True),  # unique in any case
        Index("ix_accounts_email_lower", func.lower(text("email"))),
        # Store sync matches Apple's appAccountToken in any case (upsert._apple_tokens): an index, not a scan.
        Index("ix_accounts_apple_token_lower", func.lower(text("apple_app_account_token"))),
    )
    account_id: str = Field(primary_key=True, max_length=64)
    handle: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=320, index=True)
    country: str = Field(max_length=2, index=True)
    birth_date: date | None = None
    kind: str = Field(max_length=16)
    status: str = Field(max_length=16)
    created_at: datetime
    coin_balance: int = _big()
    diamond_balance: int = _big()
    apple_app_account_token: str | None = Field(default=None, max_length=64, index=True)
    web_customer_id: str | None = Field(default=None, max_length=64, index=True)


class Purchase(SQLModel, table=True):
    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("store", "store_transaction_id", name="uq_purchases_store_txn"),
        Index("ix_purchases_store_txn", "store_transaction_id"),
        Index("ix_purchases_account_time", "account_id", "purchased_at"),
    )
    purchase_id: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(foreign_key="accounts.account_id", max_length=64)
    store: str = Field(max_length=8)
    store_transaction_id: str = Field(max_length=128)
    product_id: str = Field(max_length=64)
    coins: int
    price_minor: int = _big()
    currency: str = Field(max_length=3)
    country: str = Field(max_length=2)
    purchased_at: datetime
    status: str = Field(max_length=16)


class LedgerEntry(SQLModel, table=True):
    """Append-only: triggers on both engines refuse UPDATE and DELETE."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # Migration 0010: the history newest first, and the balance sum read from the index alone.
        Index("ix_ledger_account_seq", "account_id", "seq"),
        Index("ix_ledger_account_asset_amount", "account_id", "asset", "seq", "amount"),
        Index("ix_ledger_ref", "ref"),
        # Partial: imported history leaves these empty, so bulk imports pay nothing for them.
        *(
            Index(f"ix_ledger_entries_{c}", c, sqlite_where=text(f"{c} IS NOT NULL"),
                  postgresql_where=text(f"{c} IS NOT NULL"))
            for c in ("reverses", "ticket_id", "idempotency_key")
        ),
    )
    seq: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(max_length=64, unique=True)
    account_id: str = Field(foreign_key="accounts.account_id", max_length=64)
    asset: str = Field(max_length=8)
    amount: int = _big()
    kind: str = Field(max_length=24)
    ref: str | None = Field(default=None, max_length=128)
    reverses: str | None = Field(default=None, max_length=64)
    at: datetime
    actor: str = Field(max_length=64)
    reason: str | None = None
    ticket_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=200)


class GiftEvent(SQLModel, table=True):
    __tablename__ = "gift_events"
    __table_args__ = (  # migration 0010: an account's gifts newest first, sent and received
        Index("ix_gift_events_sender_at", "sender_id", "at"),
        Index("ix_gift_events_creator_at", "creator_id", "at"),
    )
    event_id: str = Field(primary_key=True, max_length=64)
    sender_id: str = Field(foreign_key="accounts.account_id", max_length=64)
    creator_id: str = Field(foreign_key="accounts.account_id", max_length=64)
    gift_id: str = Field(max_length=64)
    quantity: int
    coins: int
    diamonds: int
    at: datetime


class Cashout(SQLModel, table=True):
    __tablename__ = "cashouts"
    cashout_id: str = Field(primary_key=True, max_length=64)
    creator_id: str = Field(foreign_key="accounts.account_id", max_length=64, index=True)
    diamonds: int
    amount_minor: int = _big()
    currency: str = Field(max_length=3)
    status: str = Field(max_length=16)  # requested | held | paid | rejected
    at: datetime
    # The last status change by support (migration 0010): its reason, who made it and when. A hold a review flag
    # caused names the flag; on PostgreSQL only a lead may lift it (trigger cashouts_guard_hold).
    status_reason: str | None = None
    status_by: str | None = Field(default=None, max_length=64)
    status_at: datetime | None = None
    hold_flag_id: str | None = Field(default=None, max_length=128)


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    ticket_id: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(foreign_key="accounts.account_id", max_length=64, index=True)
    subject: str
    body: str = ""
    category: str = Field(max_length=32)
    status: str = Field(max_length=16)
    created_at: datetime
    resolution: str | None = None
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = None
    assignee: str | None = Field(default=None, max_length=64, index=True)  # the agent working it (None: nobody)


class TicketMessage(SQLModel, table=True):
    """One message of a ticket's conversation: what the customer wrote (after the imported body), a reply sent to
    the customer, or an internal note. Never edited; a reply's `sent_at` is set once the outbox holds it."""

    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket", "ticket_id", "created_at"),)
    message_id: str = Field(primary_key=True, max_length=64)  # derived from the idempotency key: the outbox's key
    ticket_id: str = Field(foreign_key="tickets.ticket_id", max_length=64)
    kind: str = Field(max_length=16)  # customer | reply | note
    author: str = Field(max_length=64)  # the acting agent (the database login on PostgreSQL); a handle: customer
    body: str
    created_at: datetime
    idempotency_key: str = Field(max_length=200, unique=True)
    macro: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = None  # replies: when the outbox took it (None: not yet delivered)


class StoreRecord(SQLModel, table=True):
    """What a store told us about one transaction, normalised; `raw` keeps the store's own payload."""

    __tablename__ = "store_records"
    __table_args__ = (
        UniqueConstraint("store", "store_transaction_id", name="uq_store_records_txn"),
        Index("ix_store_records_txn", "store_transaction_id"),
        Index("ix_store_records_order", "order_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    store: str = Field(max_length=8)
    store_transaction_id: str = Field(max_length=128)
    order_id: str | None = Field(default=None, max_length=128)
    purchase_token: str | None = Field(default=None, max_length=512)
    account_id: str | None = Field(default=None, max_length=64, index=True)
    account_ref: str | None = Field(default=None, max_length=128)
    product_id: str = Field(max_length=64)
    quantity: int = 1
    price_minor: int | None = _big(nullable=True)
    currency: str | None = Field(default=None, max_length=3)
    country: str | None = Field(default=None, max_length=2)
    purchased_at: datetime
    state: str = Field(max_length=16)
    refunded_at: datetime | None = None
    refund_reason: str | None = Field(default=None, max_length=64)
    refunded_minor: int | None = _big(nullable=True)
    raw: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    fetched_at: datetime


class Refund(SQLModel, table=True):
    """A refund or chargeback of one purchase, whoever started it; one per purchase."""

    __tablename__ = "refunds"
    refund_id: str = Field(primary_key=True, max_length=64)
    purchase_id: str = Field(foreign_key="purchases.purchase_id", max_length=64, unique=True)
    store: str = Field(max_length=8)
    store_refund_id: str | None = Field(default=None, max_length=128)
    initiated_by: str = Field(max_length=16)
    amount_minor: int = _big()
    currency: str = Field(max_length=3)
    coins_clawed: int = 0
    diamonds_clawed: int = 0
    status: str = Field(max_length=16)
    reason: str | None = None
    created_at: datetime
    completed_at: datetime | None = None


class ReviewFlag(SQLModel, table=True):
    __tablename__ = "review_flags"
    flag_id: str = Field(primary_key=True, max_length=128)
    rule: str = Field(max_length=32, index=True)
    account_id: str = Field(foreign_key="accounts.account_id", max_length=64, index=True)
    purchase_id: str | None = Field(default=None, max_length=64)
    score: int
    evidence: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", max_length=16)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    reason: str | None = None
    created_at: datetime



_RF = ReviewFlag.__table__.c  # type: ignore[attr-defined]
# The queue is paged by (score desc, flag_id), of every rule or of one; the rule list counts by rule.
Index("ix_review_flags_queue", _RF.status, _RF.score.desc(), _RF.flag_id)
Index("ix_review_flags_rule_queue", _RF.status, _RF.rule, _RF.score.desc(), _RF.flag_id)

class IdempotencyKey(SQLModel, table=True):
    """The unique key decides whether an action already ran; `result` replays its first answer."""

    __tablename__ = "idempotency_keys"
    key: str = Field(primary_key=True, max_length=200)
    action: str = Field(max_length=64)
    request_hash: str = Field(max_length=64)
    actor: str = Field(max_length=64)
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime


class AuditRecord(SQLModel, table=True):
    """Hash-chained: each record holds the previous record's hash; `prev_hash` is unique, so no fork."""

    __tablename__ = "audit_log"
    seq: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    target: str = Field(max_length=128, index=True)
    account_id: str | None = Field(default=None, max_length=64, index=True)
    ticket_id: str | None = Field(default=None, max_length=64, index=True)
    idempotency_key: str | None = Field(default=None, max_length=200)
    reason: str | None = None
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64)
    policy_version: int | None = None  # the policy in force when the action was taken (None: the defaults)


class PolicyVersion(SQLModel, table=True):
    """Refund windows, review thresholds and role limits: a new row per change, set by an administrator only
    (agents have no INSERT on this table); the newest row is in force, over the defaults in code."""

    __tablename__ = "policy_versions"
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    policy: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    set_by: str = Field(max_length=64)
    set_at: datetime
    reason: str = Field(max_length=2000)


class SyncCursor(SQLModel, table=True):
    """How far each store's view is complete for a scope ("all" or an account id): a re-run resumes from here."""

    __tablename__ = "sync_cursors"
    store: str = Field(primary_key=True, max_length=8)
    scope: str = Field(primary_key=True, max_length=64)
    synced_until: datetime | None = None  # the end of the last window this store synced completely
    last_run_at: datetime
    status: str = Field(max_length=16)  # ok | failed
    error: str | None = None


class StoreAbsence(SQLModel, table=True):
    """A purchase of ours the store answered "no such transaction / order / charge" for, and its words."""

    __tablename__ = "store_absences"
    store: str = Field(primary_key=True, max_length=8)
    store_transaction_id: str = Field(primary_key=True, max_length=128)
    answer: str
    checked_at: datetime


class StoreNotification(SQLModel, table=True):
    """A store notification the listener accepted, by the store's own id: a redelivery changes nothing."""

    __tablename__ = "store_notifications"
    source: str = Field(primary_key=True, max_length=8)
    notification_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=64)
    store_transaction_id: str | None = Field(default=None, max_length=128)
    received_at: datetime


class ConsumptionRequest(SQLModel, table=True):
    """Apple asked for consumption information about a refund request: answer by `answer_due_at` (12 hours)."""

    __tablename__ = "consumption_requests"
    store_transaction_id: str = Field(primary_key=True, max_length=128)
    ticket_id: str = Field(max_length=64, index=True)
    account_id: str | None = Field(default=None, max_length=64)
    requested_at: datetime
    answer_due_at: datetime
