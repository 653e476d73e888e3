"""The refund window counted to the customer's complaint, a lead's override, and partial amounts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportdesk.domain.money import parse_money
from supportdesk.domain.refunds import OVERRIDABLE, decide, partial, window_span
from supportdesk.errors import InvalidInput
from tests.unit.test_refund_rules import BOUGHT, DAY, POLICY, facts

HOUR = timedelta(hours=1)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(bought=instants, now=instants, complaint=st.none() | instants)
def test_the_window_never_ends_after_now_nor_runs_longer_than_to_now(bought, now, complaint) -> None:
    counted = window_span(bought, now, complaint, "T-1")
    assert counted.start == bought and counted.end <= now
    assert counted.age <= now - bought  # a complaint can only shorten the count, never lengthen it
    assert (counted.basis == "ticket") == (complaint is not None and bought <= complaint <= now)
    assert counted.end == (complaint if counted.basis == "ticket" else now)


@given(days=st.integers(0, 60), offset=st.sampled_from([-timedelta(microseconds=1), timedelta(0),
                                                          timedelta(microseconds=1)]))
def test_the_web_window_edge_is_counted_to_the_ticket(days, offset) -> None:
    """Allowed up to exactly N days after the charge (at the ticket's creation), refused a microsecond later,
    however long the agent took to reach the ticket."""
    complaint = BOUGHT + timedelta(days=POLICY.web_window_days) + offset
    f = dataclasses.replace(facts("web", age=complaint - BOUGHT + timedelta(days=days)), complaint_at=complaint,
                            ticket_id="T-9")
    d = decide(f, POLICY)
    assert d.rule == ("web.window" if offset > timedelta(0) else "web.full")
    assert d.counted is not None and d.counted.end == complaint and "T-9 opened" in d.window


def test_a_duplicate_charge_reported_within_hours_is_refunded_months_later() -> None:
    late = dataclasses.replace(facts("web", age=294 * DAY), cause="duplicate")
    assert decide(late, POLICY).rule == "web.window"
    worked = dataclasses.replace(late, complaint_at=BOUGHT + 5 * HOUR, ticket_id="T-1002")
    d = decide(worked, POLICY)
    assert (d.outcome, d.rule) == ("refund", "web.full")
    assert d.window.startswith("counted from the charge 2026-10-01 12:00 to T-1002 opened 2026-10-01 17:00 UTC")


def test_a_ticket_opened_before_the_charge_does_not_count() -> None:
    f = dataclasses.replace(facts("web", age=20 * DAY), complaint_at=BOUGHT - HOUR, ticket_id="T-1")
    d = decide(f, POLICY)
    assert d.rule == "web.window" and "was opened before the charge" in d.window and "is 20 days old" in d.explanation


@pytest.mark.parametrize(("f", "rule", "overridden"), [
    (facts("web", age=40 * DAY), "web.full", "web.window"),
    (facts("google", age=40 * DAY, refunds=3), "google.refund", "google.window + google.refund_limit"),
    (facts("google", refunds=3), "google.refund", "google.refund_limit"),
])
def test_a_lead_override_sets_the_policy_aside(f, rule, overridden) -> None:
    refused = decide(f, POLICY)
    assert refused.outcome == "deny" and refused.overridable and refused.rule in OVERRIDABLE
    d = decide(f, POLICY, override=True)
    assert (d.outcome, d.rule, d.overridden, d.overridable) == ("refund", rule, overridden, False)
    assert d.explanation.startswith("As an exception to our policy, ")


@pytest.mark.parametrize("f", [facts("web", status="refunded"), facts("web", dispute="needs_response"),
                               facts("apple"), facts("web", spent=350)])
def test_facts_are_not_overridden(f) -> None:
    d = decide(f, POLICY, override=True)
    assert d.overridden is None and not d.overridable and d == decide(f, POLICY)


@given(spent=st.integers(0, 349), price=st.integers(1, 10**9), amount_share=st.floats(0, 1))
def test_a_partial_refund_claws_back_in_proportion_never_more(spent, price, amount_share) -> None:
    full = decide(facts("web", spent=spent, price=price), POLICY)
    if full.outcome != "refund":
        return
    amount = max(1, int(full.refund_minor * amount_share))
    d = partial(full, amount, "web")
    assert d.refund_minor == amount and d.coins_clawback <= full.coins_clawback <= 350
    assert d.coins_clawback == full.coins_clawback * amount // full.refund_minor
    assert (d.partial_of is None) == (amount == full.refund_minor)


@pytest.mark.parametrize(("f", "store", "amount", "words"), [
    (facts("web"), "web", 0, "more than 0"),
    (facts("web"), "web", 500, "more than the 4.99 USD"),
    (facts("google"), "google", 200, "Google Play refunds whole orders only"),
    (facts("apple"), "apple", 100, "only Apple refunds App Store purchases"),
    (facts("web", age=40 * DAY), "web", 100, "no refund to take a part of"),
])
def test_amounts_that_are_refused(f, store, amount, words) -> None:
    with pytest.raises(InvalidInput, match=words):
        partial(decide(f, POLICY), amount, store)


def test_the_full_amount_is_the_decision_itself() -> None:
    d = decide(facts("google"), POLICY)
    assert partial(d, 499, "google") is d


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("4.56", "USD", 456), ("4.5", "USD", 450), ("1,234.5", "USD", 123450), ("610", "JPY", 610), (".5", "USD", 50),
])
def test_an_amount_typed_in_major_units(text, currency, minor) -> None:
    assert parse_money(text, currency) == minor


@pytest.mark.parametrize(("text", "currency"), [("4.567", "USD"), ("610.5", "JPY"), ("abc", "USD"), ("", "USD"),
                                                ("1,23", "USD"), ("-1", "USD")])
def test_amounts_that_are_not_money(text, currency) -> None:
    with pytest.raises(InvalidInput):
        parse_money(text, currency)
