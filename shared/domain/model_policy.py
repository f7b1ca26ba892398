"""Per-workshop model gateway policy: rate and token limits, USD budgets, per-seat overrides.

Stored on the workshop as plain JSON (``Workshop.model_policy``), handed to every host's agent
in its configuration, and enforced by ``workspace_agent.gateway``. ``None`` means unlimited.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SeatLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: int | None = Field(default=None, ge=1, le=10_000)
    max_input_tokens: int | None = Field(default=None, ge=0, le=10**10)
    max_output_tokens: int | None = Field(default=None, ge=0, le=10**10)
    budget_usd: float | None = Field(default=None, ge=0, le=100_000)


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(default=0, ge=0)
    cache_read: float = Field(default=0, ge=0)


#: Default price table (USD per million tokens); model ids are matched by prefix, longest first.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-opus-4": ModelPrice(input=15, output=75, cache_write=18.75, cache_read=1.5),
    "claude-sonnet-4": ModelPrice(input=3, output=15, cache_write=3.75, cache_read=0.3),
    "claude-3-7-sonnet": ModelPrice(input=3, output=15, cache_write=3.75, cache_read=0.3),
    "claude-3-5-haiku": ModelPrice(input=0.8, output=4, cache_write=1, cache_read=0.08),
    "claude-haiku-4": ModelPrice(input=1, output=5, cache_write=1.25, cache_read=0.1),
}


class ModelPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: SeatLimits = SeatLimits(requests_per_minute=60)
    #: Seat number (as a string, JSON keys) -> limits replacing ``defaults`` for that seat.
    seat_overrides: dict[str, SeatLimits] = Field(default_factory=dict, max_length=500)
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    def limits_for(self, seat: int) -> SeatLimits:
        return self.seat_overrides.get(str(seat), self.defaults)
