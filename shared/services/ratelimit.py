"""In-memory token buckets that throttle *failed* join and reconnect attempts.

Why failures only: a 4-symbol workshop code is a space of about 1 M, so guessing is the threat;
a classroom of learners joining with the right code must never be slowed down. Three budgets:

* per client IP   - one guesser is stopped quickly (``per_client``);
* overall         - many guessers together are capped (``overall``);
* per workshop    - wrong reconnect codes on one workshop (``reconnect_per_workshop``),
  since reconnect codes are the seat's only credential.

A request is refused (``RateLimited`` with ``retry_after`` seconds) *before* the code is looked
up when a budget it draws on is empty, so an exhausted guesser learns nothing more.
State lives in this process's memory (one limiter per platform instance; on Cloud Functions one
per instance), bounded by ``max_keys`` per budget. The clock is injectable for tests.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.domain.errors import RateLimited

L = TypeVar("L")

Clock = Callable[[], float]


@dataclass(frozen=True)
class Budget:
    """``capacity`` failures at once, refilled at ``per_minute`` failures per minute."""

    capacity: int
    per_minute: float

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass(frozen=True)
class JoinLimits:
    per_client: Budget = Budget(capacity=10, per_minute=10)
    overall: Budget = Budget(capacity=300, per_minute=300)
    reconnect_per_workshop: Budget = Budget(capacity=20, per_minute=20)
    #: Most buckets one budget keeps; full (idle) buckets are dropped first, then the oldest.
    max_keys: int = 10_000


class TokenBuckets:
    """One token bucket per key, all with the same budget. Thread-safe."""

    def __init__(self, budget: Budget, clock: Clock, max_keys: int) -> None:
        self._budget, self._clock, self._max_keys = budget, clock, max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, t)
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        tokens, then = self._buckets.get(key, (float(self._budget.capacity), now))
        refilled = tokens + max(0.0, now - then) * self._budget.per_second
        return min(float(self._budget.capacity), refilled)

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may fail again, or ``None`` if it has budget left."""
        with self._lock:
            level = self._level(key, self._clock())
        if level >= 1.0:
            return None
        return max(1, math.ceil((1.0 - level) / self._budget.per_second))

    def spend(self, key: str) -> None:
        """Record one failure for ``key``."""
        with self._lock:
            now = self._clock()
            self._buckets[key] = (max(0.0, self._level(key, now) - 1.0), now)
            self._buckets.move_to_end(key)
            if len(self._buckets) > self._max_keys:
                self._evict(now)

    def _evict(self, now: float) -> None:
        for key in [k for k in self._buckets if self._level(k, now) >= self._budget.capacity]:
            del self._buckets[key]
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)


_OVERALL = "*"


class JoinLimiter:
    """The three join budgets. ``check_*`` raise ``RateLimited``; ``failed_*`` spend budget."""

    def __init__(self, limits: JoinLimits | None = None, clock: Clock = time.monotonic) -> None:
        self.limits = limits or JoinLimits()
        keys = self.limits.max_keys
        self._clients = TokenBuckets(self.limits.per_client, clock, keys)
        self._overall = TokenBuckets(self.limits.overall, clock, 1)
        self._reconnects = TokenBuckets(self.limits.reconnect_per_workshop, clock, keys)

    def check_join(self, client: str) -> None:
        """Refuse if this client, or everyone together, has used up the failure budget."""
        wait = self._clients.retry_after(client) or self._overall.retry_after(_OVERALL)
        if wait:
            raise RateLimited("too many failed join attempts; try again later", retry_after=wait)

    def check_reconnect(self, workshop_id: str) -> None:
        wait = self._reconnects.retry_after(workshop_id)
        if wait:
            raise RateLimited(
                "too many wrong reconnect codes for this workshop; try again later",
                retry_after=wait,
            )

    def failed_join(self, client: str) -> None:
        self._clients.spend(client)
        self._overall.spend(_OVERALL)

    def failed_reconnect(self, client: str, workshop_id: str) -> None:
        self.failed_join(client)
        self._reconnects.spend(workshop_id)


class LimiterRegistry(Generic[L]):
    """One limiter per platform, found through the platform's store object (platforms themselves
    are unhashable dataclasses). Weak keys: a discarded platform takes its limiter with it."""

    def __init__(self, factory: Callable[[], L]) -> None:
        self._factory = factory
        self._limiters: weakref.WeakKeyDictionary[object, L] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, owner: object) -> L:
        """The limiter attached to ``owner``, created on first use."""
        with self._lock:
            limiter = self._limiters.get(owner)
            if limiter is None:
                limiter = self._limiters[owner] = self._factory()
            return limiter

    def install(self, owner: object, limiter: L) -> L:
        """Attach ``limiter`` to ``owner`` (tests: custom budgets or a fake clock)."""
        with self._lock:
            self._limiters[owner] = limiter
        return limiter


_join_limiters: LimiterRegistry[JoinLimiter] = LimiterRegistry(JoinLimiter)


def limiter_for(owner: object) -> JoinLimiter:
    """The join limiter attached to ``owner`` (the platform's store), created on first use."""
    return _join_limiters.get(owner)


def install_limiter(owner: object, limiter: JoinLimiter) -> JoinLimiter:
    """Attach ``limiter`` to ``owner`` (tests: custom budgets or a fake clock)."""
    return _join_limiters.install(owner, limiter)
