"""Carrying a refund decision out at the store exactly once, safe across a crash (the decision itself, and the
clawback it moves, are `services.refunds`).

`apply` survives a crash between the store call and our write:
  1. own transaction: a `refunds` row `requested`; its `refund_id` is the idempotency key the store sees;
  2. the store call (web: POST /v1/refunds with Idempotency-Key = refund_id; Google: orders.refund, revoke);
  3. one transaction: the refund row `succeeded`, the purchase's status, the clawback, the audit records.
A retry finds the `requested` row and repeats 2 with the same key (the processor replays its first answer;
Google answers "already refunded", which we check on the order) and then does 3. Apple refunds only itself: for
its purchases we answer its consumption request, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from supportdesk.config import Settings
from supportdesk.db.models import IdempotencyKey, LedgerEntry, Purchase, Refund
from supportdesk.domain import refunds as rules
from supportdesk.errors import ConfigError, Conflict, InvalidInput
from supportdesk.services import audit, refunds
from supportdesk.services.audit import ActionContext, check_ticket, plain
from supportdesk.services.ledger import lock_account, new_id
from supportdesk.services.once import check_context, request_hash, run_once
from supportdesk.services.refunds import CAUSES, RefundDenied
from supportdesk.services.roles import require_lead
from supportdesk.stores.errors import store_name

WEB_REASON = {"duplicate": "duplicate", "fraud": "fraudulent"}  # else requested_by_customer
NEW_STATUS = {"apple": "revoked"}  # else refunded
APPLE_HISTORY_DAYS = 180
APPLE_SANDBOX_HISTORY_DAYS = 30  # Sandbox keeps 30 days of notification history


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
    policy = refunds.policy_of(settings)
    refunds.check_cause(cause)
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
    purchase = refunds.resolve_purchase(session, target)
    key = key or default_key(purchase.purchase_id)
    cause = ask.cause
    request = ask.request(purchase.purchase_id)
    first = replay(session, purchase.purchase_id, key, ask=ask)
    if first is not None:
        return first
    lock_account(session, purchase.account_id)
    f = refunds.facts(session, purchase, now, cause, ctx.ticket_id)
    d = refunds.decision_for(f, policy, purchase, ask.override, ask.amount_minor)
    view: dict[str, Any] = {"decision": d.to_json(), "purchase": refunds.purchase_json(session, purchase), "key": key,
            "request": request, "clawback": refunds.clawback_preview(session, purchase, f, d)}
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
    row = refunds.refund_row(session, purchase.purchase_id)
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
    row = refunds.refund_row(session, purchase.purchase_id)
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
    when_text = refunds.aware(at).strftime("%Y-%m-%d %H:%M UTC") if at else "earlier"
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
    row = refunds.refund_row(session, purchase["purchase_id"])
    base = {"refund_id": step["refund_id"], "store": purchase["store"], **done, "amount_minor": step["amount_minor"],
            "currency": purchase["currency"], "idempotency_key": step["key"],
            "overridden": step["decision"].get("overridden"), "cause": step["cause"]}
    if row is not None and row.status == "succeeded":
        return {**base, "status": "succeeded", "coins_clawed": row.coins_clawed,
                "diamonds_clawed": row.diamonds_clawed, "entries": [], "limited": False, "replayed": True,
                **_finished_before(session, row)}

    def perform() -> dict[str, Any]:
        result = refunds.claw_back(session, purchase["purchase_id"], ctx, key=step["key"],
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
        start = max(refunds.aware(purchase["purchased_at"]), now - timedelta(days=days))
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
