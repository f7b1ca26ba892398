"""Request bodies, as strict pydantic models (also the source of the OpenAPI request schemas).

Decisions: types are strict (``"10"``, ``10.5``, ``true`` are not integers) and unknown fields
are refused with 400 naming the field, so a misspelt optional field (``seat_per_host``) fails
loudly instead of being silently ignored. Bounds mirror ``shared.domain.validation``; the
services validate again (they are also called from outside HTTP) and apply per-deployment
limits such as ``settings.max_seats``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from functions.plain_errors import plain_message
from shared.domain.errors import ValidationError
from shared.domain.model_policy import ModelPolicy
from shared.domain.schedule import EXTEND_MAX_MINUTES, GRACE_MAX, WARMUP_MAX
from shared.domain.validation import (
    NAME_MAX,
    SEATS_MAX,
    SEATS_MIN,
    SEATS_PER_HOST_MAX,
    SEATS_PER_HOST_MIN,
)
from shared.services.join import NONCE_MAX, NONCE_MIN

FIELD_NAME_MAX = 100  # an unknown field is named in the error; a hostile name is cut short
API_KEY_PATTERN = r"^sk-ant-[A-Za-z0-9_\-]{20,300}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _time_field(description: str) -> Any:
    """An optional RFC 3339 date-time string (parsed by ``parse_time``)."""
    return Field(
        default=None,
        min_length=1,
        max_length=64,
        description=description,
        json_schema_extra={"format": "date-time"},
    )


class ScheduleBody(_Body):
    """Times are RFC 3339 with an offset (``2026-05-04T09:00:00Z``)."""

    starts_at: str | None = _time_field(
        "When doors open; the workshop is started warmup_minutes before. Omit: start by hand."
    )
    ends_at: str | None = _time_field("When it ends (default start + 3 h; at most 24 h after).")
    warmup_minutes: int | None = Field(default=None, ge=0, le=WARMUP_MAX, description="Default 15.")
    join_opens_at: str | None = _time_field(
        "Learners may join from then (default: as soon as it runs)."
    )
    end_grace_minutes: int | None = Field(
        default=None, ge=0, le=GRACE_MAX, description="Download-only time after ends_at (10)."
    )


class ChangeSchedule(_Body):
    """Exactly one of the three."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        json_schema_extra={"examples": [{"extend_minutes": 30}, {"end_now": True}]},
    )

    ends_at: str | None = _time_field("Move the end here (later extends, earlier shortens).")
    extend_minutes: int | None = Field(
        default=None, ge=1, le=EXTEND_MAX_MINUTES, description="Push the end back this much."
    )
    end_now: bool | None = Field(
        default=None, description="true: end now; learners get the grace period to download."
    )


class CreateWorkshop(_Body):
    name: str = Field(min_length=1, max_length=NAME_MAX, description="Shown to learners.")
    seats: int = Field(ge=SEATS_MIN, le=SEATS_MAX, description="Number of learner seats.")
    api_key: str = Field(
        pattern=API_KEY_PATTERN,
        description="Anthropic API key for the workshop; stored as a secret, never returned.",
        json_schema_extra={"writeOnly": True},
    )
    seats_per_host: int | None = Field(
        default=None, ge=SEATS_PER_HOST_MIN, le=SEATS_PER_HOST_MAX, description="Default 10."
    )
    model_policy: ModelPolicy | None = Field(
        default=None, description="Model gateway limits and prices (default: 60 requests/min)."
    )
    schedule: ScheduleBody | None = Field(
        default=None, description="Start, end, warm-up and grace (default: ends in 3 h)."
    )


class HostCredentialsRequest(_Body):
    credential: Literal["api_key", "tls_certificate"] = Field(
        default="api_key",
        description="api_key: the workshop's Anthropic key (an empty body asks for it too);"
        " tls_certificate: the deployment's wildcard certificate chain and key for Caddy.",
    )


class Join(_Body):
    code: str = Field(min_length=1, max_length=64, description="Workshop code, e.g. CLAUDE-XY9Z.")
    reconnect_code: str | None = Field(
        default=None, min_length=1, max_length=64, description="Rejoin the seat it was issued for."
    )
    client_nonce: str | None = Field(
        default=None,
        min_length=NONCE_MIN,
        max_length=NONCE_MAX,
        pattern=r"^[\x20-\x7e]+$",
        description="Random per-browser idempotency key: a repeated join gets the same seat.",
    )
    display_name: str | None = Field(
        default=None,
        description="Optional name shown to the instructor: at most 40 characters once"
        " trimmed, no control characters. On a rejoin it replaces the seat's name; omitted,"
        " the name is kept.",
    )


class ModelAccess(_Body):
    paused: bool = Field(
        description="true pauses model access; false resumes it (for every seat, resuming"
        " also lifts single-seat pauses)."
    )
    seat: int | None = Field(
        default=None, description="Only this seat (1..seats); omitted: every seat."
    )


Model = TypeVar("Model", bound=_Body)


def parse_time(field: str, value: str | None) -> datetime | None:
    """An RFC 3339 date-time with an offset; anything else is a ``ValidationError``."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, "must be an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise ValidationError(field, "must include a time zone offset (e.g. Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValidationError(field, "is out of range") from None


def schedule_fields(body: ScheduleBody | None) -> dict[str, object] | None:
    """The create body's schedule as ``plan_schedule`` keyword arguments."""
    if body is None:
        return None
    fields: dict[str, object] = {}
    for name in ("starts_at", "ends_at", "join_opens_at"):
        fields[name] = parse_time(f"schedule.{name}", getattr(body, name))
    fields["warmup_minutes"] = body.warmup_minutes
    fields["end_grace_minutes"] = body.end_grace_minutes
    return fields


def parse_body(model: type[Model], data: Any) -> Model:
    """Validate decoded JSON ``data`` against ``model``; ``ValidationError`` names the field."""
    if not isinstance(data, dict):
        raise ValidationError("body", "must be a JSON object")
    try:
        return model.model_validate(data, strict=True)  # strict reaches nested models too
    except PydanticValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])[:FIELD_NAME_MAX] or "body"
        raise ValidationError(field, plain_message(dict(first), model)) from None
