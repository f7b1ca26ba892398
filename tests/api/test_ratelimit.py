"""Token buckets behind the join rate limits, on a fake clock."""

from __future__ import annotations

import pytest

from shared.domain.errors import RateLimited
from shared.services.ratelimit import Budget, JoinLimiter, JoinLimits, TokenBuckets
from tests.support.fakes import FakeClock


def test_a_bucket_allows_capacity_failures_then_refills() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Budget(capacity=3, per_minute=6), clock, max_keys=10)
    for _ in range(3):
        assert buckets.retry_after("a") is None
        buckets.spend("a")

    assert buckets.retry_after("a") == 10  # one token per 10 s
    clock.advance(9.5)
    assert buckets.retry_after("a") == 1
    clock.advance(0.5)
    assert buckets.retry_after("a") is None
    assert buckets.retry_after("b") is None


def test_refill_never_exceeds_capacity() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Budget(capacity=2, per_minute=60), clock, max_keys=10)
    clock.advance(3600)
    for _ in range(2):
        buckets.spend("a")
    assert buckets.retry_after("a") == 1


def test_memory_is_bounded_by_max_keys() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Budget(capacity=5, per_minute=1), clock, max_keys=100)
    for i in range(1000):
        buckets.spend(f"10.0.{i // 256}.{i % 256}")
    assert len(buckets._buckets) <= 100


def test_limiter_refuses_before_lookup_and_names_retry_after() -> None:
    limiter = JoinLimiter(JoinLimits(per_client=Budget(2, 2)), clock=FakeClock())
    limiter.failed_join("1.2.3.4")
    limiter.failed_join("1.2.3.4")

    with pytest.raises(RateLimited) as refused:
        limiter.check_join("1.2.3.4")
    assert refused.value.retry_after == 30
    limiter.check_join("5.6.7.8")


def test_reconnect_failures_spend_client_and_workshop_budgets() -> None:
    limiter = JoinLimiter(
        JoinLimits(per_client=Budget(100, 1), reconnect_per_workshop=Budget(1, 1)),
        clock=FakeClock(),
    )
    limiter.failed_reconnect("1.2.3.4", "w1")

    with pytest.raises(RateLimited):
        limiter.check_reconnect("w1")
    limiter.check_reconnect("w2")
