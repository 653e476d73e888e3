"""Finding rules without a database: keys that make fixes exactly-once, partial clawbacks, summaries."""

from hypothesis import given
from hypothesis import strategies as st

from supportdesk.domain.findings import KINDS, Finding, clawback_coins, summarise


def test_keys_derive_from_the_finding_not_the_run():
    a = Finding("uncredited_purchase", "acc_1", "google", "GPA.1", "pur_1", 700)
    b = Finding("uncredited_purchase", "acc_1", "google", "GPA.1", "pur_1", 700, {"other": "evidence"})
    assert a.key == b.key == "reconcile:uncredited_purchase:google:GPA.1"
    assert Finding("duplicate_credit", "acc_1", "web", "ch_1", "pur_1", -70).key == "reconcile:duplicate_credit:pur_1"


def test_a_new_drift_after_a_resync_gets_a_new_key():
    first = Finding("balance_drift", "acc_1", None, None, None, 5, {"asset": "coin", "cached": 10, "ledger": 15})
    later = Finding("balance_drift", "acc_1", None, None, None, 3, {"asset": "coin", "cached": 12, "ledger": 15})
    assert first.key != later.key


def test_amount_mismatch_and_unlinked_records_are_not_fixable():
    assert not Finding("amount_mismatch", "acc_1", "web", "ch_1", "pur_1", 0).fixable
    assert not Finding("missing_purchase", None, "apple", "200", None, 70).fixable
    assert Finding("missing_purchase", "acc_1", "apple", "200", None, 70).fixable


def test_full_and_partial_clawbacks():
    assert clawback_coins(700, 999, None) == 700            # full refund: no amount given
    assert clawback_coins(700, 999, 999) == 700
    assert clawback_coins(700, 999, 499) == 349              # rounded down: never claw back more than refunded
    assert clawback_coins(3500, 5000, 2500) == 1750          # KRW, zero decimals: whole units


@given(st.integers(0, 10**6), st.integers(1, 10**7), st.integers(0, 10**7))
def test_clawback_never_exceeds_the_bundle_or_the_refunded_share(coins, price, refunded):
    out = clawback_coins(coins, price, refunded)
    assert 0 <= out <= coins
    if refunded < price:
        assert out * price <= coins * refunded


def test_summary_counts_every_kind():
    s = summarise([Finding("balance_drift", "a", None, None, None, 0, {}), Finding("balance_drift", "b", None, None, None, 0, {})])
    assert s["by_kind"]["balance_drift"] == 2 and set(s["by_kind"]) == set(KINDS) and s["accounts"] == 2
