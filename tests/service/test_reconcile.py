"""Reconcile findings per kind (zero-decimal currencies, a promotion window) and fixes that post exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from supportdesk.db.engine import read_session, write_session
from supportdesk.db.models import Account, LedgerEntry, Purchase, Refund, StoreRecord
from supportdesk.services import audit
from supportdesk.services.audit import ActionContext
from supportdesk.services.fixes import describe
from supportdesk.services.importer import run_import
from supportdesk.services.reconcile import Scope, apply_one, reconcile
from tests.service.factories import account, minimal, write_dataset

CTX = ActionContext("agent-1", "reconcile test")
T = "2026-10-01T12:00:00Z"
AT = datetime(2026, 10, 1, 12, tzinfo=UTC)


def purchase(pid, acc, txn, *, store="web", coins=70, price=99, cur="USD", country="US", status="completed",
             product="coins_70", at=T):
    return {"purchase_id": pid, "account_id": acc, "store": store, "store_transaction_id": txn,
            "product_id": product, "coins": coins, "price_minor": price, "currency": cur, "country": country,
            "purchased_at": at, "status": status}


def credit(eid, acc, pid, coins=70):
    return {"entry_id": eid, "account_id": acc, "asset": "coin", "amount": coins, "kind": "purchase", "ref": pid,
            "at": T, "actor": "system"}


def record(txn, acc, *, store="web", price=99, cur="USD", country="US", state="purchased", product="coins_70",
           at=AT, refunded_minor=None):
    return StoreRecord(store=store, store_transaction_id=txn, account_id=acc, account_ref=acc, product_id=product,
                       price_minor=price, currency=cur, country=country, purchased_at=at, state=state,
                       refunded_minor=refunded_minor, refunded_at=at if state != "purchased" else None,
                       raw={}, fetched_at=AT)


@pytest.fixture
def world(engine, tmp_path):
    data = minimal()
    data["regions"].append({"country": "JP", "currency": "JPY", "coin_purchase": True, "gifting": True,
                            "cashout": True, "min_age": 18, "stores": ["apple"], "valid_from": "2024-01-01T00:00:00Z"})
    data["price_points"] += [
        {"country": "JP", "store": "apple", "product_id": "coins_70", "coins": 70, "price_minor": 160,
         "currency": "JPY", "valid_from": "2024-01-01T00:00:00Z", "valid_to": None},
        {"country": "US", "store": "web", "product_id": "coins_70", "coins": 70, "price_minor": 79, "bonus_coins": 10,
         "currency": "USD", "valid_from": "2026-09-25T00:00:00Z", "valid_to": "2026-10-05T00:00:00Z"},
    ]
    data["accounts"] = [account(i) for i in range(8)]
    data["accounts"][0]["coin_balance"] = 70
    data["accounts"][2]["coin_balance"] = 140      # duplicate credit below: cache agrees with the ledger
    data["accounts"][4]["coin_balance"] = 70
    data["accounts"][5]["coin_balance"] = 500      # drift: ledger says 0
    data["accounts"][6]["coin_balance"] = 70
    data["accounts"][7]["coin_balance"] = 80
    data["purchases"] = [
        purchase("pur_0001", "acc_0000", "ch_abc123"),                       # clean
        purchase("pur_0002", "acc_0001", "ch_uncredited"),                   # uncredited
        purchase("pur_0003", "acc_0002", "ch_twice"),                        # duplicate credit
        purchase("pur_0004", "acc_0004", "2000000001", store="apple", price=160, cur="JPY", country="JP"),
        purchase("pur_0006", "acc_0006", "ch_mismatch", price=149),          # amount mismatch
        purchase("pur_0007", "acc_0007", "ch_promo", price=79, coins=80),    # promotion: clean
    ]
    data["ledger"] = [credit("le_0001", "acc_0000", "pur_0001"), credit("le_0002", "acc_0002", "pur_0003"),
                      credit("le_0003", "acc_0002", "pur_0003"), credit("le_0004", "acc_0004", "pur_0004"),
                      credit("le_0006", "acc_0006", "pur_0006"), credit("le_0007", "acc_0007", "pur_0007", 80)]
    run_import(engine, write_dataset(tmp_path / "ds", data))
    with write_session(engine) as s:
        s.add_all([
            record("ch_abc123", "acc_0000"), record("ch_uncredited", "acc_0001"), record("ch_twice", "acc_0002"),
            record("ch_missing", "acc_0003"),
            record("2000000001", "acc_0004", store="apple", price=160, cur="JPY", country="JP", state="refunded"),
            record("ch_mismatch", "acc_0006", price=149), record("ch_promo", "acc_0007", price=79),
        ])
    return engine


def kinds(result):
    return sorted((f.kind, f.account_id) for f in result.findings)


def test_each_kind_found_and_clean_accounts_have_none(world):
    result = reconcile(world, Scope())
    assert kinds(result) == [
        ("amount_mismatch", "acc_0006"), ("balance_drift", "acc_0005"), ("duplicate_credit", "acc_0002"),
        ("missing_purchase", "acc_0003"), ("unapplied_refund", "acc_0004"), ("uncredited_purchase", "acc_0001"),
    ]
    assert reconcile(world, Scope(account_id="acc_0000")).findings == []
    assert reconcile(world, Scope(account_id="acc_0007")).findings == []  # promotion price, bonus coins


def test_zero_decimal_refund_and_evidence(world):
    (f,) = reconcile(world, Scope(account_id="acc_0004")).findings
    assert f.kind == "unapplied_refund" and f.coins == -70 and f.detail["new_status"] == "revoked"
    assert f.detail["store_record"]["price_minor"] == 160 and f.detail["purchase"]["currency"] == "JPY"


def test_fix_then_only_amount_mismatch_remains_and_refix_posts_nothing(world):
    first = reconcile(world, Scope(), fix=True, ctx=CTX)
    assert not first.failed and len(first.applied) == 5
    assert all(a["replayed"] is False for a in first.applied)
    assert kinds(reconcile(world, Scope())) == [("amount_mismatch", "acc_0006")]
    with read_session(world) as s:
        entries = len(s.exec(select(LedgerEntry)).all())
        assert s.get(Account, "acc_0004").coin_balance == 0
        assert s.get(Purchase, "pur_0004").status == "revoked"
        assert s.get(Account, "acc_0005").coin_balance == 0
        assert s.get(Account, "acc_0003").coin_balance == 70
    again = reconcile(world, Scope(), fix=True, ctx=CTX)
    assert again.applied == []
    with read_session(world) as s:
        assert len(s.exec(select(LedgerEntry)).all()) == entries


def test_a_replayed_fix_reports_replayed(world):
    from supportdesk.services.fixes import apply_fix

    (f,) = reconcile(world, Scope(account_id="acc_0001")).findings
    with write_session(world) as s:
        assert apply_fix(s, f, CTX)["replayed"] is False
    with write_session(world) as s:
        assert apply_fix(s, f, CTX)["replayed"] is True


def test_clawback_of_spent_coins_leaves_a_debt_and_limits(world):
    from supportdesk.domain.ledger import Posting
    from supportdesk.services.ledger import post

    with write_session(world) as s:  # the buyer already spent 50 of the 70 coins
        post(s, [Posting("acc_0004", "coin", -50, "gift_sent")], CTX, key="spend")
    reconcile(world, Scope(account_id="acc_0004"), fix=True, ctx=CTX)
    with read_session(world) as s:
        acc = s.get(Account, "acc_0004")
        assert (acc.coin_balance, acc.status) == (-50, "limited")


# -- a fix applies exactly what was confirmed ------------------------------------------------------------------
def test_cli_fix_applies_only_the_findings_it_confirmed(world, db_url, monkeypatch):
    """Issue 11 case 3: a charge that appears while the agent reads the question waits for the next one."""
    import json

    from typer.testing import CliRunner

    from supportdesk.cli import reconcile_cmd
    from supportdesk.cli.main import app

    asked: list[str] = []

    def confirm_while_the_store_charges_again(question: str, yes: bool, json_mode: bool) -> None:
        asked.append(question)
        with write_session(world) as s:  # two more charges arrive between the question and the answer
            s.add_all([record("ch_late_1", "acc_0003"), record("ch_late_2", "acc_0003")])

    monkeypatch.setattr(reconcile_cmd, "confirm", confirm_while_the_store_charges_again)
    done = CliRunner().invoke(app, ["--db", db_url, "reconcile", "--account", "acc_0003", "--offline", "--fix",
                                    "--reason", "coins missing", "--json"])
    body = json.loads(done.stdout)
    assert "credit 70 coins" in asked[0]
    assert [(a["kind"], a["store_transaction_id"]) for a in body["applied"]] == [("missing_purchase", "ch_missing")]
    assert body["skipped"] == [] and body["failed"] == []
    with read_session(world) as s:
        assert s.get(Account, "acc_0003").coin_balance == 70  # not 210
    later = reconcile(world, Scope(account_id="acc_0003"))
    assert sorted(f.store_transaction_id for f in later.findings) == ["ch_late_1", "ch_late_2"]


def test_a_confirmed_finding_that_changed_or_vanished_is_skipped_not_applied(world):
    from supportdesk.domain.ledger import Posting
    from supportdesk.services.ledger import post
    from supportdesk.services.reconcile import apply_confirmed

    confirmed = [f for f in reconcile(world, Scope()).findings if f.kind in ("balance_drift", "uncredited_purchase")]
    with write_session(world) as s:  # meanwhile: the cache drifts further, another agent credits the purchase
        s.get(Account, "acc_0005").coin_balance = 900
        post(s, [Posting("acc_0001", "coin", 70, "purchase", ref="pur_0002")], CTX, key="user:by-hand")
    done = apply_confirmed(world, confirmed, CTX)
    assert done.applied == [] and done.failed == []
    why = {s["kind"]: s for s in done.skipped}
    assert why["balance_drift"]["why"] == "changed" and "500 -> 900" in why["balance_drift"]["message"]
    assert why["uncredited_purchase"]["why"] == "vanished"
    with read_session(world) as s:
        assert s.get(Account, "acc_0005").coin_balance == 900  # nothing resynced to a number nobody confirmed
        assert s.get(Account, "acc_0001").coin_balance == 70  # credited once, by hand


def test_a_confirmed_finding_another_agent_fixed_under_its_key_is_replayed(world):
    from supportdesk.services.reconcile import apply_confirmed

    confirmed = reconcile(world, Scope(account_id="acc_0001")).findings
    assert [a["replayed"] for a in apply_confirmed(world, confirmed, CTX).applied] == [False]
    again = apply_confirmed(world, confirmed, CTX)
    assert [a["replayed"] for a in again.applied] == [True] and again.skipped == []


# -- no auto-credit without a matching price ----------------------------------------------------------------------
@pytest.mark.parametrize("price", [1, 0, -499])
def test_a_charge_that_matches_no_price_is_never_credited_by_a_fix(world, price):
    """Issue 11 case 2: 0.01 USD, nothing, or -4.99 USD for a 70-coin bundle."""
    with write_session(world) as s:
        s.add(record("ch_odd", "acc_0003", price=price))
    found = reconcile(world, Scope(account_id="acc_0003"), fix=True, ctx=CTX)
    odd = [f for f in found.findings if f.store_transaction_id == "ch_odd"]
    assert [f.kind for f in odd] == ["amount_mismatch"] and odd[0].decidable and not odd[0].fixable
    assert odd[0].detail["bundle_coins"] == 70
    assert [a["store_transaction_id"] for a in found.applied] == ["ch_missing"]
    with read_session(world) as s:
        assert s.get(Account, "acc_0003").coin_balance == 70
        assert s.exec(select(Purchase).where(Purchase.store_transaction_id == "ch_odd")).first() is None


def test_the_agent_decides_to_credit_the_bundle_and_a_lead_above_the_limit(world):
    from supportdesk.errors import Forbidden
    from supportdesk.services.reconcile import apply_one

    with write_session(world) as s:
        s.add(record("ch_cheap", "acc_0003", price=1))
    (f,) = [f for f in reconcile(world, Scope(account_id="acc_0003")).findings if f.decidable]
    agent = ActionContext("agent-1", "customer paid, app priced it wrong", credit_limit=50)
    with pytest.raises(Forbidden, match="lead"):
        apply_one(world, f, agent, decision="credit")
    lead = ActionContext("lead-1", "customer paid, app priced it wrong", role="lead", credit_limit=50)
    outcome, row = apply_one(world, f, lead, decision="credit")
    assert outcome == "applied" and row["entries"][0]["amount"] == 70
    assert apply_one(world, f, lead, decision="credit")[1]["replayed"] is True
    with read_session(world) as s:
        assert s.get(Account, "acc_0003").coin_balance == 70
    (after,) = [x for x in reconcile(world, Scope(account_id="acc_0003")).findings
                if x.store_transaction_id == "ch_cheap"]  # the wrong price stays on record, decided
    assert after.purchase_id == row["purchase_id"] and not after.decidable and not after.fixable


class FakeWebRefunds:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int | None]] = []

    def find_our_refund(self, charge: str, refund_id: str) -> dict | None:
        return None  # the processor holds no refund of ours yet

    def create_refund(self, charge: str, *, idempotency_key: str, amount: int | None = None,
                      reason: str | None = None) -> dict:
        self.calls.append((charge, idempotency_key, amount))
        return {"id": "re_1", "amount": amount, "status": "succeeded"}

    def close(self) -> None:
        pass


def test_the_agent_decides_to_refund_a_charge_that_matches_no_price(world):
    from supportdesk.db.models import Refund
    from supportdesk.services.decisions import refund_charge
    from supportdesk.services.reconcile import apply_one

    with write_session(world) as s:
        s.add(record("ch_cheap", "acc_0003", price=1))
    (f,) = [f for f in reconcile(world, Scope(account_id="acc_0003")).findings if f.decidable]
    assert f.detail["decisions"] == ["credit", "refund_charge"]
    web = FakeWebRefunds()
    outcome, row = refund_charge(world, f, CTX, None, {"web": web})
    assert outcome == "applied" and row["replayed"] is False and row["entries"] == []
    assert web.calls == [("ch_cheap", row["refund_id"], 1)]
    assert refund_charge(world, f, CTX, None, {"web": web})[1]["replayed"] is True and len(web.calls) == 1
    assert apply_one(world, f, CTX, decision="credit")[1]["replayed"] is True  # decided once: no credit now
    with read_session(world) as s:
        purchase = s.get(Purchase, row["purchase_id"])
        assert (purchase.status, purchase.price_minor) == ("refunded", 1)
        assert s.exec(select(Refund).where(Refund.purchase_id == purchase.purchase_id)).one().status == "succeeded"
        assert s.get(Account, "acc_0003").coin_balance == 0
        assert s.exec(select(LedgerEntry).where(LedgerEntry.ref == purchase.purchase_id)).all() == []


def test_an_apple_charge_cannot_be_refunded_by_us():
    from supportdesk.domain.findings import Finding
    from supportdesk.errors import InvalidInput
    from supportdesk.services.decisions import refund_charge

    f = Finding("amount_mismatch", "acc_0004", "apple", "2000000009", None, 0,
                {"decisions": ["credit"], "charged": {"minor": 1, "currency": "JPY"}, "bundle_coins": 70})
    with pytest.raises(InvalidInput, match="cannot be refunded here"):
        refund_charge(None, f, CTX)


def test_a_web_charge_with_no_price_point_offers_the_bundle_from_its_metadata(world):
    """Issue 11 case 7: the coins are in the charge's metadata (raw = {"charge": ...}), not at the top."""
    sr = record("ch_nopp", "acc_0003", product="coins_999", price=999)
    sr.raw = {"charge": {"id": "ch_nopp", "metadata": {"account_id": "acc_0003", "coins": 900}}}
    with write_session(world) as s:
        s.add(sr)
    (f,) = [f for f in reconcile(world, Scope(account_id="acc_0003")).findings if f.store_transaction_id == "ch_nopp"]
    assert f.kind == "amount_mismatch" and f.detail["bundle_coins"] == 900


# -- every way a credit can be wrong ----------------------------------------------------------------------------
def _credit_by_hand(world, acc, coins, ref):
    from supportdesk.domain.ledger import Posting
    from supportdesk.services.ledger import post

    with write_session(world) as s:
        post(s, [Posting(acc, "coin", coins, "purchase", ref=ref)], CTX, key=f"user:{acc}:{ref}:{coins}")


def _fix_and_recheck(world, account_id, kind):
    (f,) = [f for f in reconcile(world, Scope(account_id=account_id)).findings if f.kind == kind]
    done = reconcile(world, Scope(account_id=account_id), fix=True, ctx=CTX)
    assert done.failed == [] and [a["kind"] for a in done.applied] == [kind]
    assert reconcile(world, Scope(account_id=account_id)).findings == []
    assert reconcile(world, Scope(account_id=account_id), fix=True, ctx=CTX).applied == []
    return f


def test_a_credit_of_the_wrong_amount_is_reversed_and_reposted_once(world):
    _credit_by_hand(world, "acc_0001", 100_350, "pur_0002")  # a 70-coin purchase credited 100,350
    f = _fix_and_recheck(world, "acc_0001", "wrong_credit_amount")
    assert f.coins == -100_280 and f.detail["expected"] == 70 and f.detail["credited"] == 100_350
    with read_session(world) as s:
        assert s.get(Account, "acc_0001").coin_balance == 70
        kinds_posted = [e.kind for e in s.exec(select(LedgerEntry).where(LedgerEntry.ref == "pur_0002")
                                              .order_by(LedgerEntry.seq))]
        assert kinds_posted == ["purchase", "reversal", "purchase"]


def test_a_credit_on_another_account_is_moved_to_the_buyer_once(world):
    _credit_by_hand(world, "acc_0000", 70, "pur_0002")  # acc_0001's purchase credited to acc_0000
    assert [f.kind for f in reconcile(world, Scope(account_id="acc_0000")).findings] == ["misdirected_credit"]
    f = _fix_and_recheck(world, "acc_0001", "misdirected_credit")
    assert f.coins == 70 and f.detail["entries"][0]["account_id"] == "acc_0000"
    with read_session(world) as s:
        assert (s.get(Account, "acc_0000").coin_balance, s.get(Account, "acc_0001").coin_balance) == (70, 70)


def test_a_second_credit_under_the_store_transaction_id_is_a_duplicate(world):
    """Issue 11 case 1: a credit whose ref is the store's charge id, beside the purchase's own credit."""
    _credit_by_hand(world, "acc_0000", 70, "ch_abc123")
    f = _fix_and_recheck(world, "acc_0000", "duplicate_credit")
    assert f.purchase_id == "pur_0001" and f.detail["by"] == "store_transaction" and f.coins == -70
    with read_session(world) as s:
        assert s.get(Account, "acc_0000").coin_balance == 70


def test_a_charge_credited_under_the_store_id_without_a_purchase_is_not_credited_again(world):
    """Issue 11 case 1: a credit whose ref is the charge id, and no purchase record: the fix would credit twice."""
    _credit_by_hand(world, "acc_0003", 70, "ch_missing")
    (f,) = reconcile(world, Scope(account_id="acc_0003")).findings
    assert f.kind == "missing_purchase" and not f.fixable and "already credits this charge" in \
        f.detail["why_not_fixable"]
    assert reconcile(world, Scope(account_id="acc_0003"), fix=True, ctx=CTX).applied == []
    with read_session(world) as s:
        assert s.get(Account, "acc_0003").coin_balance == 70


# -- idempotency keys ---------------------------------------------------------------------------------------------
def test_a_drift_that_comes_back_after_new_entries_is_fixed_again(world):
    """Issue 11 case 5: the same numbers after new entries are a new drift, not a replay."""
    from supportdesk.domain.ledger import Posting
    from supportdesk.services.ledger import post

    first = _fix_and_recheck(world, "acc_0005", "balance_drift")
    with write_session(world) as s:  # 70 coins in, 70 out: the ledger sums to 0 again, with two new entries
        post(s, [Posting("acc_0005", "coin", 70, "grant"), Posting("acc_0005", "coin", -70, "gift_sent")], CTX,
             key="user:spend")
    with write_session(world) as s:
        s.get(Account, "acc_0005").coin_balance = 500  # the very same drift: cached 500, ledger 0
    (again,) = reconcile(world, Scope(account_id="acc_0005")).findings
    assert (again.detail["cached"], again.detail["ledger"]) == (first.detail["cached"], first.detail["ledger"])
    done = reconcile(world, Scope(account_id="acc_0005"), fix=True, ctx=CTX)
    assert [a["replayed"] for a in done.applied] == [False]
    with read_session(world) as s:
        assert s.get(Account, "acc_0005").coin_balance == 0


def test_a_caller_chosen_key_cannot_take_a_system_key():
    from supportdesk.services.once import caller_key

    assert caller_key("reconcile:uncredited_purchase:web:ch_uncredited") == \
        "user:reconcile:uncredited_purchase:web:ch_uncredited"
    assert caller_key("user:abc") == "user:abc" and caller_key(None) is None


# -- sync refuses amounts that cannot be a charge ------------------------------------------------------------------
@pytest.mark.parametrize("amount", [2**63, 0, -499, 10**13])
def test_sync_refuses_a_store_amount_that_cannot_be_a_charge(amount):
    from supportdesk.stores.errors import StoreBadResponse
    from supportdesk.stores.records import web_record

    with pytest.raises(StoreBadResponse, match=r"ch_bad with an amount of") as caught:
        web_record({"id": "ch_bad", "amount": amount, "currency": "usd", "created": 1_790_000_000,
                    "status": "succeeded", "metadata": {}})
    assert caught.value.store == "web"


def test_sync_refuses_an_apple_price_past_64_bits():
    from supportdesk.stores.errors import StoreBadResponse
    from supportdesk.stores.records import apple_record

    with pytest.raises(StoreBadResponse, match="App Store|Apple") as caught:
        apple_record({"transactionId": "2000000077", "productId": "coins_70", "purchaseDate": 1_790_000_000_000,
                      "price": 2**63 * 1000, "currency": "USD", "storefront": "USA"})
    assert "2000000077" in caught.value.message and caught.value.store == "apple"


def test_cli_decide_credits_the_bundle_once(world, db_url):
    import json

    from typer.testing import CliRunner

    from supportdesk.cli.main import app

    with write_session(world) as s:
        s.add(record("ch_cheap", "acc_0003", price=-499))
    base = ["--db", db_url, "reconcile", "--account", "acc_0003", "--offline", "--reason", "priced wrong", "--json"]
    refused = CliRunner().invoke(app, [*base, "--decide", "ch_cheap", "--yes"])
    assert refused.exit_code == 1 and "--credit or --refund-charge" in json.loads(refused.stdout)["error"]["message"]
    done = json.loads(CliRunner().invoke(app, [*base, "--decide", "ch_cheap", "--credit", "--yes"]).stdout)
    (decidable,) = [f for f in done["findings"] if f["decidable"]]
    assert decidable["detail"]["decisions"] == ["credit", "refund_charge"]
    assert [(a["kind"], a["replayed"], a["entries"][0]["amount"]) for a in done["applied"]] == \
        [("amount_mismatch", False, 70)]
    with read_session(world) as s:
        assert s.get(Account, "acc_0003").coin_balance == 70


def test_a_purchase_made_by_a_fix_has_an_id_shaped_like_imported_ones():
    from supportdesk.services.fixes import purchase_id_for

    made = purchase_id_for("apple", "2000000164239353")
    assert made == purchase_id_for("apple", "2000000164239353") != purchase_id_for("google", "2000000164239353")
    assert len(made) == len("pur_jpk1sobxhr3b") and made[4:].isalnum() and made[4:].islower()


def _store_refunded(engine, txn, refunded_minor):
    with write_session(engine) as s:
        sr = s.exec(select(StoreRecord).where(StoreRecord.store_transaction_id == txn)).one()
        sr.state, sr.refunded_minor, sr.refunded_at = "refunded", refunded_minor, AT
        s.add(sr)


def _clawbacks(engine, pid):
    with read_session(engine) as s:
        return [e.amount for e in s.exec(select(LedgerEntry).where(LedgerEntry.ref == pid,
                                                                   LedgerEntry.kind == "refund_clawback")
                                         .order_by(LedgerEntry.seq)).all()]


def test_a_store_refund_that_grows_after_its_clawback_is_clawed_back_for_the_new_part_only(world):
    """A web charge refunded a third, then two thirds, then whole at the processor: each part is found with the
    coins clawed back so far, fixed once under its own key, and nothing is left; the purchase stays refunded."""
    scope = Scope(account_id="acc_0000")
    _store_refunded(world, "ch_abc123", 33)
    (first,) = reconcile(world, scope).findings
    assert (first.kind, first.coins, first.detail["new_status"]) == ("unapplied_refund", -23, "refunded")
    assert "clawed" not in first.detail and first.key == "reconcile:unapplied_refund:web:ch_abc123"  # as before
    assert len(reconcile(world, scope, fix=True, ctx=CTX).applied) == 1
    assert reconcile(world, scope).findings == []

    _store_refunded(world, "ch_abc123", 66)  # the processor refunds another third
    (grown,) = reconcile(world, scope).findings
    assert (grown.coins, grown.detail["clawed"], grown.detail["new_status"]) == (-23, 23, "refunded")
    assert grown.key == "reconcile:unapplied_refund:web:ch_abc123:after:23:refunded:66"
    assert "Claw back 23 more coins" in describe(grown) and "23 coins were clawed back" in describe(grown)
    outcome, row = apply_one(world, grown, CTX)
    assert outcome == "applied" and row["coins_clawed"] == 23
    assert apply_one(world, grown, CTX)[1]["replayed"] is True  # the same confirmation again: nothing posted
    assert _clawbacks(world, "pur_0001") == [-23, -23]
    assert reconcile(world, scope).findings == []

    _store_refunded(world, "ch_abc123", 99)  # and the rest
    (rest,) = reconcile(world, scope).findings
    assert (rest.coins, rest.detail["clawed"]) == (-24, 46)
    apply_one(world, rest, CTX)
    assert _clawbacks(world, "pur_0001") == [-23, -23, -24]
    assert reconcile(world, scope).findings == []
    with read_session(world) as s:
        assert s.get(Account, "acc_0000").coin_balance == 0
        assert s.get(Purchase, "pur_0001").status == "refunded"
        (refund,) = s.exec(select(Refund).where(Refund.purchase_id == "pur_0001")).all()
        assert (refund.amount_minor, refund.coins_clawed) == (99, 70)
        assert audit.verify(s).verified


def test_a_grown_refund_confirmed_before_another_clawback_is_skipped(world):
    """The finding an agent confirmed said 23 coins were clawed back; by the time it is applied the clawbacks
    took more (another agent fixed the grown part first under a later finding): skipped, nothing posted."""
    scope = Scope(account_id="acc_0000")
    _store_refunded(world, "ch_abc123", 33)
    reconcile(world, scope, fix=True, ctx=CTX)
    _store_refunded(world, "ch_abc123", 66)
    (seen,) = reconcile(world, scope).findings
    _store_refunded(world, "ch_abc123", 99)
    reconcile(world, scope, fix=True, ctx=CTX)  # the whole rest, clawed under another key
    outcome, row = apply_one(world, seen, CTX)
    assert outcome == "skipped" and row["why"] == "vanished"
    assert _clawbacks(world, "pur_0001") == [-23, -47]


def test_a_refund_reported_again_with_the_same_amount_is_no_finding(world):
    """After its clawback, the store's record of the same partial refund changing otherwise (a resync, a later
    refund time) is no finding: only more money refunded is; so is a clawback larger than the store's share."""
    scope = Scope(account_id="acc_0000")
    _store_refunded(world, "ch_abc123", 33)
    reconcile(world, scope, fix=True, ctx=CTX)
    with write_session(world) as s:  # the store reports the same 33 again (a resync): nothing new
        sr = s.exec(select(StoreRecord).where(StoreRecord.store_transaction_id == "ch_abc123")).one()
        sr.refunded_at = datetime(2026, 10, 2, tzinfo=UTC)
        s.add(sr)
    assert reconcile(world, scope).findings == []
    _store_refunded(world, "ch_abc123", 32)  # less than before (as a store may round): never a credit back
    assert reconcile(world, scope).findings == []


def test_a_first_part_too_small_for_a_coin_is_still_followed_when_the_refund_grows(world):
    """One cent of 99 refunded: the clawback takes no coin (70 x 1 // 99), so no ledger entry, but its refund row
    succeeded; when the processor refunds more, the new part is found with nothing clawed and clawed back."""
    scope = Scope(account_id="acc_0000")
    _store_refunded(world, "ch_abc123", 1)
    (tiny,) = reconcile(world, scope).findings
    assert tiny.coins == 0
    assert len(reconcile(world, scope, fix=True, ctx=CTX).applied) == 1
    assert _clawbacks(world, "pur_0001") == []
    _store_refunded(world, "ch_abc123", 66)
    (grown,) = reconcile(world, scope).findings
    assert (grown.coins, grown.detail["clawed"]) == (-46, 0)
    assert grown.key == "reconcile:unapplied_refund:web:ch_abc123:after:0:refunded:66"
    assert apply_one(world, grown, CTX)[0] == "applied"
    assert _clawbacks(world, "pur_0001") == [-46]
    assert reconcile(world, scope).findings == []
