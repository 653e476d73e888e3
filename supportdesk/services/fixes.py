"""The fix of each reconcile finding (formats.md section 2), posted once per finding-derived key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from supportdesk.db.models import LedgerEntry, Purchase
from supportdesk.domain.findings import Finding
from supportdesk.domain.ledger import Posting
from supportdesk.domain.money import format_money
from supportdesk.errors import Conflict, InvalidInput
from supportdesk.services import audit
from supportdesk.services.accounts import limit_if_in_debt
from supportdesk.services.audit import ActionContext
from supportdesk.services.ledger import ID_ALPHABET, lock_account, post_entries, resync_cached
from supportdesk.services.once import run_once
from supportdesk.services.roles import require_lead


def describe(f: Finding) -> str:
    """What the fix will do, in the words a confirmation shows."""
    who = f.detail.get("handle") or f.account_id
    if f.kind == "missing_purchase":
        return f"Create purchase for {f.store} {f.store_transaction_id} and credit {f.coins:,} coins to {who}"
    if f.kind == "uncredited_purchase":
        return f"Credit {f.coins:,} coins to {who} for purchase {f.purchase_id}"
    if f.kind == "duplicate_credit":
        return f"Reverse {len(f.detail['extra_entries'])} extra credit(s), {f.coins:,} coins, on {who} ({f.purchase_id})"
    if f.kind == "unapplied_refund" and "clawed" in f.detail:
        refunded = f.detail["store_record"].get("refunded_minor")
        now = format_money(refunded, f.detail["purchase"]["currency"]) if refunded is not None else "more"
        return (f"Claw back {-f.coins:,} more coins from {who} for {f.purchase_id}: {f.store} has now refunded "
                f"{now}, and {f.detail['clawed']:,} coins were clawed back for the earlier part (coins only; a "
                "shortfall stays as a debt and limits the account)")
    if f.kind == "unapplied_refund":
        return (f"Mark {f.purchase_id} {f.detail['new_status']} and claw back {-f.coins:,} coins from {who} "
                "(a shortfall stays as a debt and limits the account)")
    if f.kind == "unknown_to_store":
        return (f"Reverse the {-f.coins:,}-coin credit of {f.purchase_id} on {who}: {f.store} has no such "
                "transaction (lead only, with a ticket)")
    if f.kind == "balance_drift":
        d = f.detail
        return f"Resync {who}'s cached {d['asset']} balance from {d['cached']:,} to the ledger's {d['ledger']:,}"
    if f.kind == "wrong_credit_amount":
        d = f.detail
        return (f"Reverse {who}'s credit of {d['credited']:,} coins for {f.purchase_id} and credit the purchase's "
                f"{d['expected']:,} coins ({f.coins:+,})")
    if f.kind == "misdirected_credit":
        wrong = ", ".join(f"{e['amount']:,} coins on {e['account_id']}" for e in f.detail["entries"])
        then = "" if f.detail["owner_credited"] else f" and credit {f.coins:,} coins to {who}"
        return f"Reverse the credit for {f.purchase_id} posted to another account ({wrong}){then}"
    if f.decidable:
        return (f"Credit the bundle, {f.detail['bundle_coins']:,} coins, to {who} for {f.store} "
                f"{f.store_transaction_id}, charged {_charged(f)}, which matches no price point")
    return f"{f.kind} is reported only, never fixed automatically"


def describe_refund(f: Finding) -> str:
    """The other decision on a charge that matches no price, in the words its confirmation shows."""
    who = f.detail.get("handle") or f.account_id
    return f"Refund {f.store} {f.store_transaction_id} in full ({_charged(f)}) to {who} at the store, credit nothing"


def _charged(f: Finding) -> str:
    charged = f.detail["charged"]
    if charged["minor"] is None or not charged["currency"]:
        return "an unknown amount"
    return format_money(charged["minor"], charged["currency"])


def apply_fix(session: Session, f: Finding, ctx: ActionContext, *, key: str | None = None,
              refund_policy: Any = None, decision: str | None = None) -> dict[str, Any]:
    """`refund_policy` (services.refunds.policy_of(settings)) decides diamond clawbacks of store refunds;
    `decision` is the agent's answer to a decidable finding (a charge that matches no price)."""
    if decision is not None:
        return _decide(session, f, decision, ctx, key or f.key)
    if not f.fixable:
        raise InvalidInput(f"{f.kind} for {f.store_transaction_id or f.account_id} cannot be fixed automatically")
    key = key or f.key
    if f.kind == "balance_drift":
        return resync_cached(session, f.account_id or "", f.detail["asset"], ctx, key=key)
    fixes: dict[str, Callable[[Session, Finding, ActionContext, str], dict[str, Any]]] = {
        "missing_purchase": _missing, "uncredited_purchase": _uncredited, "duplicate_credit": _duplicate,
        "unapplied_refund": partial(_refund, policy=refund_policy), "wrong_credit_amount": _wrong_amount,
        "misdirected_credit": _misdirected, "unknown_to_store": _unknown,
    }
    perform = fixes[f.kind]
    request = {"finding": f.kind, "store": f.store, "txn": f.store_transaction_id, "purchase": f.purchase_id}
    return run_once(session, key=key, action=f"reconcile.{f.kind}", request=request, ctx=ctx,
                    perform=lambda: perform(session, f, ctx, key))


def _decide(session: Session, f: Finding, decision: str, ctx: ActionContext, key: str) -> dict[str, Any]:
    """Credit the bundle for a charge that matches no price: the agent's call, a lead's above the credit limit."""
    if not f.decidable or decision not in f.detail["decisions"]:
        raise InvalidInput(f"{f.kind} for {f.store_transaction_id or f.account_id} cannot be decided with "
                           f"{decision!r}; decisions: {', '.join(f.detail.get('decisions') or []) or 'none'}")
    coins = int(f.detail["bundle_coins"])
    if coins <= 0:
        raise InvalidInput(f"no bundle size is known for {f.store} {f.store_transaction_id} (no price point in "
                           "force and no coins in the store's record): grant coins by hand if the customer is owed")
    if ctx.credit_limit is not None and coins > ctx.credit_limit:
        require_lead(ctx, f"crediting {coins:,} coins for a charge that matches no price (agents may decide up "
                          f"to {ctx.credit_limit:,})")
    bundle = replace(f, coins=coins)
    request = {"finding": f.kind, "decision": decision, "store": f.store, "txn": f.store_transaction_id,
               "coins": coins}
    return run_once(session, key=key, action=f"reconcile.decide_{decision}", request=request, ctx=ctx,
                    perform=lambda: _missing(session, bundle, ctx, key))


def _credit(session: Session, f: Finding, purchase_id: str, ctx: ActionContext, key: str) -> list[dict[str, Any]]:
    already = session.execute(select(col(LedgerEntry.entry_id)).where(
        col(LedgerEntry.ref) == purchase_id, col(LedgerEntry.kind) == "purchase")).first()
    if already:
        raise Conflict(f"purchase {purchase_id} was credited meanwhile (entry {already[0]}); nothing posted")
    return post_entries(session, [Posting(f.account_id or "", "coin", f.coins, "purchase", ref=purchase_id)], ctx,
                        key=key, action=f"reconcile.{f.kind}")


def purchase_id_for(store: str, transaction: str) -> str:
    """The purchase id a fix gives a store charge: derived from it (two agents fixing it at once make one row),
    and shaped like imported ids (pur_ and 12 base-36 characters, about 62 bits) so tables keep their width."""
    number = int(hashlib.sha256(f"{store}:{transaction}".encode()).hexdigest(), 16)
    chars = []
    for _ in range(12):
        number, digit = divmod(number, 36)
        chars.append(ID_ALPHABET[digit])
    return "pur_" + "".join(chars)


def create_purchase(session: Session, f: Finding, ctx: ActionContext, key: str, *, status: str = "completed"
                    ) -> Purchase:
    """Our record of the store's charge behind `f` (audited), with the bundle's coins `f.coins`."""
    lock_account(session, f.account_id or "")
    sr = f.detail["store_record"]
    purchase = Purchase(
        purchase_id=purchase_id_for(f.store or "", f.store_transaction_id or ""), account_id=f.account_id or "", store=f.store or "",
        store_transaction_id=f.store_transaction_id or "", product_id=sr["product_id"], coins=f.coins,
        price_minor=sr["price_minor"] or 0, currency=sr["currency"] or "USD", country=sr["country"] or "",
        purchased_at=sr["purchased_at"], status=status,
    )
    session.add(purchase)
    session.flush()
    audit.append(session, ctx, action="purchase.create", target=purchase.purchase_id, account_id=f.account_id,
                 key=key, after={"purchase": purchase.model_dump(mode="json")})
    return purchase


def _missing(session: Session, f: Finding, ctx: ActionContext, key: str) -> dict[str, Any]:
    purchase = create_purchase(session, f, ctx, key)
    return {"purchase_id": purchase.purchase_id, "entries": _credit(session, f, purchase.purchase_id, ctx, key)}


def _uncredited(session: Session, f: Finding, ctx: ActionContext, key: str) -> dict[str, Any]:
    lock_account(session, f.account_id or "")
    return {"purchase_id": f.purchase_id, "entries": _credit(session, f, f.purchase_id or "", ctx, key)}


def _reversals(session: Session, entry_ids: list[str]) -> list[Posting]:
    """Postings that undo each entry, refused if one was reversed meanwhile (nothing posted then)."""
    postings = []
    for entry_id in entry_ids:
        entry = session.execute(select(LedgerEntry).where(col(LedgerEntry.entry_id) == entry_id)).scalar_one()
        if session.execute(select(col(LedgerEntry.entry_id)).where(col(LedgerEntry.reverses) == entry_id)).first():
            raise Conflict(f"entry {entry_id} was reversed meanwhile; nothing posted")
        postings.append(Posting(entry.account_id, entry.asset, -entry.amount, "reversal", ref=entry.ref,
                                reverses=entry_id))
    return postings


def _post_and_limit(session: Session, f: Finding, postings: list[Posting], ctx: ActionContext,
                    key: str) -> dict[str, Any]:
    """Post (each account locked in a fixed order) and limit every account the postings left in debt."""
    accounts = sorted({p.account_id for p in postings})
    for account_id in accounts:
        lock_account(session, account_id)
    entries = post_entries(session, postings, ctx, key=key, action=f"reconcile.{f.kind}")
    limited = [a for a in accounts if limit_if_in_debt(session, a, ctx, key=key)]
    return {"purchase_id": f.purchase_id, "entries": entries, "limited": bool(limited), "limited_accounts": limited}


def _duplicate(session: Session, f: Finding, ctx: ActionContext, key: str) -> dict[str, Any]:
    return _post_and_limit(session, f, _reversals(session, f.detail["extra_entries"]), ctx, key)


def _wrong_amount(session: Session, f: Finding, ctx: ActionContext, key: str) -> dict[str, Any]:
    """Reverse the wrong credit and post the purchase's coins, once: the ledger shows both steps."""
    right = Posting(f.account_id or "", "coin", f.detail["expected"], "purchase", ref=f.purchase_id)
    return _post_and_limit(session, f, [*_reversals(session, f.detail["entries"]), right], ctx, key)


def _misdirected(session: Session, f: Finding, ctx: ActionContext, key: str) -> dict[str, Any]:
    """Reverse the credit on the wrong account; credit the buyer unless the buyer already holds a credit."""
    postings = _reversals(session, [e["entry_id"] for e in f.detail["entries"]])
    if not f.detail["owner_credited"]:
        postings.append(Posting(f.account_id or "", "coin", f.coins, "purchase", ref=f.purchase_id))
    return _post_and_limit(session, f, postings, ctx, key)


def _unknown(session: Session, f: Finding, ctx: ActionContext, key: str) -> dict[str, Any]:
    """The store never charged it: reverse every live credit of the purchase, as a duplicate's extra credits are.
    Taking coins back on our word alone is a lead's call, tied to a ticket."""
    require_lead(ctx, f"reversing the {-f.coins:,}-coin credit of {f.purchase_id}, unknown to {f.store}")
    if not ctx.ticket_id:
        raise InvalidInput(f"reversing the credit of {f.purchase_id} (unknown to {f.store}) needs a ticket "
                           "(--ticket T-...): the customer will ask why")
    return _duplicate(session, f, ctx, key)


def _refund(session: Session, f: Finding, ctx: ActionContext, key: str, policy: Any = None) -> dict[str, Any]:
    """The store refunded on its own: the same clawback path as a refund we make (services.refunds)."""
    from supportdesk.domain.refunds import refund_cause
    from supportdesk.services.refunds import claw_back

    sr = f.detail["store_record"]
    if "clawed" in f.detail:  # a refund that grew after its clawback
        from supportdesk.services.refunds import claw_back_more

        return claw_back_more(session, f.purchase_id or "", ctx, key=key, coins=-f.coins, clawed=f.detail["clawed"],
                              amount_minor=sr.get("refunded_minor"))
    return claw_back(session, f.purchase_id or "", ctx, key=key, new_status=f.detail["new_status"], coins=-f.coins,
                     cause=refund_cause(sr.get("state"), sr.get("refund_reason")), initiated_by="store",
                     amount_minor=sr.get("refunded_minor"), reason=sr.get("refund_reason"), policy=policy)
