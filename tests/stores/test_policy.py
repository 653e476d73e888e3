from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportdesk.stores.errors import StoreRateLimited, StoreTimeout, StoreUnavailable
from supportdesk.stores.policy import RATE_LIMITED, TIMEOUT, UNAVAILABLE, Transient, parse_retry_after
from tests.stores.fakes import FakeTime


def failing(*failures: Transient, result: str = "ok"):  # type: ignore[no-untyped-def]
    calls: list[float] = []

    def attempt(timeout: float) -> str:
        calls.append(timeout)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result

    return attempt, calls


def test_retries_then_succeeds_with_growing_backoff() -> None:
    time = FakeTime()
    attempt, calls = failing(Transient(UNAVAILABLE, "HTTP 503"), Transient(UNAVAILABLE, "HTTP 503"))
    assert time.policy(base_delay=1.0).run("google", "x", attempt, idempotent=True) == "ok"
    assert len(calls) == 3
    assert time.sleeps == [0.75, 1.5]  # equal jitter at 0.5: 3/4 of 1 s, then of 2 s


def test_retry_after_is_honoured_and_counted() -> None:
    time = FakeTime()
    limited = Transient(RATE_LIMITED, "HTTP 429", retry_after=7, status=429)
    attempt, calls = failing(limited, limited, limited, limited)
    with pytest.raises(StoreRateLimited) as err:
        time.policy().run("google", "voided purchases", attempt, idempotent=True)
    assert time.sleeps == [7, 7, 7]
    assert len(calls) == 4
    assert err.value.retries == 3
    assert err.value.message == "Google Play is rate-limiting us (voided purchases); retried 3 times over 21 s"
    assert err.value.to_json()["error"]["code"] == "store_rate_limited"


def test_gives_up_when_retry_after_passes_the_deadline() -> None:
    time = FakeTime()
    attempt, calls = failing(Transient(RATE_LIMITED, "HTTP 429", retry_after=600))
    with pytest.raises(StoreRateLimited, match="asked us to wait 600 s, past our deadline"):
        time.policy(deadline=30).run("apple", "x", attempt, idempotent=True)
    assert len(calls) == 1 and time.sleeps == []


def test_non_idempotent_request_is_not_retried_after_a_timeout() -> None:
    time = FakeTime()
    attempt, calls = failing(Transient(TIMEOUT, "no answer"))
    with pytest.raises(StoreTimeout, match="may or may not have been applied") as err:
        time.policy().run("google", "refund of order 1", attempt, idempotent=False)
    assert len(calls) == 1 and err.value.retries == 0


def test_non_idempotent_request_is_retried_when_the_store_did_not_act() -> None:
    time = FakeTime()
    attempt, calls = failing(Transient(UNAVAILABLE, "cannot connect", safe=True))
    assert time.policy().run("google", "refund", attempt, idempotent=False) == "ok"
    assert len(calls) == 2


def test_unavailable_after_retries_names_store_and_cause() -> None:
    time = FakeTime()
    attempt, calls = failing(*[Transient(UNAVAILABLE, "HTTP 500", status=500)] * 4)
    with pytest.raises(StoreUnavailable) as err:
        time.policy().run("web", "charge ch_1", attempt, idempotent=True)
    assert err.value.message.startswith("The web payment processor is unavailable (charge ch_1: HTTP 500); "
                                        "retried 3 times")
    assert err.value.details == {"store": "web", "retries": 3, "status": 500}


def test_attempt_timeout_shrinks_to_the_remaining_deadline() -> None:
    time = FakeTime()
    timeouts: list[float] = []

    def slow_then_ok(timeout: float) -> str:
        timeouts.append(timeout)
        if len(timeouts) == 1:
            time.now += timeout  # the first attempt uses its whole timeout
            raise Transient(TIMEOUT, "no answer")
        return "ok"

    time.policy(timeout=10, deadline=12, base_delay=2).run("apple", "x", slow_then_ok, idempotent=True)
    assert timeouts == [10, pytest.approx(12 - 10 - 1.5)]


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:05 GMT", now=lambda: now) == 5.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
