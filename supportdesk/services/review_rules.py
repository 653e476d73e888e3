"""The review rules as set-based SQL: window functions over (account, time) and joins on indexed columns.

The same statements run on SQLite and PostgreSQL. Time is compared as integer epoch milliseconds
(`epoch_ms`), so a window is `RANGE BETWEEN n PRECEDING AND CURRENT ROW` over an integer on both engines, and
dates as YYYYMMDD integers (`ymd`), so an age is a subtraction. Each rule returns the rows that fire, with the
numbers the evidence needs; `services.review` turns them into flags.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from supportdesk.db.models import (
    Account,
    Cashout,
    GiftEvent,
    LedgerEntry,
    PricePoint,
    Purchase,
    Refund,
    Region,
    StoreRecord,
)
from supportdesk.db.tables import table_of
from supportdesk.domain.review import CHARGED, Thresholds

P = table_of(Purchase)
A = table_of(Account)
R = table_of(Region)
PP = table_of(PricePoint)
G = table_of(GiftEvent)
C = table_of(Cashout)
LE = table_of(LedgerEntry)
SR = table_of(StoreRecord)
RF = table_of(Refund)
BATCH = 5000
STORE_TAKEN_BACK = ("refunded", "charged_back")


class epoch_ms(FunctionElement[int]):  # noqa: N801 - reads as a SQL function
    """A timestamp as integer milliseconds since 1970 (UTC)."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_ms"


@compiles(epoch_ms, "sqlite")
def _epoch_ms_sqlite(element: epoch_ms, compiler: Any, **kw: Any) -> str:
    # SQLite keeps a julian day as integer milliseconds; scaling back and rounding recovers them exactly.
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(round((julianday({arg}) - 2440587.5) * 86400000.0) AS INTEGER)"


@compiles(epoch_ms, "postgresql")
def _epoch_ms_pg(element: epoch_ms, compiler: Any, **kw: Any) -> str:
    # date_part is a double: exact to the millisecond for these dates once rounded, like SQLite's, and much
    # cheaper than extract()'s numeric.
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(round(date_part('epoch', {arg}) * 1000) AS BIGINT)"


class ymd(FunctionElement[int]):  # noqa: N801
    """A timestamp's (UTC) or a date's calendar day as the integer YYYYMMDD."""

    type = Integer()
    inherit_cache = True
    name = "ymd"


@compiles(ymd, "sqlite")
def _ymd_sqlite(element: ymd, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%Y%m%d', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(ymd, "postgresql")
def _ymd_pg(element: ymd, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    (inner,) = element.clauses.clauses
    zone = "" if isinstance(inner.type, Date) else " AT TIME ZONE 'UTC'"  # a timestamptz's day in UTC
    return f"CAST(to_char({arg}{zone}, 'YYYYMMDD') AS INTEGER)"


T = epoch_ms(P.c.purchased_at)


def frame(preceding: int, following: int) -> Any:
    """`RANGE BETWEEN preceding PRECEDING (or CURRENT ROW) AND following FOLLOWING (or CURRENT ROW)`, with
    BIGINT offsets: 90 days in milliseconds does not fit PostgreSQL's INTEGER."""
    try:
        from sqlalchemy.sql.elements import FrameClause, FrameClauseType
    except ImportError:  # SQLAlchemy 2.0 renders the integers inline
        return (-preceding, following)

    def bound(n: int, kind: Any) -> tuple[Any, Any]:
        # Inline (literal_execute): two frames with the same offset are then the same window to SQLite.
        return (None, FrameClauseType.CURRENT) if n == 0 else (literal(n, BigInteger(), literal_execute=True), kind)

    (lo, lo_kind), (hi, hi_kind) = bound(preceding, FrameClauseType.PRECEDING), bound(following, FrameClauseType.FOLLOWING)
    return FrameClause(lo, hi, lo_kind, hi_kind)


def _charged(stmt: Any, account_ids: Sequence[str] | None = None) -> Any:
    stmt = stmt.where(P.c.status.in_(CHARGED))
    return stmt.where(P.c.account_id.in_(account_ids)) if account_ids is not None else stmt


def _stream(session: Session, stmt: Any) -> Iterator[Any]:
    yield from session.execute(stmt.execution_options(yield_per=BATCH)).mappings()


# --- one purchase at a time: region in force, age, storefront ------------------------------------------------

def region_spans() -> Any:
    """Each region row with the time it stops being in force (the next row's valid_from for that country)."""
    return select(
        R.c.id, R.c.country, R.c.valid_from, R.c.coin_purchase, R.c.min_age, R.c.note,
        func.lead(R.c.valid_from).over(partition_by=R.c.country, order_by=R.c.valid_from).label("valid_until"),
    ).subquery()


def per_purchase(session: Session) -> Iterator[Any]:
    """Purchases where the region in force (latest valid_from <= T) forbade coin sales or has no row, the buyer
    was under its minimum age, or the purchase's country is not the account's. The regions are a few rows: a
    hash join on the country, not a lookup per purchase."""
    rs = region_spans()
    in_force = and_(rs.c.country == P.c.country, rs.c.valid_from <= P.c.purchased_at,
                    or_(rs.c.valid_until.is_(None), P.c.purchased_at < rs.c.valid_until))
    day, born = ymd(P.c.purchased_at), ymd(A.c.birth_date)
    stmt = _charged(
        select(P.c.purchase_id, P.c.account_id, P.c.country, A.c.country.label("home"), A.c.birth_date,
               day.label("day"), born.label("born"), rs.c.id.label("region_id"), rs.c.coin_purchase, rs.c.min_age,
               rs.c.valid_from.label("region_from"), rs.c.note.label("region_note"))
        .join(A, A.c.account_id == P.c.account_id)
        .outerjoin(rs, in_force)
        .where(or_(rs.c.id.is_(None), rs.c.coin_purchase.is_(False), A.c.country != P.c.country,
                   and_(A.c.birth_date.is_not(None), day - born < rs.c.min_age * 10000)))
    )
    return _stream(session, stmt)


# --- windows over one account's purchases ----------------------------------------------------------------------

def _timed(*cols: Any, usd: bool = False, where: Any = None) -> Any:
    """Charged purchases with their epoch milliseconds `t` computed once (windows then sort and frame on it)."""
    extra = [usd_minor().label("usd")] if usd else []
    stmt = _charged(select(*cols, T.label("t"), *extra))
    return (stmt if where is None else stmt.where(where)).subquery()


def duplicates(session: Session, t: Thresholds) -> Iterator[Any]:
    """The same account and product charged again within the window: the later charge, with the one before."""
    base = _timed(P.c.purchase_id, P.c.account_id, P.c.product_id)
    w: dict[str, Any] = {"partition_by": (base.c.account_id, base.c.product_id), "order_by": (base.c.t, base.c.purchase_id)}
    inner = select(
        base.c.purchase_id, base.c.account_id, base.c.t,
        func.lag(base.c.purchase_id).over(**w).label("prev_id"), func.lag(base.c.t).over(**w).label("prev_t"),
    ).subquery()
    stmt = select(inner).where(inner.c.prev_t.is_not(None), inner.c.t - inner.c.prev_t <= t.duplicate_ms)
    return _stream(session, stmt)


def _price_in_force(pp: Any, country: Any) -> Any:
    return and_(pp.c.country == country, pp.c.store == P.c.store, pp.c.product_id == P.c.product_id,
                pp.c.valid_from <= P.c.purchased_at,
                or_(pp.c.valid_to.is_(None), P.c.purchased_at < pp.c.valid_to))


def usd_minor() -> Any:
    """A purchase's USD equivalent in cents: price x US price / local price, both in force at the purchase
    (the local row whose price it paid first; the US base row before a promotion). NULL without a rate."""
    local, us = PP.alias("local_pp"), PP.alias("us_pp")
    # SQLite refuses outer columns in a subquery's ORDER BY: the paid price is a second lookup, not a sort key.
    paid = (select(local.c.price_minor).where(_price_in_force(local, P.c.country),
                                              local.c.price_minor == P.c.price_minor)
            .limit(1).correlate(P).scalar_subquery())
    base = (select(local.c.price_minor).where(_price_in_force(local, P.c.country))
            .order_by(local.c.valid_from.desc(), local.c.bonus_coins, local.c.price_minor.desc())
            .limit(1).correlate(P).scalar_subquery())
    local_price = func.coalesce(paid, base)
    us_price = (select(us.c.price_minor).where(_price_in_force(us, literal("US")), us.c.currency == "USD")
                .order_by(case((us.c.valid_to.is_(None), 0), else_=1), us.c.valid_from.desc(), us.c.bonus_coins)
                .limit(1).correlate(P).scalar_subquery())
    # The operator itself, not SQLAlchemy's `//`: integer division on integers, on both engines.
    converted = (P.c.price_minor * us_price).op("/", return_type=BigInteger())(func.nullif(local_price, 0))
    return case((and_(P.c.country == "US", P.c.currency == "USD"), P.c.price_minor), else_=converted)


def velocity(session: Session, t: Thresholds) -> Iterator[Any]:
    """Purchases at which the account is over the count or the USD amount within the window before them
    (ordered by account and time; `services.review` keeps the first of each burst)."""
    base = _timed(P.c.purchase_id, P.c.account_id, usd=True)
    window = {"partition_by": base.c.account_id, "order_by": base.c.t, "range_": frame(t.velocity_ms, 0)}
    inner = select(
        base.c.purchase_id, base.c.account_id, base.c.t,
        func.count().over(**window).label("n"),
        func.sum(func.coalesce(base.c.usd, 0)).over(**window).label("usd_sum"),
    ).subquery()
    stmt = (select(inner).where(or_(inner.c.n > t.velocity_purchases, inner.c.usd_sum > t.velocity_usd_minor))
            .order_by(inner.c.account_id, inner.c.t, inner.c.purchase_id))
    return _stream(session, stmt)


def purchases_of(session: Session, account_ids: Sequence[str]) -> list[Any]:
    """The charged purchases of some accounts, with `t`, by time."""
    return list(session.execute(_charged(select(P, T.label("t")), account_ids).order_by(T)).mappings())


def purchases_with_usd(session: Session, account_ids: Sequence[str]) -> list[Any]:
    """The charged purchases of some accounts with their USD equivalents (the velocity evidence)."""
    stmt = _charged(select(P, T.label("t"), usd_minor().label("usd_minor")), account_ids).order_by(T)
    return list(session.execute(stmt).mappings())


# --- gifts and cashouts ------------------------------------------------------------------------------------------

def laundering(session: Session, t: Thresholds) -> Iterator[Any]:
    """Purchases after which one creator got `percent` or more of the coins the account bought within the gift
    window (gifts within it too), and that creator asked for a cashout from the first gift to 7 days after."""
    # Only accounts that gifted to a creator who ever cashed out can match: the window runs on those alone.
    senders = select(G.c.sender_id).join(C, C.c.creator_id == G.c.creator_id)
    base = _timed(P.c.purchase_id, P.c.account_id, P.c.coins, where=P.c.account_id.in_(senders))
    bought = select(
        base.c.purchase_id, base.c.account_id, base.c.t,
        func.sum(base.c.coins).over(partition_by=base.c.account_id, order_by=base.c.t,
                                    range_=frame(0, t.laundering_gift_ms)).label("bought"),
    ).subquery()
    gt = epoch_ms(G.c.at)
    gifted = func.sum(G.c.coins)
    pairs = (
        select(bought, G.c.creator_id, gifted.label("gifted"), func.min(gt).label("first_gift"))
        .join(G, G.c.sender_id == bought.c.account_id)
        .where(gt >= bought.c.t, gt <= bought.c.t + t.laundering_gift_ms)
        .group_by(bought.c.purchase_id, bought.c.account_id, bought.c.t, bought.c.bought, G.c.creator_id)
        .having(gifted * 100 >= bought.c.bought * t.laundering_percent)
    ).subquery()
    ct = epoch_ms(C.c.at)
    cashed = exists().where(C.c.creator_id == pairs.c.creator_id, ct >= pairs.c.first_gift,
                            ct <= pairs.c.t + t.laundering_cashout_ms)
    return _stream(session, select(pairs).where(cashed))


def gifts_between(session: Session, sender: str, creator: str, lo_ms: int, hi_ms: int) -> list[Any]:
    gt = epoch_ms(G.c.at)
    stmt = (select(G).where(G.c.sender_id == sender, G.c.creator_id == creator, gt >= lo_ms, gt <= hi_ms)
            .order_by(G.c.at, G.c.event_id))
    return list(session.execute(stmt).mappings())


def cashouts_between(session: Session, creator: str, lo_ms: int, hi_ms: int) -> list[Any]:
    ct = epoch_ms(C.c.at)
    stmt = select(C).where(C.c.creator_id == creator, ct >= lo_ms, ct <= hi_ms).order_by(C.c.at, C.c.cashout_id)
    return list(session.execute(stmt).mappings())


# --- refunds -----------------------------------------------------------------------------------------------------

def refund_events(account_ids: Sequence[str] | None = None) -> Any:
    """One row per refunded, revoked, voided or charged-back purchase, dated by the store's refund time, else
    by the first clawback entry, else by our refund record."""
    when = cast(null(), P.c.purchased_at.type)
    sources = [
        select(P.c.purchase_id, P.c.account_id, SR.c.refunded_at.label("store_at"), when.label("claw_at"),
               when.label("refund_at"))
        .join(SR, and_(SR.c.store == P.c.store, SR.c.store_transaction_id == P.c.store_transaction_id))
        .where(SR.c.state.in_(STORE_TAKEN_BACK), SR.c.refunded_at.is_not(None)),
        select(P.c.purchase_id, P.c.account_id, when, LE.c.at, when)
        .join(LE, LE.c.ref == P.c.purchase_id).where(LE.c.kind == "refund_clawback", LE.c.asset == "coin"),
        select(P.c.purchase_id, P.c.account_id, when, when, func.coalesce(RF.c.completed_at, RF.c.created_at))
        .join(RF, RF.c.purchase_id == P.c.purchase_id).where(RF.c.status == "succeeded"),
    ]
    if account_ids is not None:
        sources = [s.where(P.c.account_id.in_(account_ids)) for s in sources]
    src = union_all(*sources).subquery()
    store_at, claw_at, refund_at = func.min(src.c.store_at), func.min(src.c.claw_at), func.min(src.c.refund_at)
    return (select(src.c.purchase_id, src.c.account_id,
                   epoch_ms(func.coalesce(store_at, claw_at, refund_at)).label("t"),
                   case((store_at.is_not(None), "store"), (claw_at.is_not(None), "clawback"), else_="refund")
                   .label("dated_by"))
            .group_by(src.c.purchase_id, src.c.account_id))


def refund_abuse(session: Session, t: Thresholds) -> Iterator[Any]:
    """Refunds at which the account has `count` or more within the window before them (ordered by account and
    time; `services.review` keeps the first of each run)."""
    ev = refund_events().subquery()
    inner = select(ev, func.count().over(partition_by=ev.c.account_id, order_by=ev.c.t, range_=frame(t.refund_ms, 0))
                   .label("n")).subquery()
    stmt = (select(inner).where(inner.c.n >= t.refund_count)
            .order_by(inner.c.account_id, inner.c.t, inner.c.purchase_id))
    return _stream(session, stmt)


def refunds_of(session: Session, account_ids: Sequence[str]) -> list[Any]:
    ev = refund_events(account_ids).subquery()
    return list(session.execute(select(ev).order_by(ev.c.t)).mappings())


def purchases_by_id(session: Session, ids: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):
        rows = session.execute(select(P).where(P.c.purchase_id.in_(unique[start:start + 500]))).mappings()
        out.update({r["purchase_id"]: r for r in rows})
    return out

