"""Instructor use cases: create, list, get, start, stop, seats and the shadow token.

Each handler takes the ``Platform`` and the authenticated ``Instructor`` and returns domain
objects; the HTTP edge serialises them. Ownership: a workshop the caller may not see is
reported as ``NotFound``, exactly like one that does not exist (no probing other owners' ids).

Start/stop and the event bus: the status change is written first, then the event published.
If publishing fails, the caller gets ``Unavailable`` (503) and the workshop is left where a
plain retry works: a start is moved on to ``failed`` with a readable reason (``failed`` may be
started again); a stop stays ``stopping``, and stopping a ``stopping`` workshop re-publishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from shared.auth.instructor import Instructor
from shared.auth.signing import instructor_token
from shared.bootstrap import Platform
from shared.domain.codes import new_workshop_code, new_workshop_id
from shared.domain.errors import (
    NotFound,
    StaleState,
    TransientError,
    ValidationError,
    WorkshopEnded,
)
from shared.domain.events import WORKSHOP_START_REQUESTED, WORKSHOP_STOP_REQUESTED, Event
from shared.domain.model import (
    LIVE_STATUSES,
    Seat,
    Workshop,
    WorkshopStatus,
    check_transition,
    plan_hosts,
    utcnow,
)
from shared.domain.model_policy import ModelPolicy
from shared.domain.schedule import plan_schedule
from shared.domain.validation import (
    validate_api_key,
    validate_name,
    validate_seats,
    validate_seats_per_host,
)
from shared.ports.store import Page
from shared.services import costs
from shared.services.errors import Unavailable
from shared.services.host_image import require_baked_host_image

log = logging.getLogger(__name__)

S = WorkshopStatus
STARTABLE = frozenset({S.CREATED, S.FAILED})
STOPPABLE = frozenset({S.PROVISIONING, S.RUNNING, S.FAILED})
SHADOW_TOKEN_TTL_SECONDS = 2 * 3600


def api_key_secret_name(workshop_id: str) -> str:
    return f"workshop-{workshop_id}-api-key"


def create_workshop(
    platform: Platform,
    instructor: Instructor,
    *,
    name: object,
    seats: object,
    api_key: object,
    seats_per_host: object = None,
    model_policy: object = None,
    schedule: object = None,
    now: datetime | None = None,
) -> Workshop:
    """Validate, store the API key as a secret, then insert the workshop (status ``created``).

    ``schedule`` is a mapping of ``shared.domain.schedule.plan_schedule`` fields (``None``:
    ends 3 h from ``now``, started by hand).
    """
    now = now or utcnow()
    planned = plan_schedule(now, **_schedule_fields(schedule))
    clean_name = validate_name(name)
    clean_seats = validate_seats(seats, platform.settings.max_seats)
    per_host = validate_seats_per_host(seats_per_host)
    key = validate_api_key(api_key)
    policy = _validate_policy(model_policy)
    workshop_id = new_workshop_id()
    ref = platform.secrets.put(
        api_key_secret_name(workshop_id),
        key,
        {"clarateach": "api-key", "workshop": workshop_id},
    )
    draft = Workshop(
        id=workshop_id,
        name=clean_name,
        code=new_workshop_code(),
        seats=clean_seats,
        seats_per_host=per_host,
        owner=instructor.owner,
        api_key_ref=ref,
        model_policy=policy,
        created_at=now,
        updated_at=now,
    ).with_schedule(planned)
    try:
        created = platform.store.create_workshop(draft, new_workshop_code)
    except BaseException:
        platform.secrets.delete(ref)  # no workshop will ever reference it
        raise
    log.info("workshop created", extra={"workshop_id": created.id, "owner": created.owner})
    return created


SCHEDULE_FIELDS = ("starts_at", "ends_at", "warmup_minutes", "join_opens_at", "end_grace_minutes")


def _schedule_fields(raw: object) -> dict[str, object]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationError("schedule", "must be an object")
    unknown = sorted(set(raw) - set(SCHEDULE_FIELDS))
    if unknown:
        raise ValidationError(f"schedule.{unknown[0]}"[:100], "is not a schedule field")
    return dict(raw)


def _validate_policy(raw: object) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        return ModelPolicy.model_validate(raw, strict=True).model_dump(mode="json")
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("model_policy", *first["loc"]))
        raise ValidationError(where, first["msg"]) from None


def list_workshops(
    platform: Platform, instructor: Instructor, *, limit: int = 50, cursor: str | None = None
) -> Page:
    owner = None if instructor.is_admin else instructor.owner
    return platform.store.list_workshops(owner=owner, limit=limit, cursor=cursor)


def get_workshop(platform: Platform, instructor: Instructor, workshop_id: str) -> Workshop:
    """The workshop if it exists and the caller may see it, else ``NotFound``."""
    workshop = platform.store.get_workshop(workshop_id)
    if workshop is None or not instructor.can_see(workshop.owner):
        raise NotFound("workshop not found")
    return workshop


def start_workshop(
    platform: Platform, instructor: Instructor, workshop_id: str, *, now: datetime | None = None
) -> Workshop:
    """``created|failed -> provisioning`` (new attempt, hosts planned), then publish the start.

    Refused with ``CostCeilingExceeded`` before anything changes when the cost estimate
    exceeds ``settings.max_workshop_usd``, and with ``WorkshopEnded`` once ``ends_at`` passed.
    """
    get_workshop(platform, instructor, workshop_id)
    return begin_start(platform, workshop_id, STARTABLE, now or utcnow())


def begin_start(
    platform: Platform, workshop_id: str, startable: frozenset[WorkshopStatus], now: datetime
) -> Workshop:
    """The start itself (also used by the reconciler's warm-up with ``{created}`` only):
    a compare-and-set on the status, so of racing starts exactly one moves the workshop."""
    require_baked_host_image(platform.settings)

    def begin_attempt(current: Workshop) -> Workshop:
        if current.status not in startable:
            raise StaleState(current.status.value, tuple(sorted(s.value for s in startable)))
        check_transition(current.status, S.PROVISIONING)
        if current.ends_at is not None and current.ends_at <= now:
            raise WorkshopEnded("the workshop's end time has passed; extend it to start it")
        costs.check_ceiling(platform.settings, costs.estimate_for(platform.settings, current, now))
        return replace(
            current,
            status=S.PROVISIONING,
            attempt=current.attempt + 1,
            hosts=plan_hosts(current),
            error=None,
            billing_started_at=current.billing_started_at or now,
        )

    started = platform.store.update_workshop(workshop_id, begin_attempt)
    event = Event(WORKSHOP_START_REQUESTED, workshop_id, {"attempt": started.attempt})
    context = {"workshop_id": workshop_id, "attempt": started.attempt, "event_id": event.id}
    try:
        platform.bus.publish(event)
    except TransientError as exc:
        log.warning("start event not accepted; marking failed", extra=context)
        _fail_attempt(platform, workshop_id, started.attempt)
        raise Unavailable(
            "the start request could not be queued; the workshop is marked failed, start it again",
            code="event_bus_unavailable",
        ) from exc
    log.info("start requested", extra=context)
    return started


def _fail_attempt(platform: Platform, workshop_id: str, attempt: int) -> None:
    """Move *this* attempt to ``failed`` unless something else already moved it on."""

    def fail(current: Workshop) -> Workshop:
        if current.status != S.PROVISIONING or current.attempt != attempt:
            return current
        return replace(current, status=S.FAILED, error="could not queue the start request")

    platform.store.update_workshop(workshop_id, fail)


def stop_workshop(platform: Platform, instructor: Instructor, workshop_id: str) -> Workshop:
    """``provisioning|running|failed -> stopping``, then publish the stop.

    Stopping a workshop that is already ``stopping`` publishes the stop again (idempotent;
    consumers deduplicate), which is how a stop whose publish failed is retried.
    """
    get_workshop(platform, instructor, workshop_id)

    def begin_stop(current: Workshop) -> Workshop:
        if current.status == S.STOPPING:
            return current
        if current.status not in STOPPABLE:
            raise StaleState(current.status.value, tuple(sorted(s.value for s in STOPPABLE)))
        check_transition(current.status, S.STOPPING)
        return replace(current, status=S.STOPPING)

    stopping = platform.store.update_workshop(workshop_id, begin_stop)
    event = Event(WORKSHOP_STOP_REQUESTED, workshop_id, {})
    context = {"workshop_id": workshop_id, "event_id": event.id}
    try:
        platform.bus.publish(event)
    except TransientError as exc:
        log.warning("stop event not accepted; workshop stays stopping", extra=context)
        raise Unavailable(
            "the stop request could not be queued; the workshop is stopping, stop it again",
            code="event_bus_unavailable",
        ) from exc
    log.info("stop requested", extra=context)
    return stopping


def list_seats(platform: Platform, instructor: Instructor, workshop_id: str) -> list[Seat]:
    get_workshop(platform, instructor, workshop_id)
    return platform.store.list_seats(workshop_id)


@dataclass(frozen=True)
class ShadowGrant:
    """An instructor-role token for read-only shadowing of every seat of one workshop."""

    workshop: Workshop
    token: str
    expires_in: int


def shadow_token(platform: Platform, instructor: Instructor, workshop_id: str) -> ShadowGrant:
    """Issue an instructor token for a live (provisioning or running) workshop."""
    workshop = get_workshop(platform, instructor, workshop_id)
    if workshop.status not in LIVE_STATUSES:
        raise StaleState(workshop.status.value, tuple(sorted(s.value for s in LIVE_STATUSES)))
    settings = platform.settings
    ttl = min(SHADOW_TOKEN_TTL_SECONDS, settings.learner_token_ttl_seconds)
    token = instructor_token(
        platform.secrets,
        settings,
        workshop_id=workshop.id,
        owner=instructor.owner,
        ttl_seconds=ttl,
    )
    log.info("shadow token issued", extra={"workshop_id": workshop.id, "owner": instructor.owner})
    return ShadowGrant(workshop=workshop, token=token, expires_in=ttl)
