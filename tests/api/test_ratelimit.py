"""The join rate limits on a fake clock: per-client penalties, token buckets as flood
detectors, and the rule that nobody is refused for others' failures."""

from __future__ import annotations

import pytest

from shared.domain.errors import RateLimited
from shared.services.ratelimit import (
    Budget,
    JoinLimiter,
    JoinLimits,
    TokenBuckets,
    client_key,
    expected_seconds_to_find_a_code,
)
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


def test_a_client_is_locked_out_only_after_its_free_failures_then_doubling() -> None:
    clock = FakeClock()
    limiter = JoinLimiter(JoinLimits(free_failures=2, first_penalty=4), clock=clock)
    for _ in range(2):
        limiter.check_join("192.0.2.4")
        limiter.failed_join("192.0.2.4")
    limiter.check_join("192.0.2.4")  # typos are free
    limiter.failed_join("192.0.2.4")

    waits = []
    for _ in range(3):
        with pytest.raises(RateLimited) as refused:
            limiter.check_join("192.0.2.4")
        waits.append(refused.value.retry_after)
        clock.advance(refused.value.retry_after)
        limiter.check_join("192.0.2.4")
        limiter.failed_join("192.0.2.4")
    assert waits == [4, 8, 16]
    limiter.check_join("192.0.2.5")  # another client is untouched


def test_lockouts_stop_growing_at_the_maximum_and_are_forgotten_after_a_quiet_day() -> None:
    limits = JoinLimits(free_failures=0, first_penalty=1, max_penalty=100, forget_after=1000)
    clock = FakeClock()
    limiter = JoinLimiter(limits, clock=clock)
    for _ in range(20):
        clock.advance(100)
        limiter.failed_join("192.0.2.4")
    with pytest.raises(RateLimited) as refused:
        limiter.check_join("192.0.2.4")
    assert refused.value.retry_after == 100
    clock.advance(1000)
    limiter.check_join("192.0.2.4")
    limiter.failed_join("192.0.2.4")  # a fresh start: the first failure costs 1 s again
    with pytest.raises(RateLimited) as refused:
        limiter.check_join("192.0.2.4")
    assert refused.value.retry_after == 1


def test_an_ipv6_client_is_its_64_prefix() -> None:
    limiter = JoinLimiter(JoinLimits(free_failures=0), clock=FakeClock())
    limiter.failed_join("2001:db8:1:2::1")
    with pytest.raises(RateLimited):
        limiter.check_join("2001:db8:1:2:ffff::9")  # same /64: the same subscriber
    limiter.check_join("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("not-an-ip") == "not-an-ip"


def test_a_flood_never_refuses_a_client_that_has_not_failed() -> None:
    clock = FakeClock()
    limiter = JoinLimiter(JoinLimits(overall=Budget(10, 10)), clock=clock)
    for i in range(1000):
        limiter.failed_join(f"10.0.{i // 256}.{i % 256}")
        limiter.failed_reconnect(f"10.1.{i // 256}.{i % 256}", "w1")
    limiter.check_join("192.0.2.99")  # fresh: never refused, whatever others did


def test_in_a_flood_a_failing_client_has_no_free_failures_and_a_long_lockout() -> None:
    limits = JoinLimits(overall=Budget(10, 10), flood_penalty=900)
    limiter = JoinLimiter(limits, clock=FakeClock())
    for i in range(10):
        limiter.failed_join(f"10.0.0.{i}")  # the normal budget: free failures, no lockout
        limiter.check_join(f"10.0.0.{i}")
    limiter.failed_join("10.0.1.1")  # the budget is empty: a flood
    with pytest.raises(RateLimited) as refused:
        limiter.check_join("10.0.1.1")
    assert refused.value.retry_after == 900


def test_wrong_reconnect_codes_flood_only_their_workshop() -> None:
    limits = JoinLimits(reconnect_per_workshop=Budget(3, 3), flood_penalty=600)
    limiter = JoinLimiter(limits, clock=FakeClock())
    for i in range(3):
        limiter.failed_reconnect(f"10.0.0.{i}", "w1")
    limiter.failed_reconnect("10.0.1.1", "w1")
    limiter.failed_reconnect("10.0.1.2", "w2")
    with pytest.raises(RateLimited) as refused:
        limiter.check_join("10.0.1.1")
    assert refused.value.retry_after == 600
    limiter.check_join("10.0.1.2")  # w2 is not flooded: a free failure


@pytest.mark.parametrize("flood", [False, True])
def test_the_documented_guess_schedule_is_what_the_limiter_enforces(flood: bool) -> None:
    """docs/protocol.md's cost table comes from ``seconds_until_guess``: an address that
    retries as soon as it is allowed makes its k-th guess exactly then."""
    limits = JoinLimits(overall=Budget(0, 1) if flood else Budget(10**9, 10**9))
    clock = FakeClock(start=0.0)
    limiter = JoinLimiter(limits, clock=clock)
    for guess in range(1, 40):
        try:
            limiter.check_join("192.0.2.4")
        except RateLimited as refused:
            clock.advance(refused.retry_after)
            limiter.check_join("192.0.2.4")
        assert clock.now == limits.seconds_until_guess(guess, flood), guess
        limiter.failed_join("192.0.2.4")


def test_expected_cost_grows_with_the_code_space_and_shrinks_with_addresses() -> None:
    limits = JoinLimits()
    one = expected_seconds_to_find_a_code(limits, 10, 1, 31**4, flood=False)
    many = expected_seconds_to_find_a_code(limits, 10, 1000, 31**4, flood=True)
    assert one > 300 * 86400  # one address, ten live workshops: most of a year
    assert 2 * 86400 < many < 5 * 86400  # a thousand addresses: days, not minutes
