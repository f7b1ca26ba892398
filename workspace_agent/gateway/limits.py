"""Admission control: the kill switch, the per-seat request rate, token limits and USD budgets.

Every check runs *before* anything is sent upstream. Token and USD limits compare the seat's
completed totals *plus what its requests in flight may still use* with its limits: each
admitted request reserves its maximum (``Reservation``: prompt tokens at most the body's
byte count, output tokens at most its ``max_tokens``, USD at the model's rates) and gives the
reservation back when it completes, when its usage is recorded instead (``release``). So a
seat that sends many requests at once is admitted only while completed + reserved is below
each limit, and the seat ends at most one request's maximum above a limit, never one
request's maximum per request in flight. A request alone is checked against completed
totals only, as before: the reservation of the request being admitted is not counted.
The input-token limit counts every token the model read (input, cache writes, cache reads).

Refusals that retrying cannot fix (budget reached, access paused, workshop ended) are HTTP
429 with ``x-should-retry: false``: Claude Code prints them as
``API Error: Request rejected (429) · <message>``. A 403 would be shown as a login problem
("Failed to authenticate", "Please run /login"), which these are not.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.domain.model_policy import ModelPolicy
from workspace_agent.gateway.usage import UsageLedger

RATE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Reservation:
    """The most one admitted request can still add to its seat's totals."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class _Reserved:
    requests: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, r: Reservation, sign: int) -> None:
        self.requests += sign
        self.prompt_tokens += sign * r.prompt_tokens
        self.output_tokens += sign * r.output_tokens
        self.cost_usd += sign * r.cost_usd


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, in Anthropic error terms."""

    kind: str  # Anthropic error type
    message: str
    #: False for refusals that retrying cannot fix (the SDK is told not to retry).
    retry: bool
    retry_after: int | None = None
    #: Which rule refused: ``ended``, ``paused``, ``model``, ``budget`` or ``rate`` (the
    #: per-seat error counters, ``UsageLedger.count_refusal``).
    reason: str = ""


class Governor:
    """Decides whether a seat may send a model request now, and records admissions."""

    def __init__(
        self,
        policy: ModelPolicy,
        ledger: UsageLedger,
        *,
        paused: bool = False,
        paused_seats: Iterable[int] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.ledger = ledger
        self.paused = paused
        #: Seats whose model access alone the instructor paused (besides ``paused``).
        self.paused_seats: set[int] = set(paused_seats)
        #: Set once the workshop is stopped; never cleared (tokens die with the workshop).
        self.stopped = False
        self._clock = clock
        self._recent: dict[int, deque[float]] = {}
        self._reserved: dict[int, _Reserved] = {}

    def admit(self, seat: int, reservation: Reservation | None = None) -> Refusal | None:
        """``None`` and the request is counted in the seat's rate window and holds
        ``reservation`` until ``release``; or the refusal (nothing held)."""
        refusal = (
            self.access_refusal(seat) or self._budget_refusal(seat) or self._rate_refusal(seat)
        )
        if refusal is not None:
            return refusal
        if self.policy.limits_for(seat).requests_per_minute is not None:
            # Only rate-limited seats keep a window (bounded by the limit, pruned on each call).
            self._recent.setdefault(seat, deque()).append(self._clock())
        if reservation is not None:
            self._reserved.setdefault(seat, _Reserved()).add(reservation, +1)
        return None

    def release(self, seat: int, reservation: Reservation) -> None:
        """Give back what an admitted request reserved (its real usage is in the ledger)."""
        held = self._reserved.get(seat)
        if held is None:
            return
        held.add(reservation, -1)
        if held.requests <= 0:
            del self._reserved[seat]  # also clears float residue

    def in_flight(self, seat: int) -> int:
        held = self._reserved.get(seat)
        return held.requests if held else 0

    def access_refusal(self, seat: int | None = None) -> Refusal | None:
        """The workshop-wide refusal (ended, or paused by the instructor), or ``seat``'s own
        pause, if any."""
        if self.stopped:
            return Refusal(
                "rate_limit_error",
                "The workshop has ended; model access is closed.",
                False,
                reason="ended",
            )
        if self.paused:
            return Refusal(
                "rate_limit_error",
                "Model access is paused by the instructor. Please wait for them to resume it.",
                False,
                reason="paused",
            )
        if seat is not None and seat in self.paused_seats:
            return Refusal(
                "rate_limit_error",
                "Model access is paused for your seat by the instructor. "
                "Please ask them to resume it.",
                False,
                reason="paused",
            )
        return None

    def _budget_refusal(self, seat: int) -> Refusal | None:
        held = self._reserved.get(seat)
        reached = self._reached(seat, None)
        if reached is not None:
            return Refusal(
                "rate_limit_error",
                f"Seat budget reached ({reached}). Ask your instructor.",
                False,
                reason="budget",
            )
        if held is not None and self._reached(seat, held) is not None:
            # Not reached yet, but what is in flight may reach it: retrying later can work.
            return Refusal(
                "rate_limit_error",
                f"Seat budget nearly used up, with {held.requests} request(s) still running. "
                "Retrying when they finish.",
                True,
                retry_after=5,
                reason="budget",
            )
        return None

    def _reached(self, seat: int, held: _Reserved | None) -> str | None:
        """Which limit completed totals (plus ``held``) reach, described, or ``None``."""
        limits = self.policy.limits_for(seat)
        totals = self.ledger.totals(seat)
        extra = held or _Reserved()
        max_in, max_out, budget = (
            limits.max_input_tokens,
            limits.max_output_tokens,
            limits.budget_usd,
        )
        if max_in is not None and totals.prompt_tokens + extra.prompt_tokens >= max_in:
            return f"{totals.prompt_tokens} of {max_in} input tokens used"
        if max_out is not None and totals.output_tokens + extra.output_tokens >= max_out:
            return f"{totals.output_tokens} of {max_out} output tokens used"
        if budget is not None and totals.cost_usd + extra.cost_usd >= budget:
            return f"${totals.cost_usd:.2f} of ${budget:.2f} budget used"
        return None

    def _rate_refusal(self, seat: int) -> Refusal | None:
        limit = self.policy.limits_for(seat).requests_per_minute
        if limit is None:
            return None
        now = self._clock()
        recent = self._recent.setdefault(seat, deque())
        while recent and recent[0] <= now - RATE_WINDOW_SECONDS:
            recent.popleft()
        if len(recent) < limit:
            return None
        wait = math.ceil(recent[0] + RATE_WINDOW_SECONDS - now)
        return Refusal(
            "rate_limit_error",
            f"Seat rate limit reached ({limit} requests per minute). Retrying in {wait}s.",
            True,
            retry_after=wait,
            reason="rate",
        )
