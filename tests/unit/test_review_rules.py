"""The pure review rules: thresholds from the policy, stable ids, integer USD equivalents, ages, scores."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from supportdesk.config import DEFAULT_POLICY
from supportdesk.domain import review as r

T = r.Thresholds.from_policy(DEFAULT_POLICY["review"])


def test_thresholds_come_from_the_policy():
    assert (T.duplicate_ms, T.velocity_purchases, T.velocity_usd_minor) == (120_000, 5, 50_000)
    assert (T.laundering_percent, T.refund_count, T.refund_ms) == (80, 3, 90 * 86_400_000)
    custom = r.Thresholds.from_policy({**DEFAULT_POLICY["review"], "duplicate_charge_seconds": 60})
    assert custom.duplicate_ms == 60_000


def test_flag_id_is_stable_and_depends_on_rule_and_subject():
    assert r.flag_id("velocity", "pur_1") == r.flag_id("velocity", "pur_1")
    assert r.flag_id("velocity", "pur_1") != r.flag_id("underage", "pur_1")
    assert r.flag_id("velocity", "pur_1") != r.flag_id("velocity", "pur_2")
    assert r.flag_id("velocity", "pur_1").startswith("flg_") and len(r.flag_id("velocity", "pur_1")) == 20


def test_usd_equivalent_is_exact_integer_arithmetic():
    assert r.usd_equivalent(375_000, 24_999, 375_000) == 24_999  # KRW at the KR price of the bundle
    assert 2 * r.usd_equivalent(375_000, 24_999, 375_000) <= 50_000  # the 499.98 near miss
    assert r.usd_equivalent(2490, 499, 2990) == 415  # a promotion price at the base rate, rounded down
    assert r.usd_equivalent(999, 999, 999) == 999
    assert r.usd_equivalent(100, None, 100) is None and r.usd_equivalent(100, 99, 0) is None


@given(st.integers(0, 10**12), st.integers(1, 10**7), st.integers(1, 10**9))
def test_usd_equivalent_rounds_down_and_never_overshoots(price, us, local):
    usd = r.usd_equivalent(price, us, local)
    assert isinstance(usd, int) and usd * local <= price * us < (usd + 1) * local


def test_age_counts_whole_years_and_leap_birthdays():
    assert r.age_on(date(2008, 10, 2), date(2026, 10, 1)) == 17
    assert r.age_on(date(2008, 10, 1), date(2026, 10, 1)) == 18
    assert r.age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert r.age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18
    assert r.is_underage(date(2007, 10, 2), date(2026, 10, 1), 19)
    assert not r.is_underage(date(2007, 10, 1), date(2026, 10, 1), 19)
    assert not r.is_underage(None, date(2026, 10, 1), 19)


def test_laundering_threshold_is_80_percent_not_79():
    assert r.laundering_fires(560, 700, 80)
    assert not r.laundering_fires(553, 700, 80)
    assert not r.laundering_fires(663, 840, 80)
    assert not r.laundering_fires(0, 0, 80)


def test_scores_rank_the_queue_within_1_to_100():
    assert r.score_duplicate(0, T) == 100 and r.score_duplicate(120_000, T) == 60
    assert r.score_underage(17, 18) == 80 and r.score_underage(12, 19) == 100
    assert r.score_velocity(6, 0, T) == 60 and r.score_velocity(3, 74_997, T) == 50
    assert r.score_laundering(700, 700) == 100 and r.score_laundering(560, 700) == 80
    assert r.score_refund_abuse(3, T) == 60 and r.score_refund_abuse(5, T) == 80
    assert r.score_region(False) < r.score_region(True)


def test_review_actions_never_relax_an_account():
    assert r.account_status_after("limit", "active") == "limited"
    assert r.account_status_after("suspend", "limited") == "suspended"
    assert r.account_status_after("limit", "suspended") is None
    assert r.account_status_after("dismiss", "active") is None
    assert r.account_status_after("confirm", "active") is None
    assert set(r.FLAG_STATUS) == set(r.ACTIONS)


def test_one_flag_per_burst():
    day = 86_400_000
    rows = [{"account_id": "a", "t": t} for t in (0, 1, day, day + 1, 3 * day)] + [{"account_id": "b", "t": 5}]
    kept = r.first_of_bursts(rows, day)
    assert [(k["account_id"], k["t"]) for k in kept] == [("a", 0), ("a", day + 1), ("a", 3 * day), ("b", 5)]
