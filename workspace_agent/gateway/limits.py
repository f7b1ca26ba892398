"""Admission control: the kill switch, the per-seat request rate, token limits and USD budgets.

Every check runs *before* anything is sent upstream. Token and USD limits compare the seat's
completed totals with its limits, so a seat is cut off at the first request after a limit is
reached; requests already in flight finish (they can overshoot by at most their own usage).
The input-token limit counts every token the model read (input, cache writes, cache reads).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from shared.domain.model_policy import ModelPolicy
from workspace_agent.gateway.usage import UsageLedger

RATE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, in Anthropic error terms."""

    kind: str  # Anthropic error type
    message: str
    #: False for refusals that retrying cannot fix (the SDK is told not to retry).
    retry: bool
    retry_after: int | None = None


class Governor:
    """Decides whether a seat may send a model request now, and records admissions."""

    def __init__(
        self,
        policy: ModelPolicy,
        ledger: UsageLedger,
        *,
        paused: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.ledger = ledger
        self.paused = paused
        #: Set once the workshop is stopped; never cleared (tokens die with the workshop).
        self.stopped = False
        self._clock = clock
        self._recent: dict[int, deque[float]] = {}

    def admit(self, seat: int) -> Refusal | None:
        """``None`` and the request is counted in the seat's rate window, or the refusal."""
        refusal = self._access_refusal() or self._budget_refusal(seat) or self._rate_refusal(seat)
        if refusal is None and self.policy.limits_for(seat).requests_per_minute is not None:
            # Only rate-limited seats keep a window (bounded by the limit, pruned on each call).
            self._recent.setdefault(seat, deque()).append(self._clock())
        return refusal

    def _access_refusal(self) -> Refusal | None:
        if self.stopped:
            return Refusal(
                "permission_error", "The workshop has ended; model access is closed.", False
            )
        if self.paused:
            return Refusal(
                "permission_error",
                "Model access is paused by the instructor. Please wait for them to resume it.",
                False,
            )
        return None

    def _budget_refusal(self, seat: int) -> Refusal | None:
        limits = self.policy.limits_for(seat)
        totals = self.ledger.totals(seat)
        reached: str | None = None
        max_in, max_out = limits.max_input_tokens, limits.max_output_tokens
        budget = limits.budget_usd
        if max_in is not None and totals.prompt_tokens >= max_in:
            reached = f"{totals.prompt_tokens} of {max_in} input tokens used"
        elif max_out is not None and totals.output_tokens >= max_out:
            reached = f"{totals.output_tokens} of {max_out} output tokens used"
        elif budget is not None and totals.cost_usd >= budget:
            reached = f"${totals.cost_usd:.2f} of ${budget:.2f} budget used"
        if reached is None:
            return None
        return Refusal(
            "rate_limit_error", f"Seat budget reached ({reached}). Ask your instructor.", False
        )

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
        )
