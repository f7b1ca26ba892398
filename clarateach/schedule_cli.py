"""Turning ``workshop create`` schedule options into the API's ``schedule`` object.

Times are ISO 8601 / RFC 3339 with an offset (``2026-05-04T09:00:00Z``,
``2026-05-04T11:00+02:00``); ``--duration`` is minutes after the start (or after now).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


class ScheduleOptionError(ValueError):
    """A schedule option the CLI cannot turn into a request (message names the option)."""


def parse_time(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ScheduleOptionError(f"{option}: not an ISO 8601 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ScheduleOptionError(f"{option}: give a time zone offset, e.g. {value}Z")
    return parsed


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def schedule_body(
    *,
    starts_at: str | None,
    ends_at: str | None,
    duration_minutes: int | None,
    warmup_minutes: int | None,
    join_opens_at: str | None,
    grace_minutes: int | None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The ``schedule`` request object, or ``None`` when no option was given."""
    start = parse_time("--starts-at", starts_at)
    end = parse_time("--ends-at", ends_at)
    if end is not None and duration_minutes is not None:
        raise ScheduleOptionError("give --ends-at or --duration, not both")
    if duration_minutes is not None:
        end = (start or now or datetime.now(UTC)) + timedelta(minutes=duration_minutes)
    opens = parse_time("--join-opens-at", join_opens_at)
    body: dict[str, Any] = {}
    for name, value in (("starts_at", start), ("ends_at", end), ("join_opens_at", opens)):
        if value is not None:
            body[name] = _iso(value)
    if warmup_minutes is not None:
        body["warmup_minutes"] = warmup_minutes
    if grace_minutes is not None:
        body["end_grace_minutes"] = grace_minutes
    return body or None
