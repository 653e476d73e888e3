"""Refunds: decide (rules in `domain.refunds`), carry out through the store exactly once, and claw back.

`apply` survives a crash between the store call and our write:
  1. own transaction: a `refunds` row `requested`; its `refund_id` is the idempotency key the store sees;
  2. the store call (web: POST /v1/refunds with Idempotency-Key = refund_id; Google: orders.refund, revoke);
  3. one transaction: the refund row `succeeded`, the purchase's status, the clawback, the audit records.
A retry finds the `requested` row and repeats 2 with the same key (the processor replays its first answer;
Google answers "already refunded", which we check on the order) and then does 3. `claw_back` is the one
path every refund takes, ours or the store's own (reconcile's `unapplied_refund` fix), and it runs once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from supportdesk.config import DEFAULT_POLICY, Settings
from supportdesk.db.models import (
    Account,
    GiftEvent,
    IdempotencyKey,
    LedgerEntry,
    Purchase,
    Refund,
    StoreRecord,
    Ticket,
)
from supportdesk.domain import refunds as rules
from supportdesk.domain.ledger import Posting
from supportdesk.domain.money import format_money
from supportdesk.domain.query import parse_query
from supportdesk.errors import ConfigError, Conflict, InvalidInput, NotFound
from supportdesk.services import audit
from supportdesk.services.accounts import limit_if_in_debt
from supportdesk.services.audit import ActionContext, check_ticket, plain
from supportdesk.services.ledger import ledger_balance, lock_account, new_id, post_entries
from supportdesk.services.once import check_context, request_hash, run_once
from supportdesk.services.refund_words import STORE_WAY, clawback_lines, question  # noqa: F401 (re-exported)
from supportdesk.services.roles import require_lead
from supportdesk.stores.errors import store_name

CAUSES = rules.CAUSES
WEB_REASON = {"duplicate": "duplicate", "fraud": "fraudulent"}  # else requested_by_customer
NEW_STATUS = {"apple": "revoked"}  # else refunded
APPLE_HISTORY_DAYS = 180
APPLE_SANDBOX_HISTORY_DAYS = 30  # Sandbox keeps 30 days of notification history


class RefundDenied(Conflict):
    code = "refund_denied"


def policy_of(settings: Settings | None) -> rules.Policy:
    raw = settings.policy.get("refund") if settings is not None else None
    return rules.Policy.from_config(raw or DEFAULT_POLICY["refund"])


# -- finding the purchase -----------------------------------------------------------------------------------------
def resolve_purchase(session: Session, target: str) -> Purchase:
    """A purchase id, or a store transaction / order id; anything else is an input error."""
    q = parse_query(target)
    purchase = session.get(Purchase, q.text) if "purchase_id" in q.keys else None
    if purchase is None and "store_id" in q.keys:
        purchase = session.execute(select(Purchase).where(col(Purchase.store_transaction_id) == q.text)).scalars().first()
        if purchase is None:
            order = session.execute(select(StoreRecord).where(col(StoreRecord.order_id) == q.text)).scalars().first()
            if order is not None:
                purchase = session.execute(select(Purchase).where(
                    col(Purchase.store) == order.store,
                    col(Purchase.store_transaction_id) == order.store_transaction_id)).scalars().first()
    if purchase is None and q.kind in ("handle", "email", "account_id", "ticket_id"):
        raise InvalidInput(f"{q.text!r} looks like a {q.kind.replace('_', ' ')}: a refund needs a purchase id "
                           "(pur_...) or the store's transaction or order id")
    if purchase is None:
        raise NotFound(f"no purchase {q.text!r} (searched as purchase id and store transaction/order id)")
    return purchase


# -- facts ----------------------------------------------------------------------------------------------------------
def spending(session: Session, purchase: Purchase) -> rules.Spending:
    rows = session.execute(select(col(LedgerEntry.amount), col(LedgerEntry.kind), col(LedgerEntry.ref)).where(
        col(LedgerEntry.account_id) == purchase.account_id, col(LedgerEntry.asset) == "coin").order_by(
        col(LedgerEntry.seq)))
    return rules.attribute_spending([rules.CoinMove(int(a), k, r) for a, k, r in rows], purchase.purchase_id)


def _store_record(session: Session, purchase: Purchase) -> StoreRecord | None:
    return session.execute(select(StoreRecord).where(
        col(StoreRecord.store) == purchase.store,
        col(StoreRecord.store_transaction_id) == purchase.store_transaction_id)).scalars().first()


def _refund_row(session: Session, purchase_id: str) -> Refund | None:
    return session.execute(select(Refund).where(col(Refund.purchase_id) == purchase_id)).scalars().first()


def _refund_dates(session: Session, purchase: Purchase) -> tuple[datetime, ...]:
    """When each other purchase of the account was refunded, revoked or charged back (the store's time first)."""
    rows = session.execute(
        select(col(Purchase.purchase_id), col(Purchase.purchased_at), col(StoreRecord.refunded_at),
               col(Refund.completed_at), col(Refund.created_at))
        .outerjoin(StoreRecord, (col(StoreRecord.store) == Purchase.store)
                   & (col(StoreRecord.store_transaction_id) == Purchase.store_transaction_id))
        .outerjoin(Refund, col(Refund.purchase_id) == Purchase.purchase_id)
        .where(col(Purchase.account_id) == purchase.account_id, col(Purchase.purchase_id) != purchase.purchase_id,
               col(Purchase.status).in_(rules.TAKEN_BACK)))
    dates = []
    for pid, bought, store_at, done_at, asked_at in rows:
        when = store_at or done_at or asked_at or session.execute(
            select(func.max(col(LedgerEntry.at))).where(col(LedgerEntry.ref) == pid,
                                                        col(LedgerEntry.kind) == "refund_clawback")).scalar() or bought
        dates.append(_aware(when))
    return tuple(dates)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _complaint(session: Session, purchase: Purchase, ticket_id: str | None) -> datetime | None:
    """When the worked ticket was opened, if it is about this purchase's account: the window ends there."""
    ticket = session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None or ticket.account_id != purchase.account_id:
        return None
    return _aware(ticket.created_at)


def facts(session: Session, purchase: Purchase, now: datetime, cause: str = "remorse",
          ticket_id: str | None = None) -> rules.RefundFacts:
    sr = _store_record(session, purchase)
    complaint = _complaint(session, purchase, ticket_id)
    row = _refund_row(session, purchase.purchase_id)
    dispute = ((sr.raw or {}).get("dispute") or {}).get("status") if sr is not None and sr.store == "web" else None
    return rules.RefundFacts(
        purchase=rules.PurchaseFacts(purchase.purchase_id, purchase.store, purchase.coins, purchase.price_minor,
                                     purchase.currency, _aware(purchase.purchased_at), purchase.status),
        spending=spending(session, purchase), now=now, refund_dates=_refund_dates(session, purchase),
        store=rules.StoreFacts(sr.state if sr else None, _aware(sr.refunded_at) if sr and sr.refunded_at else None,
                               dispute),
        pending=rules.PendingRefund(row.status, row.amount_minor, row.coins_clawed, _aware(row.created_at),
                                    row.reason if row.reason in CAUSES else "remorse") if row else None,
        cause=cause, complaint_at=complaint, ticket_id=ticket_id if complaint else None,
    )


# -- the clawback preview -------------------------------------------------------------------------------------------
def gifts_paid(session: Session, s: rules.Spending) -> list[dict[str, Any]]:
    """The gifts this bundle's coins paid for: to whom, how many of the bundle's coins, the diamonds earned."""
    coins_by_event = {c.ref: c.coins for c in s.gifted if c.ref}
    if not coins_by_event:
        return []
    events = session.execute(select(GiftEvent).where(col(GiftEvent.event_id).in_(list(coins_by_event)))).scalars()
    out = []
    for e in sorted(events, key=lambda e: (e.at, e.event_id)):
        coins = coins_by_event[e.event_id]
        out.append({"event_id": e.event_id, "creator_id": e.creator_id, "gift_id": e.gift_id, "at": e.at,
                    "coins": coins, "diamonds": rules.diamonds_from(e.coins, e.diamonds, coins)})
    return out


def creators_paid(session: Session, gifts: list[dict[str, Any]], claws: bool) -> list[dict[str, Any]]:
    """Per creator: diamonds earned from the bundle, how many are no longer there (cashed out), what we take.

    Rule: a creator's diamonds from this bundle are "not cashed out" up to the creator's current diamond
    balance; the part the balance no longer covers left through cashouts."""
    earned: dict[str, int] = {}
    for g in gifts:
        earned[g["creator_id"]] = earned.get(g["creator_id"], 0) + g["diamonds"]
    out = []
    for creator_id, diamonds in sorted(earned.items()):
        still_there = min(diamonds, max(0, ledger_balance(session, creator_id, "diamond")))
        out.append({"creator_id": creator_id, "diamonds_credited": diamonds,
                    "cashed_out": diamonds - still_there, "not_cashed_out": still_there,
                    "clawback": still_there if claws else 0})
    return out


def clawback_preview(session: Session, purchase: Purchase, f: rules.RefundFacts, d: rules.Decision
                     ) -> dict[str, Any]:
    s = f.spending
    balance = ledger_balance(session, purchase.account_id, "coin")
    after = balance - d.coins_clawback
    account = session.get(Account, purchase.account_id)
    gifts = gifts_paid(session, s)
    creators = creators_paid(session, gifts, d.claws_back_diamonds)
    handles = _handles(session, [purchase.account_id, *(c["creator_id"] for c in creators)])
    for row in (*gifts, *creators):
        row["handle"] = handles.get(row["creator_id"])
    return {
        "coins": d.coins_clawback, "credited": s.credited, "unspent": s.unspent, "spent": s.spent,
        "balance_before": balance, "balance_after": after, "debt": max(0, -after),
        "limits_account": after < 0 and account is not None and account.status == "active",
        "gifted": gifts, "other_spending": [
            {"kind": c.kind, "ref": c.ref, "coins": c.coins} for c in s.consumers if c.kind != "gift_sent"],
        "creators": creators, "diamonds": sum(c["clawback"] for c in creators),
        "claws_back_diamonds": d.claws_back_diamonds,
    }


def _handles(session: Session, ids: list[str]) -> dict[str, str]:
    rows = session.execute(select(col(Account.account_id), col(Account.handle)).where(col(Account.account_id).in_(ids)))
    return {account_id: handle for account_id, handle in rows}


def purchase_json(session: Session, purchase: Purchase) -> dict[str, Any]:
    account = session.get(Account, purchase.account_id)
    return {**purchase.model_dump(), "handle": account.handle if account else None,
            "price": format_money(purchase.price_minor, purchase.currency)}


def _check_cause(cause: str) -> str:
    if cause not in CAUSES:
        raise InvalidInput(f"the refund cause must be one of {', '.join(CAUSES)}, not {cause!r}")
    return cause


def decide(session: Session, target: str, now: datetime, policy: rules.Policy | None = None,
           cause: str = "remorse", *, ticket_id: str | None = None, override: bool = False,
           amount_minor: int | None = None) -> dict[str, Any]:
    """`decision`, `purchase`, `clawback` (formats.md section 2) for a purchase id or store transaction id.

    `ticket_id`: the worked ticket (the window is counted to its creation); `override`: what a lead's override
    would do; `amount_minor`: a part of the refund (see `domain.refunds.partial`)."""
    policy = policy or policy_of(None)
    check_ticket(session, ticket_id)
    purchase = resolve_purchase(session, target)
    f = facts(session, purchase, now, _check_cause(cause), ticket_id)
    d = _decision(f, policy, purchase, override, amount_minor)
    return {"decision": d.to_json(), "purchase": purchase_json(session, purchase),
            "clawback": clawback_preview(session, purchase, f, d)}


def _decision(f: rules.RefundFacts, policy: rules.Policy, purchase: Purchase, override: bool,
              amount_minor: int | None) -> rules.Decision:
    d = rules.decide(f, policy, override)
    if override and d.overridden is None and d.rule != "any.refund_in_progress":
        if d.outcome != rules.REFUND:
            raise RefundDenied(f"{d.explanation} This is not a policy a lead can override ({d.rule}).",
                               details={"decision": d.to_json()})
        raise InvalidInput(f"the policy does not refuse this refund ({d.rule}): there is nothing to override; "
                           "apply it without --override")
    if amount_minor is not None:
        d = rules.partial(d, amount_minor, purchase.store)
    return d


# -- the one clawback path ----------------------------------------------------------------------------------------
def claw_back(session: Session, purchase_id: str, ctx: ActionContext, *, key: str, new_status: str, coins: int,
              cause: str, initiated_by: str, amount_minor: int | None = None, store_refund_id: str | None = None,
              reason: str | None = None, policy: rules.Policy | None = None) -> dict[str, Any]:
    """Mark the purchase taken back, claw back `coins` (a shortfall stays as a debt and limits the account) and,
    where the policy says so for `cause`, the creators' diamonds not yet cashed out; in the caller's transaction.

    The refund row (one per purchase) ends `succeeded`: ours is completed, a store-initiated one is created."""
    policy = policy or policy_of(None)
    purchase = session.get(Purchase, purchase_id)
    if purchase is None:
        raise NotFound(f"no purchase {purchase_id!r}")
    gifts = gifts_paid(session, spending(session, purchase))
    creator_ids = sorted({g["creator_id"] for g in gifts} - {purchase.account_id})
    for account_id in sorted([purchase.account_id, *creator_ids]):  # one lock order: no deadlock between fixes
        lock_account(session, account_id)
    session.refresh(purchase)
    if purchase.status != "completed":
        raise Conflict(f"purchase {purchase_id} is {purchase.status}, no longer completed; nothing posted")
    creators = creators_paid(session, gifts, policy.claws_back_diamonds(cause))  # balances read under the locks
    for_lead = [c for c in creators if c["clawback"] and ctx.role != "lead"]
    if for_lead:  # roles.py: only a lead claws diamonds back; the coins still are, now
        audit.append(session, ctx, action="refund.diamonds_for_lead", target=purchase_id,
                     account_id=purchase.account_id, key=key, after={"creators": for_lead, "cause": cause})
        creators = [{**c, "clawback": 0} for c in creators]
    diamonds = sum(c["clawback"] for c in creators)
    row = _finish_refund_row(session, purchase, initiated_by=initiated_by, coins=coins, diamonds=diamonds,
                             amount_minor=purchase.price_minor if amount_minor is None else amount_minor,
                             store_refund_id=store_refund_id, reason=reason)
    before = purchase.status
    purchase.status = new_status
    session.add(purchase)
    session.flush()
    audit.append(session, ctx, action="purchase.status", target=purchase_id, account_id=purchase.account_id,
                 key=key, before={"status": before}, after={"status": new_status, "refund_id": row.refund_id})
    postings = [Posting(purchase.account_id, "coin", -coins, "refund_clawback", ref=purchase_id)] if coins else []
    postings += [Posting(c["creator_id"], "diamond", -c["clawback"], "refund_clawback", ref=purchase_id)
                 for c in creators if c["clawback"]]
    entries = post_entries(session, postings, ctx, key=key, action=f"refund.clawback.{initiated_by}") \
        if postings else []
    return {"purchase_id": purchase_id, "status": new_status, "refund_id": row.refund_id, "coins_clawed": coins,
            "diamonds_clawed": diamonds, "creators": creators, "diamonds_for_lead": for_lead, "entries": entries,
            "limited": limit_if_in_debt(session, purchase.account_id, ctx, key=key)}


def _finish_refund_row(session: Session, purchase: Purchase, *, initiated_by: str, coins: int, diamonds: int,
                       amount_minor: int, store_refund_id: str | None, reason: str | None) -> Refund:
    now = datetime.now(UTC)
    row = _refund_row(session, purchase.purchase_id)
    if row is None:
        row = Refund(refund_id=new_id("rf"), purchase_id=purchase.purchase_id, store=purchase.store,
                     initiated_by=initiated_by, amount_minor=amount_minor, currency=purchase.currency,
                     created_at=now, status="requested", reason=reason)
    elif row.status == "succeeded":
        raise Conflict(f"purchase {purchase.purchase_id} was already refunded ({row.refund_id}); nothing posted")
    row.status, row.completed_at = "succeeded", now
    row.coins_clawed, row.diamonds_clawed = coins, diamonds
    row.amount_minor = amount_minor
    row.store_refund_id = store_refund_id or row.store_refund_id
    session.add(row)
    session.flush()
    return row


# -- carrying a decision out ---------------------------------------------------------------------------------------
def apply(engine: Any, target: str, ctx: ActionContext, settings: Settings | None = None,
          clients: dict[str, Any] | None = None, *, key: str | None = None, now: datetime | None = None,
          cause: str = "remorse", customer_consented: bool = False, override: bool = False,
          amount_minor: int | None = None) -> dict[str, Any]:
    """Carry out the decision for `target` once per idempotency key (default `refund:<purchase id>`).

    The window is counted to the creation of `ctx.ticket_id` (when it is about this account). `override`: a
    lead sets aside a window or refund-limit denial, audited as `refund.override` with the reason; `amount_minor`:
    a part of the refundable amount, coins clawed back in proportion.

    Returns `decision` and `applied` (with `replayed`). Denied: RefundDenied. Store failures: the store's
    typed error, with the refund row left `requested` (retry finishes it) or `failed` (the store refused)."""
    from supportdesk.db.engine import write_session

    check_context(ctx)
    if override:
        require_lead(ctx, "overriding the refund policy")
    now = now or datetime.now(UTC)
    policy = policy_of(settings)
    _check_cause(cause)
    ready = set(clients or {}) | {s for s, cfg in (settings.stores if settings else {}).items() if cfg}
    ask = Ask(cause, override, amount_minor)
    try:
        with write_session(engine) as session:
            step = _request(session, target, ctx, key, now, policy, ask, ready)
    except IntegrityError:
        raise Conflict(f"another agent is refunding {target} right now; run the command again to see the "
                       "result") from None
    if "replayed" in step:
        return step
    if step["decision"]["outcome"] == rules.STORE_DECIDES:
        return _answer_apple(engine, step, ctx, settings, clients, now, customer_consented)
    done = _call_store(engine, step, settings, clients)
    with write_session(engine) as session:
        applied = _finish(session, step, done, ctx, policy)
    return {"decision": step["decision"], "purchase": step["purchase"], "applied": applied,
            "replayed": applied["replayed"]}


@dataclass(frozen=True)
class Ask:
    """What the agent asked besides the purchase: it is part of the idempotent request."""

    cause: str = "remorse"
    override: bool = False
    amount_minor: int | None = None

    def request(self, purchase_id: str) -> dict[str, Any]:
        # Only what was asked: a plain refund hashes as it always did, so its old keys still replay.
        out: dict[str, Any] = {"purchase": purchase_id, "cause": self.cause}
        if self.override:
            out["override"] = True
        if self.amount_minor is not None:
            out["amount_minor"] = self.amount_minor
        return out


def _request(session: Session, target: str, ctx: ActionContext, key: str | None, now: datetime,
             policy: rules.Policy, ask: Ask, ready: set[str]) -> dict[str, Any]:
    """Step 1: replay a finished key, or decide and record the `requested` row (its id: the store's key)."""
    check_ticket(session, ctx.ticket_id)  # before the store is asked anything
    purchase = resolve_purchase(session, target)
    key = key or default_key(purchase.purchase_id)
    cause = ask.cause
    request = ask.request(purchase.purchase_id)
    first = replay(session, purchase.purchase_id, key, ask=ask)
    if first is not None:
        return first
    lock_account(session, purchase.account_id)
    f = facts(session, purchase, now, cause, ctx.ticket_id)
    d = _decision(f, policy, purchase, ask.override, ask.amount_minor)
    view: dict[str, Any] = {"decision": d.to_json(), "purchase": purchase_json(session, purchase), "key": key,
            "request": request, "clawback": clawback_preview(session, purchase, f, d)}
    if d.outcome == rules.DENY:
        raise RefundDenied(d.explanation, details={"decision": d.to_json()})
    if purchase.store not in ready:
        raise ConfigError(f"no [stores.{purchase.store}] in the config, so {store_name(purchase.store)} cannot be "
                          "called; nothing was recorded")
    if d.outcome == rules.STORE_DECIDES:
        return view
    if view["clawback"]["diamonds"]:
        require_lead(ctx, f"clawing back {view['clawback']['diamonds']:,} diamonds from the creators this "
                          "bundle's coins paid")
    row = _refund_row(session, purchase.purchase_id)
    if row is None or row.status == "failed":
        refused = rules.decide(f, policy) if d.overridden else None
        row = _record_request(session, purchase, row, d, cause, ctx, refused)
    return {**view, "refund_id": row.refund_id, "amount_minor": row.amount_minor, "coins": row.coins_clawed,
            "cause": row.reason if row.reason in CAUSES else "remorse"}


def default_key(purchase_id: str) -> str:
    return f"refund:{purchase_id}"


def replay(session: Session, purchase_id: str, key: str | None = None, cause: str = "remorse", *,
           ask: Ask | None = None) -> dict[str, Any] | None:
    """The first answer of a refund already applied under `key` (marked replayed), or None."""
    key = key or default_key(purchase_id)
    first = session.get(IdempotencyKey, key)
    if first is None:
        return None
    ask = ask or Ask(cause)
    if first.action != "refund.apply" or first.request_hash != request_hash(ask.request(purchase_id)):
        raise Conflict(f"idempotency key {key!r} was already used for a different request ({first.action}); "
                       "use a new key or repeat the original request")
    return {**first.result, "replayed": True, "applied": {**first.result.get("applied", {}), "replayed": True}}


def _record_request(session: Session, purchase: Purchase, failed: Refund | None, d: rules.Decision, cause: str,
                    ctx: ActionContext, refused: rules.Decision | None = None) -> Refund:
    """A new attempt: a fresh refund id, so a store that refused the last key sees a new request."""
    refund_id = new_id("rf")
    values: dict[str, Any] = {"refund_id": refund_id, "status": "requested", "initiated_by": "agent", "amount_minor": d.refund_minor,
              "coins_clawed": d.coins_clawback, "diamonds_clawed": 0, "reason": cause, "store_refund_id": None,
              "created_at": datetime.now(UTC), "completed_at": None}
    if failed is not None:
        session.execute(update(Refund).where(col(Refund.purchase_id) == purchase.purchase_id).values(values))
    else:
        session.add(Refund(purchase_id=purchase.purchase_id, store=purchase.store, currency=purchase.currency,
                           **values))
    session.flush()
    audit.append(session, ctx, action="refund.request", target=refund_id, account_id=purchase.account_id,
                 key=refund_id, after={"purchase_id": purchase.purchase_id, "amount_minor": d.refund_minor,
                                       "currency": purchase.currency, "coins": d.coins_clawback, "rule": d.rule,
                                       "retry_of_failed": failed is not None, "cause": cause,
                                       "window": d.window, "override": d.overridden is not None,
                                       "partial_of": d.partial_of})
    if refused is not None:  # a lead set the policy aside: its own record (PostgreSQL lets only leads write it)
        audit.append(session, ctx, action="refund.override", target=refund_id, account_id=purchase.account_id,
                     key=refund_id, before={"outcome": refused.outcome, "rule": refused.rule,
                                            "explanation": refused.explanation, "window": refused.window},
                     after={"purchase_id": purchase.purchase_id, "overridden": d.overridden, "rule": d.rule,
                            "amount_minor": d.refund_minor, "currency": purchase.currency,
                            "coins": d.coins_clawback})
    session.expire_all()
    row = _refund_row(session, purchase.purchase_id)
    assert row is not None
    return row


def _client(store: str, settings: Settings | None, clients: dict[str, Any] | None) -> tuple[Any, bool]:
    if clients and store in clients:
        return clients[store], False
    from supportdesk.stores.sync import make_client

    return make_client(store, settings or Settings()), True


def _call_store(engine: Any, step: dict[str, Any], settings: Settings | None, clients: dict[str, Any] | None
                ) -> dict[str, Any]:
    """Step 2. Returns what the store did; on failure marks the row (requested or failed) and raises."""
    from supportdesk.stores.errors import StoreNotFound, StoreRejected

    purchase = step["purchase"]
    client, own = _client(purchase["store"], settings, clients)
    try:
        if purchase["store"] == "web":
            return _refund_web(client, step)
        return _refund_google(client, step)
    except (StoreRejected, StoreNotFound) as exc:
        _mark_failed(engine, step, exc.message)
        raise type(exc)(exc.store, f"{exc.message}. The refund {step['refund_id']} is recorded as failed; "
                        "nothing was taken back.", retries=exc.retries, status=exc.status,
                        store_code=exc.store_code) from exc
    except Exception as exc:
        from supportdesk.stores.errors import StoreError

        if not isinstance(exc, StoreError):
            raise
        raise type(exc)(exc.store, f"{exc.message}. Nothing was taken back; the refund {step['refund_id']} stays "
                        "requested: applying it again finishes it (it refunds at most once).", retries=exc.retries,
                        status=exc.status, store_code=exc.store_code) from exc
    finally:
        if own:
            client.close()


def refund_charge_at_store(store: str, txn: str, amount_minor: int, refund_id: str, settings: Settings | None,
                           clients: dict[str, Any] | None = None) -> dict[str, Any]:
    """Refund a whole charge at the web processor or Google Play (key `refund_id`: a retry refunds once);
    raises the store's typed error. Apple refunds only through Apple."""
    if store not in ("web", "google"):
        raise InvalidInput(f"only {store_name(store)} can refund its purchases; tell the customer how to ask it")
    step = {"purchase": {"store": store, "store_transaction_id": txn}, "refund_id": refund_id,
            "amount_minor": amount_minor, "cause": "other"}
    client, own = _client(store, settings, clients)
    try:
        return _refund_web(client, step) if store == "web" else _refund_google(client, step)
    finally:
        if own:
            client.close()


def record_store_refund(session: Session, purchase: Purchase, done: dict[str, Any], refund_id: str,
                        ctx: ActionContext) -> Refund:
    """A refund we made at the store that took nothing back (the charge was never credited), audited."""
    now = datetime.now(UTC)
    row = Refund(refund_id=refund_id, purchase_id=purchase.purchase_id, store=purchase.store,
                 store_refund_id=done.get("store_refund_id"), initiated_by="agent", amount_minor=purchase.price_minor,
                 currency=purchase.currency, coins_clawed=0, diamonds_clawed=0, status="succeeded", reason="other",
                 created_at=now, completed_at=now)
    session.add(row)
    session.flush()
    audit.append(session, ctx, action="refund.charge", target=refund_id, account_id=purchase.account_id,
                 key=refund_id, after={"purchase_id": purchase.purchase_id, "amount_minor": purchase.price_minor,
                                       "currency": purchase.currency, **done})
    return row


def _refund_web(client: Any, step: dict[str, Any]) -> dict[str, Any]:
    from supportdesk.stores.errors import StoreRejected

    charge = step["purchase"]["store_transaction_id"]
    # A retry may come after the processor pruned our idempotency key (kept at least 24 h): look for our own
    # refund (its metadata names our refund id) before asking for another, so a retry never refunds twice.
    mine = client.find_our_refund(charge, step["refund_id"])
    if mine is not None:
        return {"store_call": "create_refund", "store_refund_id": mine.get("id"), "store_status": mine.get("status")}
    try:
        refund = client.create_refund(charge, idempotency_key=step["refund_id"], amount=step["amount_minor"],
                                      reason=WEB_REASON.get(step["cause"], "requested_by_customer"))
    except StoreRejected as exc:
        if exc.store_code != "charge_already_refunded":
            raise
        # Refunded already (by the processor itself or an earlier attempt): finish ours, take back once.
        found = client.get_charge(charge)
        refunds = (found.get("refunds") or {}).get("data") or []
        return {"store_call": "create_refund", "store_refund_id": refunds[-1]["id"] if refunds else None,
                "store_status": "already_refunded"}
    if refund.get("status") in ("failed", "canceled"):
        raise StoreRejected("web", f"The web payment processor answered the refund of {charge} with status "
                                   f"{refund.get('status')}", store_code=refund.get("status"))
    return {"store_call": "create_refund", "store_refund_id": refund.get("id"), "store_status": refund.get("status")}


def _refund_google(client: Any, step: dict[str, Any]) -> dict[str, Any]:
    from supportdesk.stores.errors import StoreRejected

    order_id = step["purchase"]["store_transaction_id"]
    try:
        client.refund_order(order_id, revoke=True)
    except StoreRejected:
        order = client.get_order(order_id)
        if order.get("state") not in ("REFUNDED", "PARTIALLY_REFUNDED"):
            raise
        return {"store_call": "orders.refund", "store_refund_id": order_id, "store_status": "already_refunded"}
    return {"store_call": "orders.refund", "store_refund_id": order_id, "store_status": "refunded"}


def _mark_failed(engine: Any, step: dict[str, Any], message: str) -> None:
    from supportdesk.db.engine import write_session

    with write_session(engine) as session:
        session.execute(update(Refund).where(col(Refund.refund_id) == step["refund_id"],
                                             col(Refund.status) == "requested").values(status="failed"))


def _finished_before(session: Session, row: Refund) -> dict[str, Any]:
    """Who took this purchase's money back first, and when: the true reason nothing more is taken back."""
    first = session.execute(select(LedgerEntry).where(
        col(LedgerEntry.ref) == row.purchase_id, col(LedgerEntry.kind) == "refund_clawback").order_by(col(LedgerEntry.seq))
    ).scalars().first()
    who = first.actor if first else None
    at = (first.at if first else row.completed_at or row.created_at)
    when_text = _aware(at).strftime("%Y-%m-%d %H:%M UTC") if at else "earlier"
    if row.initiated_by == "store":
        what = f"the store's own refund was applied first (by {who or 'reconcile'}, {when_text})"
    else:
        what = f"another refund of this purchase, {row.refund_id}, was already applied (by {who or 'an agent'}, {when_text})"
    return {"note": f"nothing more was taken back: {what}", "first_refund": {
        "refund_id": row.refund_id, "initiated_by": row.initiated_by, "actor": who, "at": at,
        "idempotency_key": (first.idempotency_key or "").split("#")[0] if first else None}}


def _finish(session: Session, step: dict[str, Any], done: dict[str, Any], ctx: ActionContext,
            policy: rules.Policy) -> dict[str, Any]:
    """Step 3, once per key: the clawback; a refund someone else finished meanwhile (reconcile) is reported."""
    purchase = step["purchase"]
    row = _refund_row(session, purchase["purchase_id"])
    base = {"refund_id": step["refund_id"], "store": purchase["store"], **done, "amount_minor": step["amount_minor"],
            "currency": purchase["currency"], "idempotency_key": step["key"],
            "overridden": step["decision"].get("overridden"), "cause": step["cause"]}
    if row is not None and row.status == "succeeded":
        return {**base, "status": "succeeded", "coins_clawed": row.coins_clawed,
                "diamonds_clawed": row.diamonds_clawed, "entries": [], "limited": False, "replayed": True,
                **_finished_before(session, row)}

    def perform() -> dict[str, Any]:
        result = claw_back(session, purchase["purchase_id"], ctx, key=step["key"],
                           new_status=NEW_STATUS.get(purchase["store"], "refunded"), coins=step["coins"],
                           cause=step["cause"], initiated_by="agent", amount_minor=step["amount_minor"],
                           store_refund_id=done.get("store_refund_id"), reason=step["cause"], policy=policy)
        applied = {**base, "status": "succeeded", **{k: result[k] for k in (
            "coins_clawed", "diamonds_clawed", "creators", "diamonds_for_lead", "entries", "limited")}}
        return plain({"decision": step["decision"], "purchase": purchase, "applied": applied})

    result = run_once(session, key=step["key"], action="refund.apply", request=step["request"], ctx=ctx,
                      perform=perform)
    return {**result["applied"], "replayed": result["replayed"]}


# -- Apple: only Apple refunds; we answer its consumption request -------------------------------------------------
def _answer_apple(engine: Any, step: dict[str, Any], ctx: ActionContext, settings: Settings | None,
                  clients: dict[str, Any] | None, now: datetime, consented: bool) -> dict[str, Any]:
    from supportdesk.db.engine import write_session

    purchase, decision = step["purchase"], step["decision"]
    txn = purchase["store_transaction_id"]
    client, own = _client("apple", settings, clients)
    try:
        sandbox = (getattr(client, "config", None) or {}).get("environment") == "Sandbox"
        days = APPLE_SANDBOX_HISTORY_DAYS if sandbox else APPLE_HISTORY_DAYS
        start = max(_aware(purchase["purchased_at"]), now - timedelta(days=days))
        asked = [n for n in client.get_notification_history(start, now, "CONSUMPTION_REQUEST")
                 if (n.get("transaction") or {}).get("transactionId") == txn]
        answer = decision["consumption"]
        applied: dict[str, Any] = {"store": "apple", "store_call": None, "consumption_requested": bool(asked),
                                   "consumption": None, "idempotency_key": step["key"], "replayed": False}
        if asked:  # Apple wants the answer within 12 hours of its request: say by when, and whether we are late
            asked_ms = max(int(n.get("signedDate") or 0) for n in asked)
            due = datetime.fromtimestamp(asked_ms / 1000, UTC) + timedelta(hours=rules.CONSUMPTION_ANSWER_HOURS)
            applied.update(answer_by=due, late=now > due)
        if not asked:
            applied["note"] = "Apple has not asked us for consumption information: nothing to send"
            return {"decision": decision, "purchase": purchase, "applied": applied, "replayed": False}
        if not consented:
            raise InvalidInput("Apple asked us about this purchase; we may answer only with the customer's consent: "
                               "re-run with --customer-consented once the customer agreed")
        body = {"customer_consented": True, "delivery_status": answer["delivery_status"],
                "refund_preference": answer["refund_preference"],
                "consumption_percentage": answer["consumption_percentage"]}
        client.send_consumption_information(txn, **body)
    finally:
        if own:
            client.close()
    applied.update(store_call="send_consumption_information", consumption=body)

    def perform() -> dict[str, Any]:
        audit.append(session, ctx, action="refund.consumption_answer", target=purchase["purchase_id"],
                     account_id=purchase["account_id"], key=step["key"], after=body)
        return plain({"decision": decision, "purchase": purchase, "applied": applied})

    with write_session(engine) as session:
        result = run_once(session, key=step["key"], action="refund.apply", request=step["request"], ctx=ctx,
                          perform=perform)
    return {**result, "applied": {**result["applied"], "replayed": result["replayed"]}}
