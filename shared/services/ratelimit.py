"""Rate limits on *failed* join and reconnect attempts, in this process's memory.

A 4-symbol workshop code is a space of about 1 M, so guessing is the threat; but a correct
code must never be refused because of *someone else's* failures (a flood of wrong codes from
many addresses once locked every join on the platform out). So:

* Only a client's own failures ever refuse it. Each client (an IPv4 address, or an IPv6 /64:
  one subscriber's allocation) has a few free failures (typos), then every further failure
  locks it out for twice as long as the one before (``first_penalty`` doubling up to
  ``max_penalty``; one try per ``max_penalty`` from then on). A locked-out client is refused
  (``RateLimited`` with ``retry_after``) *before* its code is looked up, so it learns nothing.
  A client with no failure for ``forget_after`` starts afresh; a success does not (an attacker
  holding one valid code could otherwise launder its penalties with it).
* The overall and per-workshop budgets (token buckets of failures) never refuse anyone.
  They detect a flood: while the overall budget, or for a wrong reconnect code that workshop's
  budget, is empty, a failing client has no free failures and is locked out for at least
  ``flood_penalty``. A client that has not failed is never affected, so a correct code from a
  fresh address always goes through; the cost for an attacker becomes a number of addresses
  (the formula and a table are in docs/protocol.md, "Join rate limits").

State is bounded by ``max_clients`` (the least recently failed are forgotten first). The
clock is injectable for tests.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.domain.errors import RateLimited

log = logging.getLogger(__name__)

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
    #: Failures a client may make before it is locked out at all (typos happen).
    free_failures: int = 5
    #: Lockout after the first failure beyond the free ones; it doubles with each further one.
    first_penalty: float = 1.0
    #: Longest lockout: a persistent guesser gets one try per this many seconds.
    max_penalty: float = 3600.0
    #: Shortest lockout after a failure while a flood is detected (no free failures then).
    flood_penalty: float = 900.0
    #: A client with no failure for this long starts afresh.
    forget_after: float = 86400.0
    #: Failures of all clients together that count as normal; beyond it, a flood.
    overall: Budget = Budget(capacity=300, per_minute=300)
    #: Wrong reconnect codes on one workshop that count as normal; beyond it, a flood there.
    reconnect_per_workshop: Budget = Budget(capacity=20, per_minute=20)
    #: Most clients remembered (about 150 bytes each): an attacker needs more addresses than
    #: this, used in rotation, before a locked-out address is forgotten early.
    max_clients: int = 200_000
    #: Most workshops whose reconnect failures are tracked.
    max_keys: int = 10_000

    def lockout(self, failures: int, flood: bool) -> float:
        """Seconds a client is locked out after its ``failures``-th failure (counted with
        the free ones; a failure during a flood uses up whatever was still free)."""
        if flood:
            failures = max(failures, self.free_failures + 1)
        beyond = failures - self.free_failures
        seconds = 0.0 if beyond <= 0 else self.first_penalty * 2.0 ** min(beyond - 1, 62)
        if flood:
            seconds = max(seconds, self.flood_penalty)
        return min(seconds, self.max_penalty)

    def seconds_until_guess(self, guesses: int, flood: bool) -> float:
        """When one address can make its ``guesses``-th failed attempt, starting now (the
        sum of the lockouts before it). ``flood``: every failure falls in a flood."""
        elapsed, counted = 0.0, 0
        for failure in range(1, guesses):
            counted = (max(counted, self.free_failures) if flood else counted) + 1
            step = self.lockout(counted, flood)
            elapsed += step
            if step >= self.max_penalty:  # from here on, one try per max_penalty
                return elapsed + (guesses - 1 - failure) * self.max_penalty
        return elapsed


def expected_seconds_to_find_a_code(
    limits: JoinLimits, live_codes: int, addresses: int, space: int, flood: bool
) -> float:
    """Expected time for ``addresses`` clients guessing in parallel (random codes, no
    repeats) to hit one of ``live_codes`` live codes in a space of ``space``: about
    ``(space + 1) / (live_codes + 1)`` guesses in all, so that many per address, each address
    paced by its own lockouts."""
    guesses = math.ceil((space + 1) / (live_codes + 1) / addresses)
    return limits.seconds_until_guess(guesses, flood)


def client_key(client: str) -> str:
    """The unit a client is limited as: an IPv4 address, an IPv6 /64, else the text itself."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


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


@dataclass
class _Penalty:
    failures: int
    last_failure: float
    locked_until: float


class ClientPenalties:
    """Per-client failure counts and lockouts (see the module docstring). Thread-safe."""

    def __init__(self, limits: JoinLimits, clock: Clock) -> None:
        self._limits, self._clock = limits, clock
        self._clients: OrderedDict[str, _Penalty] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or ``None`` if it may now."""
        with self._lock:
            record = self._current(client_key(client), self._clock())
            if record is None:
                return None
            wait = record.locked_until - self._clock()
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, client: str, *, flood: bool) -> None:
        key, now = client_key(client), self._clock()
        with self._lock:
            record = self._current(key, now) or _Penalty(0, now, now)
            record.failures = (
                max(record.failures, self._limits.free_failures) if flood else record.failures
            ) + 1
            record.last_failure = now
            record.locked_until = now + self._limits.lockout(record.failures, flood)
            self._clients[key] = record
            self._clients.move_to_end(key)
            while len(self._clients) > self._limits.max_clients:
                self._clients.popitem(last=False)

    def _current(self, key: str, now: float) -> _Penalty | None:
        record = self._clients.get(key)
        if record is not None and now - record.last_failure >= self._limits.forget_after:
            del self._clients[key]
            return None
        return record


class JoinLimiter:
    """``check_join`` raises ``RateLimited`` for a locked-out client; ``failed_*`` record a
    failure (and feed the flood detectors). Nothing else ever refuses a request."""

    def __init__(self, limits: JoinLimits | None = None, clock: Clock = time.monotonic) -> None:
        self.limits = limits or JoinLimits()
        self._penalties = ClientPenalties(self.limits, clock)
        self._overall = TokenBuckets(self.limits.overall, clock, 1)
        self._reconnects = TokenBuckets(
            self.limits.reconnect_per_workshop, clock, self.limits.max_keys
        )
        self._flooded = False

    def check_join(self, client: str) -> None:
        """Refuse if *this client's* own failures have locked it out."""
        wait = self._penalties.retry_after(client)
        if wait:
            raise RateLimited("too many failed join attempts; try again later", retry_after=wait)

    def failed_join(self, client: str) -> None:
        self._record(client, flood=self._spend(self._overall, _OVERALL))

    def failed_reconnect(self, client: str, workshop_id: str) -> None:
        workshop_flood = self._spend(self._reconnects, workshop_id)
        overall_flood = self._spend(self._overall, _OVERALL)
        self._record(client, flood=workshop_flood or overall_flood)

    @staticmethod
    def _spend(buckets: TokenBuckets, key: str) -> bool:
        """Spend one failure; whether the budget was already empty (a flood)."""
        flood = buckets.retry_after(key) is not None
        buckets.spend(key)
        return flood

    def _record(self, client: str, *, flood: bool) -> None:
        if flood != self._flooded:
            self._flooded = flood
            log.warning(
                "join failures above the normal rate" if flood else "join failures normal again",
                extra={"flood": flood},
            )
        self._penalties.failed(client, flood=flood)


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
