"""Refund decide/apply on SQLite (and PostgreSQL): exactly once through crashes, store failures and retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, AuditRecord, LedgerEntry, Purchase, Refund, StoreRecord
from supportdesk.errors import Conflict, Forbidden, InvalidInput, NotFound
from supportdesk.services import refund_protocol, refunds
from supportdesk.services.audit import ActionContext
from supportdesk.services.importer import run_import
from supportdesk.services.reconcile import Scope, reconcile
from supportdesk.stores.errors import StoreRejected, StoreTimeout, StoreUnavailable
from tests.service.factories import minimal, write_dataset

CTX = ActionContext("agent-1", "customer asked for a refund", None)
LEAD = ActionContext("lead-1", "card fraud confirmed", None, role="lead")
NOW = datetime(2026, 10, 5, tzinfo=UTC)
BUYER, CREATOR = "acc_0000", "acc_0001"
GOOGLE_ORDER = "GPA.1234-5678-9012-34567"
APPLE_TXN = "2000000000000001"


def _purchase(pid: str, store: str, txn: str, coins: int, price: int, hour: int) -> dict[str, Any]:
    return {"purchase_id": pid, "account_id": BUYER, "store": store, "store_transaction_id": txn,
            "product_id": f"coins_{coins}", "coins": coins, "price_minor": price, "currency": "USD",
            "country": "US", "purchased_at": f"2026-10-01T{hour:02d}:00:00Z", "status": "completed"}


def _entry(eid: str, account: str, amount: int, kind: str, ref: str, hour: int, asset: str = "coin"
           ) -> dict[str, Any]:
    return {"entry_id": eid, "account_id": account, "asset": asset, "amount": amount, "kind": kind, "ref": ref,
            "at": f"2026-10-01T{hour:02d}:00:00Z", "actor": "system"}


@pytest.fixture
def world(engine, tmp_path):
    """@user0 bought 70 (web, 12h), 350 (web, 13h), 700 (Google, 14h), 350 (Apple, 15h), then gifted 100 coins to
    the creator @user1 (50 diamonds), who cashed out 40: FIFO spends the 70 first, then 30 of the 350 bundle."""
    data = minimal(3)
    data["accounts"][0].update(coin_balance=1370)
    data["accounts"][1].update(kind="creator", diamond_balance=10)
    data["gifts"].append({"gift_id": "lion", "name": "Lion", "coins": 100, "diamonds": 50})
    data["purchases"] += [_purchase("pur_web", "web", "ch_web350", 350, 499, 13),
                          _purchase("pur_goo", "google", GOOGLE_ORDER, 700, 999, 14),
                          _purchase("pur_app", "apple", APPLE_TXN, 350, 499, 15)]
    data["ledger"] += [_entry("le_w", BUYER, 350, "purchase", "pur_web", 13),
                       _entry("le_g", BUYER, 700, "purchase", "pur_goo", 14),
                       _entry("le_a", BUYER, 350, "purchase", "pur_app", 15),
                       _entry("le_gift", BUYER, -100, "gift_sent", "ev_1", 16),
                       _entry("le_dia", CREATOR, 50, "gift_received", "ev_1", 16, "diamond"),
                       _entry("le_co", CREATOR, -40, "cashout", "co_1", 17, "diamond")]
    data["gift_events"] = [{"event_id": "ev_1", "sender_id": BUYER, "creator_id": CREATOR, "gift_id": "lion",
                            "quantity": 1, "coins": 100, "diamonds": 50, "at": "2026-10-01T16:00:00Z"}]
    data["cashouts"] = [{"cashout_id": "co_1", "creator_id": CREATOR, "diamonds": 40, "amount_minor": 20,
                         "currency": "USD", "status": "paid", "at": "2026-10-01T17:00:00Z"}]
    run_import(engine, write_dataset(tmp_path / "ds", data))
    return engine


# -- fake stores with the real ones' semantics ------------------------------------------------------------------
class FakeWeb:
    """The processor: one refund per Idempotency-Key (a repeat replays the first answer)."""

    def __init__(self, *, fail: Exception | None = None, lose_answer: bool = False) -> None:
        self.by_key: dict[str, dict[str, Any]] = {}
        self.refunded: dict[str, int] = {}
        self.calls: list[dict[str, Any]] = []
        self.made: list[dict[str, Any]] = []
        self.fail, self.lose_answer = fail, lose_answer

    def create_refund(self, charge: str, *, idempotency_key: str, amount: int | None = None,
                      reason: str | None = None) -> dict[str, Any]:
        self.calls.append({"charge": charge, "key": idempotency_key, "amount": amount, "reason": reason})
        if self.fail is not None:
            raise self.fail
        if idempotency_key not in self.by_key:
            self.refunded[charge] = self.refunded.get(charge, 0) + (amount or 0)
            self.by_key[idempotency_key] = {"id": f"re_{len(self.made) + 1}", "amount": amount,
                                            "status": "succeeded"}
            self.made.append({**self.by_key[idempotency_key], "charge": charge, "metadata": idempotency_key})
        if self.lose_answer:
            self.lose_answer = False
            raise StoreTimeout("web", "The web payment processor did not answer in time (refund)")
        return self.by_key[idempotency_key]

    def get_charge(self, charge: str) -> dict[str, Any]:
        return {"id": charge, "refunds": {"data": list(self.by_key.values())}}

    def find_our_refund(self, charge: str, refund_id: str) -> dict[str, Any] | None:
        """Like the Refunds API read by metadata: survives the processor pruning its idempotency keys."""
        return next((r for r in self.made if r["charge"] == charge and r["metadata"] == refund_id), None)

    def prune_keys(self) -> None:
        self.by_key.clear()

    def close(self) -> None:
        pass


class FakeGoogle:
    def __init__(self, *, lose_answer: bool = False) -> None:
        self.refunded: list[str] = []
        self.calls = 0
        self.lose_answer = lose_answer

    def refund_order(self, order_id: str, *, revoke: bool = True) -> None:
        assert revoke is True
        self.calls += 1
        if order_id in self.refunded:
            raise StoreRejected("google", "Google Play rejected the request: The order has already been refunded.",
                                status=400, store_code="FAILED_PRECONDITION")
        self.refunded.append(order_id)
        if self.lose_answer:
            self.lose_answer = False
            raise StoreTimeout("google", "Google Play did not answer in time")

    def get_order(self, order_id: str) -> dict[str, Any]:
        return {"orderId": order_id, "state": "REFUNDED" if order_id in self.refunded else "PROCESSED"}

    def close(self) -> None:
        pass


class FakeApple:
    def __init__(self, asked: bool) -> None:
        self.asked = asked
        self.answers: list[dict[str, Any]] = []

    def get_notification_history(self, start: datetime, end: datetime, kind: str) -> list[dict[str, Any]]:
        assert kind == "CONSUMPTION_REQUEST" and start < end
        asked_ms = int((NOW - timedelta(hours=13)).timestamp() * 1000)  # Apple asked 13 hours before NOW
        return [{"notificationType": kind, "signedDate": asked_ms,
                 "transaction": {"transactionId": APPLE_TXN}}] if self.asked else []

    def send_consumption_information(self, txn: str, **body: Any) -> None:
        self.answers.append({"transactionId": txn, **body})

    def close(self) -> None:
        pass


def apply(engine, target, clients, ctx=CTX, **kw):
    return refund_protocol.apply(engine, target, ctx, None, clients, now=NOW, **kw)


def state(engine, purchase_id: str) -> dict[str, Any]:
    with read_session(engine) as s:
        p = s.get(Purchase, purchase_id)
        row = s.exec(select(Refund).where(Refund.purchase_id == purchase_id)).first()
        return {
            "status": p.status, "refund": row.status if row else None,
            "clawbacks": [e.amount for e in s.exec(select(LedgerEntry).where(
                LedgerEntry.ref == purchase_id, LedgerEntry.kind == "refund_clawback", LedgerEntry.asset == "coin"))],
            "buyer": s.get(Account, BUYER).coin_balance, "creator": s.get(Account, CREATOR).diamond_balance,
            "buyer_status": s.get(Account, BUYER).status,
        }


# -- decide -------------------------------------------------------------------------------------------------------
def test_decide_by_purchase_id_or_store_id_and_preview_the_clawback(world):
    with read_session(world) as s:
        by_id = refunds.decide(s, "pur_web", NOW)
        by_txn = refunds.decide(s, "ch_web350", NOW)
    assert by_id == by_txn
    d, c = by_id["decision"], by_id["clawback"]
    assert (d["outcome"], d["rule"], d["refund_minor"]) == ("refund", "web.partial_unspent", 499 * 320 // 350)
    assert (c["coins"], c["spent"], c["unspent"], c["balance_after"], c["debt"]) == (320, 30, 320, 1050, 0)
    assert c["gifted"][0] | {"at": None} == {"event_id": "ev_1", "creator_id": CREATOR, "gift_id": "lion",
                                             "at": None, "coins": 30, "diamonds": 15, "handle": "@user1"}
    assert c["creators"] == [{"creator_id": CREATOR, "diamonds_credited": 15, "cashed_out": 5,
                              "not_cashed_out": 10, "clawback": 0, "handle": "@user1"}]
    assert by_id["purchase"]["handle"] == "@user0"


def test_fraud_claws_back_only_diamonds_not_cashed_out(world):
    with read_session(world) as s:
        c = refunds.decide(s, "pur_web", NOW, cause="fraud")["clawback"]
    assert c["claws_back_diamonds"] and c["diamonds"] == 10


@pytest.mark.parametrize(("target", "error"), [
    ("pur_nothere", NotFound), ("ch_nothere", NotFound), ("pur_bad!", InvalidInput), ("", InvalidInput),
    ("acc_0000", InvalidInput), ("@user0", InvalidInput),
])
def test_unknown_and_malformed_targets(world, target, error):
    with read_session(world) as s, pytest.raises(error):
        refunds.decide(s, target, NOW)


def test_bad_cause_is_an_input_error(world):
    with read_session(world) as s, pytest.raises(InvalidInput):
        refunds.decide(s, "pur_web", NOW, cause="whim")


# -- web ------------------------------------------------------------------------------------------------------------
def test_web_refund_applied_once_and_replayed(world):
    web = FakeWeb()
    first = apply(world, "pur_web", {"web": web})
    assert first["replayed"] is False and first["applied"]["coins_clawed"] == 320
    assert web.calls == [{"charge": "ch_web350", "key": first["applied"]["refund_id"], "amount": 456,
                          "reason": "requested_by_customer"}]
    after = state(world, "pur_web")
    assert after == {"status": "refunded", "refund": "succeeded", "clawbacks": [-320], "buyer": 1050,
                     "creator": 10, "buyer_status": "active"}
    again = apply(world, "pur_web", {"web": web})
    assert again["replayed"] is True and again["applied"]["replayed"] is True
    assert again["applied"]["refund_id"] == first["applied"]["refund_id"]
    assert len(web.calls) == 1 and state(world, "pur_web") == after
    with pytest.raises(refunds.RefundDenied, match="already refunded"):  # another key: the decision denies
        apply(world, "pur_web", {"web": web}, key="another-key")


def test_fraud_refund_claws_back_the_creators_diamonds_and_needs_a_lead(world):
    web = FakeWeb()
    with pytest.raises(Forbidden, match="lead"):
        apply(world, "pur_web", {"web": web}, cause="fraud")
    assert web.calls == [] and state(world, "pur_web")["refund"] is None  # refused before anything happened
    out = apply(world, "pur_web", {"web": web}, ctx=LEAD, cause="fraud")
    assert web.calls[0]["reason"] == "fraudulent" and out["applied"]["diamonds_clawed"] == 10
    assert state(world, "pur_web")["creator"] == 0
    with read_session(world) as s:
        row = s.exec(select(Refund).where(Refund.purchase_id == "pur_web")).one()
        assert (row.coins_clawed, row.diamonds_clawed, row.reason) == (320, 10, "fraud")


def test_lost_answer_leaves_only_the_requested_row_and_a_retry_completes_once(world):
    web = FakeWeb(lose_answer=True)  # the processor refunded; we never heard back
    with pytest.raises(StoreTimeout, match="stays requested"):
        apply(world, "pur_web", {"web": web})
    assert state(world, "pur_web") == {"status": "completed", "refund": "requested", "clawbacks": [],
                                       "buyer": 1370, "creator": 10, "buyer_status": "active"}
    done = apply(world, "pur_web", {"web": web})
    assert done["replayed"] is False
    assert web.refunded == {"ch_web350": 456} and len({c["key"] for c in web.calls}) == 1
    assert state(world, "pur_web")["clawbacks"] == [-320]


def test_a_retry_after_the_processor_pruned_our_key_finds_our_refund_and_refunds_once(world):
    web = FakeWeb(lose_answer=True)
    with pytest.raises(StoreTimeout):
        apply(world, "pur_web", {"web": web})
    web.prune_keys()  # a day later the processor no longer knows the idempotency key
    done = apply(world, "pur_web", {"web": web})
    assert done["applied"]["store_refund_id"] == "re_1" and len(web.calls) == 1
    assert web.refunded == {"ch_web350": 456} and state(world, "pur_web")["clawbacks"] == [-320]


def test_crash_after_the_store_call_is_finished_by_a_retry(world, monkeypatch):
    web = FakeWeb()
    real = refund_protocol._finish

    def crash(*args: Any, **kw: Any) -> Any:
        raise SystemExit("killed between the store call and our write")

    monkeypatch.setattr(refund_protocol, "_finish", crash)
    with pytest.raises(SystemExit):
        apply(world, "pur_web", {"web": web})
    assert state(world, "pur_web")["refund"] == "requested" and web.refunded == {"ch_web350": 456}
    monkeypatch.setattr(refund_protocol, "_finish", real)
    apply(world, "pur_web", {"web": web})
    assert web.refunded == {"ch_web350": 456} and state(world, "pur_web")["clawbacks"] == [-320]


def test_store_unreachable_records_nothing_but_the_request(world):
    down = FakeWeb(fail=StoreUnavailable("web", "The web payment processor is unavailable (HTTP 503)"))
    with pytest.raises(StoreUnavailable, match="applying it again finishes it"):
        apply(world, "pur_web", {"web": down})
    with read_session(world) as s:
        entries = len(s.exec(select(LedgerEntry)).all())
    assert state(world, "pur_web")["refund"] == "requested"
    web = FakeWeb()
    apply(world, "pur_web", {"web": web})
    assert web.calls[0]["key"] == down.calls[0]["key"]  # the same key: a processor that did act replays
    with read_session(world) as s:
        assert len(s.exec(select(LedgerEntry)).all()) == entries + 1


def test_a_definite_refusal_marks_the_row_failed_and_a_retry_uses_a_new_key(world):
    refused = FakeWeb(fail=StoreRejected("web", "The web payment processor rejected the request (HTTP 400)",
                                         status=400, store_code="amount_too_large"))
    with pytest.raises(StoreRejected, match="recorded as failed"):
        apply(world, "pur_web", {"web": refused})
    assert state(world, "pur_web")["refund"] == "failed" and state(world, "pur_web")["clawbacks"] == []
    web = FakeWeb()
    apply(world, "pur_web", {"web": web})
    assert web.calls[0]["key"] != refused.calls[0]["key"]
    assert state(world, "pur_web")["refund"] == "succeeded"


# -- Google ---------------------------------------------------------------------------------------------------------
def test_google_refund_revokes_claws_back_and_reconcile_does_not_claw_again(world):
    google = FakeGoogle(lose_answer=True)
    with pytest.raises(StoreTimeout):
        apply(world, GOOGLE_ORDER, {"google": google})
    done = apply(world, GOOGLE_ORDER, {"google": google})  # Google: already refunded -> the order says REFUNDED
    assert done["applied"]["store_status"] == "already_refunded" and google.refunded == [GOOGLE_ORDER]
    assert state(world, "pur_goo")["clawbacks"] == [-700]
    with write_session(world) as s:  # the next sync sees the void
        s.add(StoreRecord(store="google", store_transaction_id=GOOGLE_ORDER, order_id=GOOGLE_ORDER,
                          account_id=BUYER, product_id="coins_700", price_minor=999, currency="USD", country="US",
                          purchased_at=NOW, state="refunded", refunded_at=NOW, raw={}, fetched_at=NOW))
    assert [f.kind for f in reconcile(world, Scope(account_id=BUYER)).findings] == []


def test_a_store_refund_reconciled_first_finishes_our_requested_row_once(world):
    google = FakeGoogle(lose_answer=True)
    with pytest.raises(StoreTimeout):
        apply(world, GOOGLE_ORDER, {"google": google})
    with write_session(world) as s:
        s.add(StoreRecord(store="google", store_transaction_id=GOOGLE_ORDER, order_id=GOOGLE_ORDER,
                          account_id=BUYER, product_id="coins_700", price_minor=999, currency="USD", country="US",
                          purchased_at=NOW, state="refunded", refunded_at=NOW, refund_reason="other",
                          refunded_minor=999, raw={}, fetched_at=NOW))
    fixed = reconcile(world, Scope(account_id=BUYER), fix=True, ctx=CTX)
    assert [a["kind"] for a in fixed.applied] == ["unapplied_refund"]
    assert state(world, "pur_goo")["refund"] == "succeeded"
    with pytest.raises(refunds.RefundDenied):
        apply(world, GOOGLE_ORDER, {"google": google})
    assert state(world, "pur_goo")["clawbacks"] == [-700] and google.calls == 1


def test_clawing_back_spent_coins_leaves_a_debt_and_limits(world):
    from supportdesk.domain.ledger import Posting
    from supportdesk.services.ledger import post

    with write_session(world) as s:
        post(s, [Posting(BUYER, "coin", -1300, "gift_sent", ref="ev_x")], CTX, key="spend")
    apply(world, "pur_goo", {"google": FakeGoogle()})
    after = state(world, "pur_goo")
    assert (after["buyer"], after["buyer_status"]) == (70 - 700, "limited")


# -- Apple ----------------------------------------------------------------------------------------------------------
def test_apple_is_store_decides_and_we_answer_only_what_apple_asked(world):
    quiet = FakeApple(asked=False)
    out = apply(world, APPLE_TXN, {"apple": quiet})
    assert out["decision"]["outcome"] == "store_decides" and out["applied"]["store_call"] is None
    asked = FakeApple(asked=True)
    with pytest.raises(InvalidInput, match="consent"):
        apply(world, APPLE_TXN, {"apple": asked})
    out = apply(world, APPLE_TXN, {"apple": asked}, customer_consented=True)
    assert asked.answers == [{"transactionId": APPLE_TXN, "customer_consented": True, "delivery_status": "DELIVERED",
                              "refund_preference": "GRANT_FULL", "consumption_percentage": 0}]
    # Due 12 hours after Apple's request: the agent sees by when, and that this answer is an hour late.
    assert out["applied"]["answer_by"] == "2026-10-04T23:00:00.000000Z" and out["applied"]["late"] is True
    assert state(world, "pur_app")["status"] == "completed"
    with read_session(world) as s:
        assert s.exec(select(AuditRecord).where(AuditRecord.action == "refund.consumption_answer")).one()


def test_apple_refund_notification_claws_back_once_through_reconcile(world):
    with write_session(world) as s:
        s.add(StoreRecord(store="apple", store_transaction_id=APPLE_TXN, account_id=BUYER, product_id="coins_350",
                          price_minor=499, currency="USD", country="US", purchased_at=NOW, state="refunded",
                          refunded_at=NOW, refund_reason="other", refunded_minor=499, raw={}, fetched_at=NOW))
    reconcile(world, Scope(account_id=BUYER), fix=True, ctx=CTX)
    reconcile(world, Scope(account_id=BUYER), fix=True, ctx=CTX)
    after = state(world, "pur_app")
    assert (after["status"], after["refund"], after["clawbacks"]) == ("revoked", "succeeded", [-350])


def test_lost_dispute_claws_back_the_bundle_and_the_creators_diamonds(world):
    with write_session(world) as s:
        s.add(StoreRecord(store="web", store_transaction_id="ch_web350", account_id=BUYER, product_id="coins_350",
                          price_minor=499, currency="USD", country="US", purchased_at=NOW, state="charged_back",
                          refunded_at=NOW, refund_reason="fraudulent", refunded_minor=499, raw={}, fetched_at=NOW))
    with read_session(world) as s:
        assert refunds.decide(s, "pur_web", NOW)["decision"]["rule"] == "web.dispute_lost"
    reconcile(world, Scope(account_id=BUYER), fix=True, ctx=LEAD)
    after = state(world, "pur_web")
    assert (after["status"], after["clawbacks"], after["creator"]) == ("charged_back", [-350], 0)


def test_an_agents_reconcile_claws_back_the_coins_and_leaves_diamonds_to_a_lead(world):
    with write_session(world) as s:
        s.add(StoreRecord(store="web", store_transaction_id="ch_web350", account_id=BUYER, product_id="coins_350",
                          price_minor=499, currency="USD", country="US", purchased_at=NOW, state="charged_back",
                          refunded_at=NOW, refunded_minor=499, raw={}, fetched_at=NOW))
    fixed = reconcile(world, Scope(account_id=BUYER), fix=True, ctx=CTX)
    assert fixed.failed == [] and fixed.applied[0]["diamonds_for_lead"][0]["clawback"] == 10
    after = state(world, "pur_web")
    assert (after["status"], after["clawbacks"], after["creator"]) == ("charged_back", [-350], 10)
    with read_session(world) as s:
        assert s.exec(select(AuditRecord).where(AuditRecord.action == "refund.diamonds_for_lead")).one()


def test_claw_back_refuses_a_purchase_already_taken_back(world):
    apply(world, "pur_web", {"web": FakeWeb()})
    with write_session(world) as s, pytest.raises(Conflict):
        refunds.claw_back(s, "pur_web", CTX, key="again", new_status="refunded", coins=350, cause="other",
                          initiated_by="store")


def test_the_confirmation_says_exactly_what_money_moves(world):
    with read_session(world) as s:
        web = refunds.decide(s, "pur_web", NOW, cause="fraud")
        google = refunds.decide(s, GOOGLE_ORDER, NOW)
    assert refunds.question(web, "fraud", "T-1001", False) == (
        "Refund 4.56 USD to the card of @user0 for pur_web and claw back 320 coins from @user0, 10 diamonds from "
        "@user1; reason 'fraud', ticket T-1001?")
    assert refunds.question(google, "asked", None, False).startswith(
        "Refund 9.99 USD through Google Play to @user0 for pur_goo (revoked) and claw back 700 coins")
    assert refunds.clawback_lines(web["clawback"])[1] == \
        "gifted: 30 coins to @user1 (lion, ev_1), 15 diamonds earned"


def test_an_unconfigured_store_records_nothing(world):
    from supportdesk.errors import ConfigError

    with pytest.raises(ConfigError, match="stores.web"):
        refund_protocol.apply(world, "pur_web", CTX, None, None, now=NOW)
    assert state(world, "pur_web")["refund"] is None


def test_a_refund_another_agent_finished_first_names_that_agent_not_reconcile(world):
    web, other = FakeWeb(), ActionContext("agent-2", "same customer, second ticket", None)
    original = web.create_refund

    def racing(charge: str, **kw: Any) -> dict[str, Any]:  # agent-2 finishes the same refund meanwhile
        web.create_refund = original  # type: ignore[method-assign]
        apply(world, "pur_web", {"web": web}, ctx=other, key="user:agent-2")
        return original(charge, **kw)

    web.create_refund = racing  # type: ignore[method-assign]
    mine = apply(world, "pur_web", {"web": web}, key="user:agent-1")["applied"]
    assert mine["replayed"] is True and "reconcile" not in mine["note"]
    assert "another refund of this purchase" in mine["note"] and "agent-2" in mine["note"]
    assert mine["first_refund"]["actor"] == "agent-2" and mine["first_refund"]["idempotency_key"] == "user:agent-2"
    assert state(world, "pur_web")["clawbacks"] == [-320]
