"""The review queue: build it from the rules (SQL in `review_rules`), list it, and act on a flag.

Building upserts: a flag's id comes from its rule and subject, so a rebuild finds the same flag, refreshes an
open one's score and evidence, and never reopens one that an agent decided. An open flag whose rule no longer
fires is `cleared` (and opens again if it fires again).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from supportdesk.db.models import Account, Cashout, Purchase, ReviewFlag
from supportdesk.db.tables import table_of
from supportdesk.domain import review as rules
from supportdesk.domain.review import RULES, Thresholds, describe, first_of_bursts, headline  # noqa: F401
from supportdesk.errors import InvalidInput, NotFound
from supportdesk.services import audit
from supportdesk.services import review_rules as q
from supportdesk.services.accounts import set_status
from supportdesk.services.audit import ActionContext
from supportdesk.services.once import run_once
from supportdesk.services.roles import check_status

DECIDED = ("dismissed", "confirmed", "limited", "suspended")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Flag:
    flag_id: str
    rule: str
    account_id: str
    purchase_id: str | None
    score: int
    evidence: dict[str, Any]


def iso(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def at_ms(ms: int) -> str:
    return iso(EPOCH + timedelta(milliseconds=int(ms)))


PURCHASE_FIELDS = ("purchase_id", "store", "store_transaction_id", "product_id", "coins", "price_minor", "currency",
                   "country", "purchased_at", "status")


def purchase_json(row: Any, **extra: Any) -> dict[str, Any]:
    return {**{k: iso(row[k]) for k in PURCHASE_FIELDS}, **extra}


def _thresholds(policy: dict[str, Any] | None) -> Thresholds:
    from supportdesk.config import DEFAULT_POLICY

    return Thresholds.from_policy({**DEFAULT_POLICY["review"], **(policy or {})})


# --- each rule: its SQL rows -> flags with evidence -----------------------------------------------------------

def _per_purchase(session: Session, t: Thresholds, wanted: set[str]) -> list[Flag]:
    hits = list(q.per_purchase(session))
    bought = q.purchases_by_id(session, [h["purchase_id"] for h in hits])
    out: list[Flag] = []
    for h in hits:
        pid, acc = h["purchase_id"], h["account_id"]
        purchase = purchase_json(bought[pid])
        region = None if h["region_id"] is None else {
            "valid_from": iso(h["region_from"]), "coin_purchase": bool(h["coin_purchase"]),
            "min_age": h["min_age"], "note": h["region_note"]}
        if "region_unavailable" in wanted and (region is None or not region["coin_purchase"]):
            out.append(Flag(rules.flag_id("region_unavailable", pid), "region_unavailable", acc, pid,
                            rules.score_region(region is not None),
                            {"purchase": purchase, "country": h["country"], "region_in_force": region}))
        if (
            "underage" in wanted and region is not None and h["birth_date"] is not None
            and h["day"] - h["born"] < region["min_age"] * 10000
        ):
            age = (h["day"] - h["born"]) // 10000
            out.append(Flag(rules.flag_id("underage", pid), "underage", acc, pid,
                            rules.score_underage(age, region["min_age"]),
                            {"purchase": purchase, "birth_date": iso(h["birth_date"]), "age": age,
                             "min_age": region["min_age"], "country": h["country"], "region_in_force": region}))
        if "storefront_mismatch" in wanted and h["home"] != h["country"]:
            out.append(Flag(rules.flag_id("storefront_mismatch", pid), "storefront_mismatch", acc, pid,
                            rules.score_storefront(),
                            {"purchase": purchase, "account_country": h["home"], "purchase_country": h["country"]}))
    return out


def _duplicates(session: Session, t: Thresholds) -> list[Flag]:
    hits = list(q.duplicates(session, t))
    bought = q.purchases_by_id(session, [h["purchase_id"] for h in hits] + [h["prev_id"] for h in hits])
    out = []
    for h in hits:
        gap = int(h["t"] - h["prev_t"])
        out.append(Flag(
            rules.flag_id("duplicate_charge", h["purchase_id"]), "duplicate_charge", h["account_id"],
            h["purchase_id"], rules.score_duplicate(gap, t),
            {"purchases": [purchase_json(bought[h["prev_id"]]), purchase_json(bought[h["purchase_id"]])],
             "seconds_apart": gap // 1000, "ms_apart": gap, "window_seconds": t.duplicate_ms // 1000},
        ))
    return out


def _velocity(session: Session, t: Thresholds) -> list[Flag]:
    hits = first_of_bursts(q.velocity(session, t), t.velocity_ms)
    by_account: dict[str, list[Any]] = defaultdict(list)
    for start in range(0, len(hits), 500):
        for row in q.purchases_with_usd(session, sorted({h["account_id"] for h in hits[start:start + 500]})):
            by_account[row["account_id"]].append(row)
    out = []
    for h in hits:
        window = [r for r in by_account[h["account_id"]] if h["t"] - t.velocity_ms <= r["t"] <= h["t"]]
        usd = sum(r["usd_minor"] or 0 for r in window)
        out.append(Flag(
            rules.flag_id("velocity", h["purchase_id"]), "velocity", h["account_id"], h["purchase_id"],
            rules.score_velocity(len(window), usd, t),
            {"purchases": [purchase_json(r, usd_minor=r["usd_minor"]) for r in window],
             "count": len(window), "usd_minor": usd, "window_hours": t.velocity_ms // rules.HOUR_MS,
             "limits": {"purchases": t.velocity_purchases, "usd_minor": t.velocity_usd_minor},
             "without_rate": [r["purchase_id"] for r in window if r["usd_minor"] is None]},
        ))
    return out


def _laundering(session: Session, t: Thresholds) -> list[Flag]:
    hits = sorted(q.laundering(session, t), key=lambda h: (h["account_id"], h["creator_id"], h["t"]))
    kept: list[Any] = []
    for h in hits:  # overlapping anchors of one pattern: keep the first purchase of each
        last = kept[-1] if kept else None
        if last and (last["account_id"], last["creator_id"]) == (h["account_id"], h["creator_id"]) \
                and h["t"] - last["t"] <= t.laundering_gift_ms:
            continue
        kept.append(h)
    by_account: dict[str, list[Any]] = defaultdict(list)
    accounts = sorted({h["account_id"] for h in kept})
    for start in range(0, len(accounts), 500):
        for row in q.purchases_of(session, accounts[start:start + 500]):
            by_account[row["account_id"]].append(row)
    out = []
    for h in kept:
        lo, hi = h["t"], h["t"] + t.laundering_gift_ms
        bought = [r for r in by_account[h["account_id"]] if lo <= r["t"] <= hi]
        gifts = q.gifts_between(session, h["account_id"], h["creator_id"], lo, hi)
        cashouts = q.cashouts_between(session, h["creator_id"], h["first_gift"], h["t"] + t.laundering_cashout_ms)
        out.append(Flag(
            rules.flag_id("gift_laundering", h["purchase_id"]), "gift_laundering", h["account_id"], h["purchase_id"],
            rules.score_laundering(int(h["gifted"]), int(h["bought"])),
            {"purchases": [purchase_json(r) for r in bought], "bought_coins": int(h["bought"]),
             "creator_id": h["creator_id"], "gifted_coins": int(h["gifted"]),
             "percent": int(h["gifted"]) * 100 // max(int(h["bought"]), 1),
             "gifts": [{"event_id": g["event_id"], "at": iso(g["at"]), "gift_id": g["gift_id"],
                        "quantity": g["quantity"], "coins": g["coins"], "diamonds": g["diamonds"]} for g in gifts],
             "cashouts": [{"cashout_id": c["cashout_id"], "at": iso(c["at"]), "diamonds": c["diamonds"],
                           "amount_minor": c["amount_minor"], "currency": c["currency"], "status": c["status"]}
                          for c in cashouts],
             "limits": {"percent": t.laundering_percent, "gift_hours": t.laundering_gift_ms // rules.HOUR_MS,
                        "cashout_days": t.laundering_cashout_ms // rules.DAY_MS}},
        ))
    return out


def _refund_abuse(session: Session, t: Thresholds) -> list[Flag]:
    hits = first_of_bursts(q.refund_abuse(session, t), t.refund_ms)
    events: dict[str, list[Any]] = defaultdict(list)
    for start in range(0, len(hits), 500):
        for row in q.refunds_of(session, sorted({h["account_id"] for h in hits[start:start + 500]})):
            events[row["account_id"]].append(row)
    out = []
    for h in hits:
        window = [e for e in events[h["account_id"]] if h["t"] - t.refund_ms <= e["t"] <= h["t"]]
        bought = q.purchases_by_id(session, [e["purchase_id"] for e in window])
        out.append(Flag(
            rules.flag_id("refund_abuse", h["purchase_id"]), "refund_abuse", h["account_id"], h["purchase_id"],
            rules.score_refund_abuse(len(window), t),
            {"refunds": [purchase_json(bought[e["purchase_id"]], refunded_at=at_ms(e["t"]), dated_by=e["dated_by"])
                         for e in window],
             "count": len(window), "window_days": t.refund_ms // rules.DAY_MS},
        ))
    return out


def detect(session: Session, policy: dict[str, Any] | None = None, only: Iterable[str] | None = None) -> list[Flag]:
    """Every flag the rules raise now (nothing written)."""
    wanted = set(only or RULES)
    unknown = wanted - set(RULES)
    if unknown:
        raise InvalidInput(f"unknown rule {sorted(unknown)[0]!r}: the rules are {', '.join(RULES)}")
    t = _thresholds(policy)
    found: list[Flag] = []
    if wanted & {"region_unavailable", "underage", "storefront_mismatch"}:
        found += _per_purchase(session, t, wanted)
    for rule, run in (("duplicate_charge", _duplicates), ("velocity", _velocity), ("gift_laundering", _laundering),
                      ("refund_abuse", _refund_abuse)):
        if rule in wanted:
            found += run(session, t)
    return found


# --- the queue ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BuildResult:
    raised: int
    refreshed: int
    cleared: int
    unchanged: int
    decided: int

    def to_json(self) -> dict[str, int]:
        return {"raised": self.raised, "refreshed": self.refreshed, "cleared": self.cleared,
                "unchanged": self.unchanged, "decided": self.decided}


@dataclass(frozen=True, slots=True)
class Plan:
    """What a rebuild writes: new flags, refreshed ones, ids to clear; and how many stayed as they were."""
    new: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    gone: list[str]
    unchanged: int
    decided: int

    def result(self) -> BuildResult:
        return BuildResult(len(self.new), len(self.changed), len(self.gone), self.unchanged, self.decided)


def plan(session: Session, policy: dict[str, Any] | None = None, only: Iterable[str] | None = None,
         now: datetime | None = None) -> Plan:
    """Detect, and compare with the stored flags of those rules (nothing written)."""
    wanted = sorted(set(only or RULES))
    found = {f.flag_id: f for f in detect(session, policy, wanted)}
    table = table_of(ReviewFlag)
    existing = {
        r.flag_id: r for r in session.execute(
            select(table.c.flag_id, table.c.status, table.c.score, table.c.evidence).where(table.c.rule.in_(wanted)))
    }
    now = now or datetime.now(UTC)
    new = [{"flag_id": f.flag_id, "rule": f.rule, "account_id": f.account_id, "purchase_id": f.purchase_id,
            "score": f.score, "evidence": f.evidence, "status": "open", "created_at": now}
           for fid, f in found.items() if fid not in existing]
    changed, unchanged, decided = [], 0, 0
    for fid, f in found.items():
        old = existing.get(fid)
        if old is None:
            continue
        if old.status in DECIDED:
            decided += 1
        elif old.status == "cleared" or old.score != f.score or old.evidence != f.evidence:
            changed.append({"fid": fid, "score": f.score, "evidence": f.evidence, "status": "open"})
        else:
            unchanged += 1
    gone = [fid for fid, r in existing.items() if fid not in found and r.status == "open"]
    return Plan(new, changed, gone, unchanged, decided)


Writes = list[tuple[str, list[tuple[Any, ...]]]]

_COLUMNS = ("flag_id", "rule", "account_id", "purchase_id", "score", "evidence", "status", "created_at")
_NEW = (f"INSERT INTO review_flags ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
        "ON CONFLICT (flag_id) DO NOTHING")
_REFRESH = ("UPDATE review_flags SET score = ?, evidence = ?, status = ? "
            "WHERE flag_id = ? AND status IN ('open', 'cleared')")
_CLEAR = "UPDATE review_flags SET status = 'cleared' WHERE flag_id = ? AND status = 'open'"


def _writes(dialect: Any, new: list[dict[str, Any]], changed: list[dict[str, Any]], gone: list[str]) -> Writes:
    """Part of a plan as statements and driver-ready rows: the values already as SQLAlchemy sends them to this
    database (the evidence as JSON, times in its format), so a write transaction only runs them. A flag an agent
    decided meanwhile stays decided: the updates touch only open and cleared flags, and another agent's build may
    have raised the same new flags (theirs stand)."""
    table = table_of(ReviewFlag)

    def sent(column: str) -> Any:
        process = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        return process or (lambda value: value)

    evidence = sent("evidence")
    row = [(c, sent(c)) for c in _COLUMNS]
    out: Writes = [
        (_NEW, [tuple(f(r[c]) for c, f in row) for r in new]),
        (_REFRESH, [(r["score"], evidence(r["evidence"]), r["status"], r["fid"]) for r in changed]),
        (_CLEAR, [(fid,) for fid in gone]),
    ]
    if dialect.paramstyle != "qmark":
        out = [(sql.replace("?", "%s"), rows) for sql, rows in out]
    return [(sql, rows) for sql, rows in out if rows]


def _run(conn: Any, writes: Writes) -> None:
    for sql, rows in writes:
        conn.exec_driver_sql(sql, rows)


def _apply(session: Session, new: list[dict[str, Any]], changed: list[dict[str, Any]], gone: list[str]) -> None:
    """Write part of a plan in the session's transaction."""
    _run(session.connection(), _writes(session.get_bind().dialect, new, changed, gone))


def build(session: Session, policy: dict[str, Any] | None = None, only: Iterable[str] | None = None,
          now: datetime | None = None) -> BuildResult:
    """Detect and upsert the flags in the caller's (write) transaction (tests, small databases; `rebuild`
    holds the write lock only for short chunks)."""
    p = plan(session, policy, only, now)
    _apply(session, p.new, p.changed, p.gone)
    return p.result()


CHUNK = 100  # flags a write transaction: about 1 ms of work in the write lock (their rows made ready before it)
GAP = 0.03  # SQLite: seconds before each chunk, so a writer waiting for the lock (polling every 1 ms) gets in


def rebuild(engine: Any, policy: dict[str, Any] | None = None, only: Iterable[str] | None = None,
            now: datetime | None = None, chunk: int = CHUNK) -> BuildResult:
    """Run the rules in a read transaction (one snapshot, no write lock), then write the changes in short
    transactions of `chunk` rows each, so another agent's one-row write waits for one chunk at most.

    On SQLite each chunk's statements and rows are made first, then a pause (a waiting writer gets in, and this
    thread comes back with a fresh time slice), then the write transaction only runs them. The log is
    checkpointed by us, never in another agent's commit: once when the snapshot starts (up to it), once after
    the last chunk, when the snapshot ends. In between no checkpoint can pass the snapshot, so the automatic
    one in other agents' commits finds nothing to copy (it would copy and sync everything they wrote before,
    one commit paying 50 ms and more), and the log is not restarted (a restart syncs the log's header inside
    the write transaction that does it: 10-30 ms on a busy disk, once per chunk when we checkpointed after
    each)."""
    from supportdesk.db.engine import read_session

    sqlite = engine.dialect.name == "sqlite"
    reader = engine if sqlite else engine.execution_options(isolation_level="REPEATABLE READ")
    keeper = engine.raw_connection() if sqlite else None  # ready, so the last checkpoint follows the snapshot's end
    try:
        with read_session(reader) as session, session.begin():  # SQLite: one read transaction is one snapshot
            if keeper is not None:
                session.execute(select(col(ReviewFlag.flag_id)).limit(1)).all()  # the snapshot starts here
                _checkpoint(keeper)
            p = plan(session, policy, only, now)
            parts: list[tuple[list[Any], list[Any], list[str]]] = []
            parts += [(p.new[i:i + chunk], [], []) for i in range(0, len(p.new), chunk)]
            parts += [([], p.changed[i:i + chunk], []) for i in range(0, len(p.changed), chunk)]
            parts += [([], [], p.gone[i:i + chunk]) for i in range(0, len(p.gone), chunk)]
            for new, changed, gone in parts:
                writes = _writes(engine.dialect, new, changed, gone)
                if sqlite:
                    time.sleep(GAP)
                write_chunk(engine, writes)
        if keeper is not None:
            _checkpoint(keeper)
    finally:
        if keeper is not None:
            keeper.close()
    return p.result()


def write_chunk(engine: Any, writes: Writes) -> None:
    """One chunk of a rebuild's writes, in its own write transaction (on SQLite, the time the write lock is held)."""
    from supportdesk.db.engine import write_session

    with write_session(engine) as session:
        _run(session.connection(), writes)


def _checkpoint(raw: Any) -> None:
    """SQLite: copy the write-ahead log into the database now, on this (pooled, raw) connection, outside any
    transaction. PASSIVE: it waits for no one, and another connection's automatic checkpoint meanwhile just
    skips; it copies what no open snapshot still needs."""
    raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _flag_json(flag: Any, purchase: Any, handle: str | None) -> dict[str, Any]:
    return {
        "flag_id": flag.flag_id, "rule": flag.rule, "account_id": flag.account_id, "handle": handle,
        "store": purchase.store if purchase is not None else None,
        "store_transaction_id": purchase.store_transaction_id if purchase is not None else None,
        "purchase_id": flag.purchase_id, "score": flag.score, "status": flag.status, "evidence": flag.evidence,
        "decided_by": flag.decided_by, "decided_at": iso(flag.decided_at), "reason": flag.reason,
        "created_at": iso(flag.created_at),
    }


def _listing(session: Session, stmt: Any) -> list[dict[str, Any]]:
    stmt = (stmt.outerjoin(Purchase, col(Purchase.purchase_id) == col(ReviewFlag.purchase_id))
            .join(Account, col(Account.account_id) == col(ReviewFlag.account_id)))
    flags = [_flag_json(f, p, h) for f, p, h in session.execute(stmt)]
    creators = {f["evidence"]["creator_id"] for f in flags if "creator_id" in f["evidence"]}
    if creators:  # the creator a gift_laundering flag names, by handle as agents know them
        handles = dict(session.execute(select(col(Account.account_id), col(Account.handle))
                                       .where(col(Account.account_id).in_(sorted(creators)))).all())
        for f in flags:
            if "creator_id" in f["evidence"]:
                f["creator_handle"] = handles.get(f["evidence"]["creator_id"])
    return flags


def queue(session: Session, rule: str | None = None, statuses: Sequence[str] = ("open",)) -> list[dict[str, Any]]:
    """Flags, highest score first (ties: oldest purchase first, by id)."""
    if rule is not None and rule not in RULES:
        raise InvalidInput(f"unknown rule {rule!r}: the rules are {', '.join(RULES)}")
    stmt = select(ReviewFlag, Purchase, col(Account.handle)).where(col(ReviewFlag.status).in_(statuses))
    if rule:
        stmt = stmt.where(col(ReviewFlag.rule) == rule)
    return _listing(session, stmt.order_by(col(ReviewFlag.score).desc(), col(ReviewFlag.flag_id)))


PAGE = 100


def _statuses(decided: bool) -> tuple[str, ...]:
    return ("open", "cleared", *DECIDED) if decided else ("open",)


def page(session: Session, rule: str | None = None, statuses: Sequence[str] = ("open",), *,
         after: tuple[int, str] | None = None, limit: int = PAGE, ascending: bool = False) -> list[dict[str, Any]]:
    """One page of the queue, keyset-paged by (score, flag_id): highest score first (or lowest with `ascending`),
    ties by flag id; `after` is the (score, flag_id) of the last row of the page before. Each row is the flag's
    JSON without its evidence, with `headline` (the one line the queue shows); `get_flag` has the evidence."""
    if rule is not None and rule not in RULES:
        raise InvalidInput(f"unknown rule {rule!r}: the rules are {', '.join(RULES)}")
    score, fid = col(ReviewFlag.score), col(ReviewFlag.flag_id)
    stmt = select(ReviewFlag, Purchase, col(Account.handle)).where(col(ReviewFlag.status).in_(statuses))
    if rule:
        stmt = stmt.where(col(ReviewFlag.rule) == rule)
    order = (score.asc() if ascending else score.desc(), fid)
    if after is None:
        rows = _listing(session, stmt.order_by(*order).limit(limit))
    else:
        # Two exact index ranges, not one range and a filter: the rest of the last page's score, then the
        # scores after it (an OR would read and drop every row of that score before the cursor).
        s, f = after
        rows = _listing(session, stmt.where(score == s, fid > f).order_by(fid).limit(limit))
        if len(rows) < limit:
            beyond = score > s if ascending else score < s
            rows += _listing(session, stmt.where(beyond).order_by(*order).limit(limit - len(rows)))
    for r in rows:
        r["headline"] = headline(r)
        if "creator_id" in r["evidence"]:
            r["creator_id"] = r["evidence"]["creator_id"]
        del r["evidence"]
    return rows


def counts(session: Session, statuses: Sequence[str] = ("open",)) -> dict[str, int]:
    """How many flags each rule has (of these statuses): the rule list and the queue's total."""
    stmt = (select(col(ReviewFlag.rule), func.count()).where(col(ReviewFlag.status).in_(statuses))
            .group_by(ReviewFlag.rule))
    return {rule: n for rule, n in session.execute(stmt)}


def get_flag(session: Session, flag_id: str) -> dict[str, Any]:
    rows = _listing(session, select(ReviewFlag, Purchase, col(Account.handle)).where(col(ReviewFlag.flag_id) == flag_id))
    if not rows:
        raise NotFound(f"no review flag {flag_id!r}: run `supportdesk review` to build the queue")
    return rows[0]


# --- acting on a flag ---------------------------------------------------------------------------------------------

def act(session: Session, flag_id: str, action: str, ctx: ActionContext, *, key: str | None = None) -> dict[str, Any]:
    """Decide a flag once per (flag, action): the flag's status, the account's, holds; all audited."""
    if action not in rules.ACTIONS:
        raise InvalidInput(f"--action must be one of {', '.join(rules.ACTIONS)}, not {action!r}")
    if status := rules.ACCOUNT_STATUS[action]:
        check_status(ctx, status)  # refused before anything is written
    if session.get(ReviewFlag, flag_id) is None:
        raise NotFound(f"no review flag {flag_id!r}: run `supportdesk review` to build the queue")
    key = key or f"review:{flag_id}:{action}"
    return run_once(session, key=key, action=f"review.{action}", request={"flag": flag_id, "action": action},
                    ctx=ctx, perform=lambda: _perform(session, flag_id, action, ctx, key))


def _perform(session: Session, flag_id: str, action: str, ctx: ActionContext, key: str) -> dict[str, Any]:
    flag = session.get(ReviewFlag, flag_id, with_for_update=True)
    assert flag is not None
    account = session.get(Account, flag.account_id)
    assert account is not None
    before = {"status": flag.status}
    target = rules.account_status_after(action, account.status)
    account_change = None
    if target is not None:
        previous = account.status
        set_status(session, flag.account_id, target, ctx, key=key)
        account_change = {"before": previous, "after": target}
    held = []
    if flag.rule == "gift_laundering" and action != "dismiss":
        held = hold_cashouts(session, flag.evidence["creator_id"], ctx, key, flag_id=flag_id)
    flag.status = rules.FLAG_STATUS[action]
    flag.decided_by, flag.decided_at, flag.reason = ctx.actor, datetime.now(UTC), ctx.reason
    session.add(flag)
    session.flush()
    audit.append(session, ctx, action=f"review.{action}", target=flag_id, account_id=flag.account_id, key=key,
                 before=before, after={"status": flag.status, "rule": flag.rule, "purchase_id": flag.purchase_id})
    return {"flag_id": flag_id, "action": action, "flag_status": flag.status, "account_status": account_change,
            "held_cashouts": held}


def hold_cashouts(session: Session, creator_id: str, ctx: ActionContext, key: str, *,
                  flag_id: str | None = None) -> list[str]:
    """Hold every cashout the creator has requested and not yet been paid (audited, one record each); the flag
    that caused the hold is kept on the cashout, so only a lead lifts it (services/cashouts.py, migration 0010)."""
    stmt = (select(Cashout).where(col(Cashout.creator_id) == creator_id, col(Cashout.status) == "requested")
            .order_by(col(Cashout.at)).with_for_update())
    held = []
    for cashout in session.execute(stmt).scalars():
        cashout.status, cashout.hold_flag_id = "held", flag_id
        cashout.status_reason, cashout.status_by, cashout.status_at = ctx.reason, ctx.actor, datetime.now(UTC)
        session.add(cashout)
        session.flush()
        audit.append(session, ctx, action="cashout.hold", target=cashout.cashout_id, account_id=creator_id, key=key,
                     before={"status": "requested"}, after={"status": "held"})
        held.append(cashout.cashout_id)
    return held

