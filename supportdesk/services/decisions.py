"""Refund a charge that matches no price (a decidable `amount_mismatch`): the store gives the money back, we credit
nothing and record the purchase as refunded. Three steps, like every refund: re-check, store call, record once."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from supportdesk.db.engine import write_session
from supportdesk.domain.findings import Finding
from supportdesk.errors import InvalidInput
from supportdesk.services.fixes import create_purchase
from supportdesk.services.once import check_context, run_once
from supportdesk.services.reconcile import finding_ref, recheck
from supportdesk.services.refund_protocol import record_store_refund, refund_charge_at_store


def refund_charge(engine: Any, f: Finding, ctx: Any, settings: Any = None,
                  clients: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """("applied", result) or ("skipped", why), as `reconcile.apply_one`; store failures raise their typed error
    with nothing recorded, and a retry (same finding, same key at the store) refunds once."""
    check_context(ctx)
    if not f.decidable or "refund_charge" not in f.detail["decisions"]:
        raise InvalidInput(f"{f.kind} for {f.store_transaction_id or f.account_id} cannot be refunded here; "
                           f"decisions: {', '.join(f.detail.get('decisions') or []) or 'none'}")
    amount = f.detail["charged"]["minor"]
    if amount is None or amount <= 0:
        raise InvalidInput(f"{f.store} {f.store_transaction_id} charged {amount}: there is nothing to refund")
    with write_session(engine) as session:
        early = recheck(session, f)
    if early is not None:
        return early
    refund_id = "rf_" + hashlib.sha256(f.key.encode()).hexdigest()[:20]
    done = refund_charge_at_store(f.store or "", f.store_transaction_id or "", amount, refund_id, settings, clients)
    bundle = replace(f, coins=int(f.detail["bundle_coins"]))

    def perform() -> dict[str, Any]:
        purchase = create_purchase(session, bundle, ctx, f.key, status="refunded")
        row = record_store_refund(session, purchase, done, refund_id, ctx)
        return {"purchase_id": purchase.purchase_id, "refund_id": row.refund_id, "amount_minor": amount,
                "currency": purchase.currency, "entries": [], **done}

    with write_session(engine) as session:
        result = run_once(session, key=f.key, action="reconcile.decide_refund_charge",
                          request={"finding": f.kind, "decision": "refund_charge", "store": f.store,
                                   "txn": f.store_transaction_id, "amount_minor": amount},
                          ctx=ctx, perform=perform)
    return "applied", {**finding_ref(f), **result}
