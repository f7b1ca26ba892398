"""Per-workshop model gateway policy: rate and token limits, USD budgets, per-seat overrides,
the price table, and the workshop's Claude Code settings (default model, model allowlist,
instructor-provided ``CLAUDE.md`` and settings).

Stored on the workshop as plain JSON (``Workshop.model_policy``), handed to every host's agent
in its configuration, and enforced by ``workspace_agent.gateway``. ``None`` means unlimited.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: A model id as the Messages API takes it (letters, digits, ``.-_:@``; no spaces or slashes).
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
#: Instructor texts travel in the create request, whose body the API caps at 64 KiB (even
#: escaped as JSON, the longest CLAUDE.md must fit in it).
MAX_CLAUDE_MD = 4096


class SeatLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: int | None = Field(default=None, ge=1, le=10_000)
    max_input_tokens: int | None = Field(default=None, ge=0, le=10**10)
    max_output_tokens: int | None = Field(default=None, ge=0, le=10**10)
    budget_usd: float | None = Field(default=None, ge=0, le=100_000)


class ModelPrice(BaseModel):
    """USD per million tokens. ``cache_write`` is the 5-minute cache-write rate (Claude
    Code's default); ``cache_read`` the cache-hit rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(default=0, ge=0)
    cache_read: float = Field(default=0, ge=0)


def _price(input_: float, output: float) -> ModelPrice:
    """Anthropic's cache multipliers: 5-minute writes 1.25x input, hits 0.1x input."""
    return ModelPrice(
        input=input_, output=output, cache_write=input_ * 1.25, cache_read=round(input_ * 0.1, 4)
    )


def _priced(input_: float, output: float, cache_read: float) -> ModelPrice:
    return ModelPrice(input=input_, output=output, cache_write=input_ * 1.25, cache_read=cache_read)


_FABLE_5_1 = _priced(10, 50, 0.25)
_FABLE_5 = _priced(10, 50, 1)
_OPUS_5_5 = _priced(4, 20, 0.2)
_SONNET_5_5 = _priced(2, 10, 0.1)
_SONNET_5 = _priced(2, 10, 0.2)
#: Haiku 5.5 costs $0.10 / $0.50 up to 100k prompt tokens and $0.50 / $2.50 above; the table
#: has no tiers, so the higher rate is used (a budget is never under-charged).
_HAIKU_5_5 = _priced(0.5, 2.5, 0.05)
_OPUS_OLD = _price(15, 75)
_OPUS = _price(5, 25)
_SONNET = _price(3, 15)
_HAIKU_4 = _price(1, 5)
_HAIKU_3_5 = _price(0.8, 4)
_HAIKU_3 = ModelPrice(input=0.25, output=1.25, cache_write=0.30, cache_read=0.03)

#: Default price table, USD per million tokens, keyed by EXACT model id: each model's API id
#: and its aliases (dated snapshot ids and undated aliases are listed separately; nothing
#: is matched by prefix, so a newer model never inherits an older model's price).
#: Source: https://platform.claude.com/docs/en/about-claude/pricing ("Model pricing": base
#: input, 5-minute cache writes, cache hits, output), model ids from
#: https://platform.claude.com/docs/en/about-claude/models/overview; read 2026-12-02.
#: Long-context surcharges are not modelled: the gateway estimates at the standard rate.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    # Fable and Mythos 5.x: $10 / $50.
    "claude-fable-5-1": _FABLE_5_1,
    "claude-mythos-5-1": _FABLE_5_1,
    "claude-fable-5": _FABLE_5,
    "claude-mythos-5": _FABLE_5,
    # Opus 5.5: $4 / $20 (Claude Code 2.1.332's default model on the Anthropic API).
    "claude-opus-5-5": _OPUS_5_5,
    # Opus 4.5 to 5: $5 / $25.
    "claude-opus-5": _OPUS,
    "claude-opus-4-8": _OPUS,
    "claude-opus-4-7": _OPUS,
    "claude-opus-4-6": _OPUS,
    "claude-opus-4-5": _OPUS,
    "claude-opus-4-5-20251101": _OPUS,
    # Opus 3, 4 and 4.1: $15 / $75.
    "claude-opus-4-1": _OPUS_OLD,
    "claude-opus-4-1-20250805": _OPUS_OLD,
    "claude-opus-4-0": _OPUS_OLD,
    "claude-opus-4-20250514": _OPUS_OLD,
    "claude-3-opus-20240229": _OPUS_OLD,
    "claude-3-opus-latest": _OPUS_OLD,
    # Sonnet 5 and 5.5: $2 / $10.
    "claude-sonnet-5-5": _SONNET_5_5,
    "claude-sonnet-5": _SONNET_5,
    # Sonnet 3.7 to 4.6: $3 / $15.
    "claude-sonnet-4-6": _SONNET,
    "claude-sonnet-4-5": _SONNET,
    "claude-sonnet-4-5-20250929": _SONNET,
    "claude-sonnet-4-0": _SONNET,
    "claude-sonnet-4-20250514": _SONNET,
    "claude-3-7-sonnet-20250219": _SONNET,
    "claude-3-7-sonnet-latest": _SONNET,
    # Haiku.
    "claude-haiku-5-5": _HAIKU_5_5,
    "claude-haiku-4-5": _HAIKU_4,
    "claude-haiku-4-5-20251001": _HAIKU_4,
    "claude-3-5-haiku-20241022": _HAIKU_3_5,
    "claude-3-5-haiku-latest": _HAIKU_3_5,
    "claude-3-haiku-20240307": _HAIKU_3,
}


class ClaudeCodeSettings(BaseModel):
    """What each seat's Claude Code starts with (written before the seat's shell starts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The model Claude Code uses unless the learner picks another (``ANTHROPIC_MODEL``).
    default_model: str | None = None
    #: Models the gateway lets through (exact ids). ``None``: every model the price table
    #: knows. A request for another model is refused with a message naming these.
    allowed_models: list[str] | None = Field(default=None, min_length=1, max_length=50)
    #: Instructor's instructions for every seat, written as ``~/.claude/CLAUDE.md``.
    claude_md: str | None = Field(default=None, max_length=MAX_CLAUDE_MD)
    #: Extra Claude Code settings (``settings.json`` keys) merged under the platform's own;
    #: the platform's keys (env of the gateway, updater and telemetry switches) win.
    settings: dict[str, Any] | None = None

    @field_validator("default_model")
    @classmethod
    def _model_id(cls, value: str | None) -> str | None:
        if value is not None and not MODEL_ID.fullmatch(value):
            raise ValueError("not a model id")
        return value

    @field_validator("allowed_models")
    @classmethod
    def _model_ids(cls, value: list[str] | None) -> list[str] | None:
        for model in value or ():
            if not MODEL_ID.fullmatch(model):
                raise ValueError(f"not a model id: {model[:40]!r}")
        return value

    @field_validator("settings")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(repr(value)) > MAX_CLAUDE_MD:
            raise ValueError("settings too large")
        return value

    @model_validator(mode="after")
    def _default_is_allowed(self) -> ClaudeCodeSettings:
        allowed = self.allowed_models
        if self.default_model and allowed is not None and self.default_model not in allowed:
            raise ValueError("default_model must be one of allowed_models")
        return self


class ModelPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: SeatLimits = SeatLimits(requests_per_minute=60)
    #: Seat number (as a string, JSON keys) -> limits replacing ``defaults`` for that seat.
    seat_overrides: dict[str, SeatLimits] = Field(default_factory=dict, max_length=500)
    #: Exact model id -> price. A model missing here is refused (a budget cannot be priced).
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    claude_code: ClaudeCodeSettings = ClaudeCodeSettings()

    def limits_for(self, seat: int) -> SeatLimits:
        return self.seat_overrides.get(str(seat), self.defaults)

    def model_refusal(self, model: object) -> str | None:
        """Why a request for ``model`` is refused, or ``None`` if the workshop allows it."""
        allowed = self.claude_code.allowed_models
        if allowed is not None:
            if model not in allowed:
                return (
                    f"Model {_shown(model)} is not enabled for this workshop. "
                    f"Allowed models: {', '.join(allowed)}."
                )
            if model not in self.prices:
                return f"Model {_shown(model)} has no price on this workshop; ask your instructor."
            return None
        if model not in self.prices:
            return (
                f"Model {_shown(model)} is not enabled for this workshop (it has no known price). "
                f"Allowed models: {', '.join(sorted(self.prices))}."
            )
        return None


def _shown(model: object) -> str:
    if isinstance(model, str) and MODEL_ID.fullmatch(model):
        return f"'{model}'"
    return "(missing or invalid)"
