"""Refunds: the decision (rules in `domain.refunds`: window, cause, amount) and what it would move (the clawback
preview), and the one clawback path every refund takes, ours or the store's own (reconcile's `unapplied_refund`
fix), run once in the caller's transaction; and, when the store later refunds more of a purchase already taken
back, the clawback of that part (`claw_back_more`).

Carrying a decision out at the store, exactly once and safe across a crash, is `services.refund_protocol`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from supportdesk.config import DEFAULT_POLICY, Settings
from supportdesk.db.models import (
    Account,
    GiftEvent,
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
from supportdesk.errors import Conflict, InvalidInput, NotFound
from supportdesk.services import audit
from supportdesk.services.accounts import limit_if_in_debt
from supportdesk.services.audit import ActionContext, check_ticket
from supportdesk.services.ledger import ledger_balance, lock_account, new_id, post_entries
from supportdesk.services.refund_words import STORE_WAY, clawback_lines, question  # noqa: F401 (re-exported)

CAUSES = rules.CAUSES


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


def refund_row(session: Session, purchase_id: str) -> Refund | None:
    """The purchase's refund row (one per purchase), if any."""
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
        dates.append(aware(when))
    return tuple(dates)


def aware(when: datetime) -> datetime:
    """Naive times are UTC (SQLite)."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _complaint(session: Session, purchase: Purchase, ticket_id: str | None) -> datetime | None:
    """When the worked ticket was opened, if it is about this purchase's account: the window ends there."""
    ticket = session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None or ticket.account_id != purchase.account_id:
        return None
    return aware(ticket.created_at)


def facts(session: Session, purchase: Purchase, now: datetime, cause: str = "remorse",
          ticket_id: str | None = None) -> rules.RefundFacts:
    sr = _store_record(session, purchase)
    complaint = _complaint(session, purchase, ticket_id)
    row = refund_row(session, purchase.purchase_id)
    dispute = ((sr.raw or {}).get("dispute") or {}).get("status") if sr is not None and sr.store == "web" else None
    return rules.RefundFacts(
        purchase=rules.PurchaseFacts(purchase.purchase_id, purchase.store, purchase.coins, purchase.price_minor,
                                     purchase.currency, aware(purchase.purchased_at), purchase.status),
        spending=spending(session, purchase), now=now, refund_dates=_refund_dates(session, purchase),
        store=rules.StoreFacts(sr.state if sr else None, aware(sr.refunded_at) if sr and sr.refunded_at else None,
                               dispute),
        pending=rules.PendingRefund(row.status, row.amount_minor, row.coins_clawed, aware(row.created_at),
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


def check_cause(cause: str) -> str:
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
    f = facts(session, purchase, now, check_cause(cause), ticket_id)
    d = decision_for(f, policy, purchase, override, amount_minor)
    return {"decision": d.to_json(), "purchase": purchase_json(session, purchase),
            "clawback": clawback_preview(session, purchase, f, d)}


def decision_for(f: rules.RefundFacts, policy: rules.Policy, purchase: Purchase, override: bool,
                 amount_minor: int | None) -> rules.Decision:
    """The decision on these facts; `override` must set a denial aside, `amount_minor` takes a part of it."""
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


def clawed_select(purchase_id: Any, account_id: Any) -> Any:
    """The coins a purchase's clawbacks have taken from its account so far, as one SELECT: of the given ids, or
    correlated when given the columns of an outer query (reconcile's `unapplied_refund`)."""
    return select(func.coalesce(-func.sum(col(LedgerEntry.amount)), 0)).where(
        col(LedgerEntry.ref) == purchase_id, col(LedgerEntry.kind) == "refund_clawback",
        col(LedgerEntry.asset) == "coin", col(LedgerEntry.account_id) == account_id)


def clawed_coins(session: Session, purchase: Purchase) -> int:
    return int(session.execute(clawed_select(purchase.purchase_id, purchase.account_id)).scalar_one())


def claw_back_more(session: Session, purchase_id: str, ctx: ActionContext, *, key: str, coins: int, clawed: int,
                   amount_minor: int | None) -> dict[str, Any]:
    """A store refund that grew after its clawback (the store refunded another part of a purchase already taken
    back): claw back `coins` more, exactly as confirmed, in the caller's transaction. Only if the clawbacks so far
    are still the `clawed` coins the finding saw; coins only (the creators' diamonds stay as the first clawback
    left them); a shortfall stays as a debt and limits the account. The refund row takes the store's amount."""
    purchase = session.get(Purchase, purchase_id)
    if purchase is None:
        raise NotFound(f"no purchase {purchase_id!r}")
    if coins <= 0:
        raise InvalidInput(f"nothing more to claw back for {purchase_id} ({coins} coins)")
    lock_account(session, purchase.account_id)
    session.refresh(purchase)
    if purchase.status not in rules.TAKEN_BACK:
        raise Conflict(f"purchase {purchase_id} is {purchase.status}, not taken back; nothing posted")
    now_clawed = clawed_coins(session, purchase)
    if now_clawed != clawed:
        raise Conflict(f"{purchase_id}'s clawbacks took {now_clawed:,} coins, not the {clawed:,} this was found "
                       "with; reconcile again; nothing posted")
    row = refund_row(session, purchase_id)
    before = None if row is None else {"amount_minor": row.amount_minor, "coins_clawed": row.coins_clawed}
    if row is not None:
        row.amount_minor = row.amount_minor if amount_minor is None else max(row.amount_minor, amount_minor)
        row.coins_clawed += coins
        session.add(row)
        session.flush()
    entries = post_entries(session, [Posting(purchase.account_id, "coin", -coins, "refund_clawback", ref=purchase_id)],
                           ctx, key=key, action="refund.clawback.grown")
    audit.append(session, ctx, action="refund.grown", target=purchase_id, account_id=purchase.account_id, key=key,
                 before={"coins_clawed": clawed, "refund": before},
                 after={"coins_clawed": clawed + coins, "store_refunded_minor": amount_minor,
                        "refund_id": None if row is None else row.refund_id})
    return {"purchase_id": purchase_id, "status": purchase.status, "refund_id": None if row is None else row.refund_id,
            "coins_clawed": coins, "diamonds_clawed": 0, "creators": [], "diamonds_for_lead": [], "entries": entries,
            "limited": limit_if_in_debt(session, purchase.account_id, ctx, key=key)}


def _finish_refund_row(session: Session, purchase: Purchase, *, initiated_by: str, coins: int, diamonds: int,
                       amount_minor: int, store_refund_id: str | None, reason: str | None) -> Refund:
    now = datetime.now(UTC)
    row = refund_row(session, purchase.purchase_id)
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
