"""Request bodies, as strict pydantic models (also the source of the OpenAPI request schemas).

Decisions: types are strict (``"10"``, ``10.5``, ``true`` are not integers) and unknown fields
are refused with 400 naming the field, so a misspelt optional field (``seat_per_host``) fails
loudly instead of being silently ignored. Bounds mirror ``shared.domain.validation``; the
services validate again (they are also called from outside HTTP) and apply per-deployment
limits such as ``settings.max_seats``.

The base model and ``parse_body`` live in ``functions.body``, the join body in
``functions.join_schema`` and the host credentials body in ``functions.host_schema``, so the
join and hosts functions define only their own models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field

from functions.body import Body as _Body
from functions.body import parse_body
from functions.host_schema import HostCredentialsRequest
from functions.join_schema import Join
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

__all__ = [
    "ChangeSchedule", "CreateWorkshop", "HostCredentialsRequest", "Join", "ModelAccess",
    "ScheduleBody", "parse_body", "parse_time", "schedule_fields",
]  # fmt: skip

API_KEY_PATTERN = r"^sk-ant-[A-Za-z0-9_\-]{20,300}$"


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


class ModelAccess(_Body):
    paused: bool = Field(
        description="true pauses model access; false resumes it (for every seat, resuming"
        " also lifts single-seat pauses)."
    )
    seat: int | None = Field(
        default=None, description="Only this seat (1..seats); omitted: every seat."
    )


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
