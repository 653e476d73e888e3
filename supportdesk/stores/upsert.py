"""Writing one batch of store records: one transaction, upsert by (store, store_transaction_id), counted."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import ARRAY, Dialect, Engine, String, any_, bindparam, func, literal_column
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from supportdesk.db.driver import Compiled, fetch, held_cursor
from supportdesk.db.engine import refuse_nul, write_session
from supportdesk.db.models import Account, Purchase, StoreRecord
from supportdesk.db.tables import table_of
from supportdesk.stores.records import NormalisedRecord, version_of

# A later state is not overwritten by an earlier one unless the store signed the payload later (a reversal).
STATE_RANK = {"pending": 0, "purchased": 1, "canceled": 2, "refunded": 3, "charged_back": 4}
COMPARED = ("order_id", "purchase_token", "account_id", "account_ref", "product_id", "quantity", "price_minor",
            "currency", "country", "purchased_at", "state", "refunded_at", "refund_reason", "refunded_minor")
VOLATILE_RAW = ("signedDate",)  # re-signed on every fetch: not a change


Key = tuple[str, str]


@dataclass
class BatchCounts:
    inserted: list[Key] = field(default_factory=list)
    updated: list[Key] = field(default_factory=list)
    unchanged: list[Key] = field(default_factory=list)


def upsert_batch(engine: Engine, records: list[NormalisedRecord], *, now: datetime | None = None) -> BatchCounts:
    counts = BatchCounts()
    if not records:
        return counts
    records = latest_per_key(records)
    fetched_at = now or datetime.now(UTC)
    with write_session(engine) as session:
        existing = _existing(session, records)
        accounts = resolve_accounts(session, records)
        rows = []
        for rec in records:
            values = rec.columns() | {"account_id": accounts.get(rec.store_transaction_id), "fetched_at": fetched_at}
            key = (rec.store, rec.store_transaction_id)
            old = existing.get(key)
            if old is None:
                counts.inserted.append(key)
            elif not supersedes(rec, old) or _same(values, old):
                counts.unchanged.append(key)
                continue
            else:
                counts.updated.append(key)
            rows.append(values)
        if rows:
            _write(session, rows)
    return counts


def latest_per_key(records: Iterable[NormalisedRecord]) -> list[NormalisedRecord]:
    """One record per transaction within a batch: the one that would win against the others."""
    best: dict[tuple[str, str], NormalisedRecord] = {}
    for rec in records:
        key = (rec.store, rec.store_transaction_id)
        if key not in best or supersedes(rec, best[key]):
            best[key] = rec
    return list(best.values())


def supersedes(new: NormalisedRecord, old: NormalisedRecord | StoreRecord | Any) -> bool:
    new_v, old_v = version_of(new.raw), version_of(old.raw or {})
    if new_v is not None and old_v is not None and new_v != old_v:
        return new_v > old_v
    return STATE_RANK.get(new.state, 0) >= STATE_RANK.get(old.state, 0)


def _same(values: dict[str, Any], old: Any) -> bool:
    if any(values[col] != getattr(old, col) for col in COMPARED):
        return False
    return _stable(values["raw"]) == _stable(old.raw or {})


def _stable(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in VOLATILE_RAW}


def _existing(session: Session, records: list[NormalisedRecord]) -> dict[tuple[str, str], Any]:
    """The stored rows of the batch's keys, as plain rows (the columns compared, by name): loading them as ORM
    objects cost more than the rest of the write."""
    out: dict[tuple[str, str], Any] = {}
    for store in {r.store for r in records}:
        ids = [r.store_transaction_id for r in records if r.store == store]
        rows = session.execute(_existing_rows(), {"store": store, "ids": ids})
        out.update({(row.store, row.store_transaction_id): row for row in rows})
    return out


@cache
def _existing_rows() -> Any:
    table = table_of(StoreRecord)
    columns = [table.c[name] for name in ("store", "store_transaction_id", "raw", *COMPARED)]
    return core_select(*columns).where(table.c.store == bindparam("store"),
                                       table.c.store_transaction_id.in_(bindparam("ids", expanding=True)))


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    """Dialect upsert (SQLite and PostgreSQL both have ON CONFLICT): a concurrent sync cannot duplicate a row.
    One statement of a fixed shape, run with the rows as parameters (executemany, batched into multi-row
    VALUES by SQLAlchemy): compiled once per dialect, not once per batch size as `.values(rows)` was."""
    session.execute(_upsert(session.get_bind().dialect.name), rows)


@cache
def _upsert(dialect: str) -> Any:
    table = table_of(StoreRecord)
    stmt = _insert(dialect)(table)
    keys = ("store", "store_transaction_id", "id")
    return stmt.on_conflict_do_update(
        index_elements=["store", "store_transaction_id"],
        set_={col.name: stmt.excluded[col.name] for col in table.columns if col.name not in keys},
    )


def dialect_insert(session: Session) -> Any:
    """The engine's own INSERT (SQLite and PostgreSQL both have ON CONFLICT)."""
    return _insert(session.get_bind().dialect.name)


def _insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert
        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    return sqlite_insert


def resolve_accounts(session: Session, records: list[NormalisedRecord]) -> dict[str, str]:
    """store_transaction_id -> our account id, from each store's account reference; else our own purchase."""
    out: dict[str, str] = {}
    refs = {r.account_ref for r in records if r.account_ref and r.store != "apple"}  # Apple's is a token
    by_id = set(session.exec(select(Account.account_id).where(col(Account.account_id).in_(refs)))) if refs else set()
    by_token, by_customer = _apple_tokens(session, records), _web_customers(session, records)
    for rec in records:
        ref = rec.account_ref
        if rec.store == "apple" and ref:
            account = by_token.get(ref.lower())
        elif rec.store == "web":
            customer: Any = (rec.raw.get("charge") or {}).get("customer")
            account = ref if ref in by_id else by_customer.get(customer)
        else:
            account = ref if ref in by_id else None
        if account:
            out[rec.store_transaction_id] = account
    missing = [r for r in records if r.store_transaction_id not in out and not r.account_ref]
    out.update(_purchase_accounts(session, missing))
    return out


def _apple_tokens(session: Session, records: list[NormalisedRecord]) -> dict[str, str]:
    """appAccountToken (lower-cased) -> our account, for the batch's Apple records: one statement of one parameter
    (the tokens as a list), an index probe per token, run on the session's driver cursor."""
    tokens = sorted({r.account_ref.lower() for r in records if r.store == "apple" and r.account_ref})
    if not tokens:
        return {}
    refuse_nul(tokens)
    cursor, dialect = held_cursor(session)
    stmt = _apple_statement(dialect)
    value = tokens if dialect.name == "postgresql" else json.dumps(tokens)
    return dict(fetch(cursor, dialect, stmt.sql, stmt.args_of(value)))


@lru_cache(maxsize=16)  # keyed by the dialect object: one per engine
def _apple_statement(dialect: Dialect) -> Compiled:
    """Accounts whose token is one of :v in any case, on ix_accounts_apple_token_lower (migration 0012): :v is an
    array on PostgreSQL, a JSON array on SQLite (json_each), so the statement is the same for every batch."""
    column = func.lower(Account.apple_app_account_token)
    if dialect.name == "postgresql":
        where = column == any_(bindparam("v", type_=ARRAY(String())))
    else:
        where = column.in_(
            core_select(literal_column("value")).select_from(func.json_each(bindparam("v", type_=String))))
    return Compiled.of(core_select(column, col(Account.account_id)).where(where), dialect)


def _web_customers(session: Session, records: list[NormalisedRecord]) -> dict[str, str]:
    customers = {c for r in records if r.store == "web" and (c := (r.raw.get("charge") or {}).get("customer"))}
    if not customers:
        return {}
    rows = session.exec(select(Account.web_customer_id, Account.account_id).where(
        col(Account.web_customer_id).in_(customers)))
    return {customer: account for customer, account in rows if customer}


def _purchase_accounts(session: Session, records: list[NormalisedRecord]) -> dict[str, str]:
    out: dict[str, str] = {}
    for store in {r.store for r in records}:
        ids = [r.store_transaction_id for r in records if r.store == store]
        rows = session.exec(select(Purchase.store_transaction_id, Purchase.account_id).where(
            Purchase.store == store, col(Purchase.store_transaction_id).in_(ids)))
        out.update(dict(rows.all()))
    return out
