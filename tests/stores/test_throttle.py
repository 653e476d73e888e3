"""Client-side pacing under each store's published limits: a token bucket per endpoint."""

from __future__ import annotations

import pytest

from supportdesk.errors import ConfigError
from supportdesk.stores.throttle import SAFETY, Throttle, TokenBucket, store_throttle
from tests.stores.fakes import FakeTime


def test_bucket_lets_a_second_of_burst_through_then_paces_at_the_rate() -> None:
    time = FakeTime()
    bucket = TokenBucket(10, clock=time.clock, sleep=time.sleep)
    waits = [bucket.take() for _ in range(30)]
    assert waits[:10] == [0.0] * 10
    assert time.now == pytest.approx(1000 + 20 / 10)  # 20 more requests at 10/s
    assert max(waits) == pytest.approx(0.1)


def test_apple_buckets_follow_apple_limits_per_endpoint_and_sandbox_share() -> None:
    production = store_throttle("apple", {"environment": "Production"})
    sandbox = store_throttle("apple", {"environment": "Sandbox"})
    assert production.buckets["transaction"].rate == pytest.approx(50 * SAFETY)
    assert production.buckets["refund_history"].rate == pytest.approx(10 * SAFETY)
    assert production.buckets["order_lookup"].rate == pytest.approx(10 * SAFETY)
    assert sandbox.buckets["transaction"].rate == pytest.approx(5 * SAFETY)
    assert sandbox.buckets["order_lookup"].rate == pytest.approx(1 * SAFETY)


def test_endpoints_do_not_share_a_bucket() -> None:
    time = FakeTime()
    throttle = Throttle({"a": 1.0, "b": 1.0}, clock=time.clock, sleep=time.sleep)
    assert throttle.wait("a") == 0.0 and throttle.wait("b") == 0.0
    assert throttle.wait("a") > 0  # a's second request waits, b's first did not


def test_requests_per_second_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"\[stores.web\] requests_per_second must be a positive number"):
        store_throttle("web", {"requests_per_second": 0})
    assert store_throttle("google", {"requests_per_second": 5}).buckets["orders"].rate == pytest.approx(5 * SAFETY)
    assert store_throttle("web", {}).default.rate == pytest.approx(100 * SAFETY)


def test_google_spends_a_minutes_quota_at_once_then_paces() -> None:
    """3,000 queries a minute per bucket (Play Developer API quotas): a minute's worth without waiting."""
    time = FakeTime()
    throttle = store_throttle("google", {}, clock=time.clock, sleep=time.sleep)
    assert sum(throttle.wait("orders") for _ in range(2700)) == 0.0
    assert throttle.wait("orders") > 0 and throttle.wait("purchases") == 0.0


def test_retry_after_holds_the_endpoint_for_every_caller() -> None:
    time = FakeTime()
    throttle = Throttle({"a": 10.0, "b": 10.0}, clock=time.clock, sleep=time.sleep)
    throttle.hold("a", 2.0)  # one lookup worker was told 429, Retry-After: 2
    assert throttle.wait("a") == pytest.approx(2.0)  # another worker's next request waits it out too
    assert throttle.wait("b") == 0.0  # another endpoint is not held


def test_lookups_run_on_the_pool_in_order_with_not_found_as_answers() -> None:
    import threading

    from supportdesk.stores.errors import StoreNotFound
    from supportdesk.stores.lookups import each, lookup_workers

    class Client:
        lookup_workers = 4

    threads = set()

    def get(i: int) -> int:
        threads.add(threading.get_ident())
        if i == 3:
            raise StoreNotFound("web", "no such charge")
        return i * 10

    got = each(Client(), get, list(range(20)))
    assert [i for i, _ in got] == list(range(20))
    assert got[2] == (2, 20) and isinstance(got[3][1], StoreNotFound)
    assert threading.get_ident() not in threads
    assert lookup_workers("web", {}) == 8
    with pytest.raises(ConfigError, match=r"\[stores.apple\] lookup_workers must be a whole number from 1 to 32"):
        lookup_workers("apple", {"lookup_workers": 0})
