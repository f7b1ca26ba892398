"""JSON shapes of domain objects as the API shows them (docs/protocol.md section 1).

A workshop view never contains the API key or its secret reference (``api_key_ref``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.domain import schedule as rules
from shared.domain.model import Host, Seat, Workshop, utcnow

if TYPE_CHECKING:  # types only: join's function must not import the workshop services
    from shared.content import Pack
    from shared.services.content import Progress
    from shared.services.join import JoinGrant
    from shared.services.usage import Usage
    from shared.services.workshops import ShadowGrant


def _time(value: datetime) -> str:
    return value.isoformat()


def host_view(host: Host) -> dict[str, Any]:
    return {
        "index": host.index,
        "name": host.name,
        "status": host.status.value,
        "endpoint": host.endpoint,
        "seat_first": host.seat_first,
        "seat_last": host.seat_last,
        "error": host.error,
        "timings": dict(host.timings),
    }


def schedule_view(workshop: Workshop, now: datetime) -> dict[str, Any] | None:
    schedule = workshop.schedule
    if schedule is None:
        return None
    warmup = schedule.warmup_at
    return {
        "starts_at": _optional_time(schedule.starts_at),
        "ends_at": _time(schedule.ends_at),
        "warmup_minutes": schedule.warmup_minutes,
        "warmup_at": _optional_time(warmup),
        "join_opens_at": _optional_time(schedule.join_opens_at),
        "end_grace_minutes": schedule.end_grace_minutes,
        "grace_ends_at": _time(schedule.grace_ends_at),
        "phase": rules.phase(schedule, now).value,
    }


def _optional_time(value: datetime | None) -> str | None:
    return None if value is None else _time(value)


def workshop_view(workshop: Workshop, cost: dict[str, Any] | None = None) -> dict[str, Any]:
    """``cost`` (``shared.services.costs.cost_view``) is computed by the caller, which knows
    the settings and whether the cost so far is worth a usage read."""
    now = utcnow()
    return {
        "id": workshop.id,
        "name": workshop.name,
        "code": workshop.code,
        "seats": workshop.seats,
        "seats_per_host": workshop.seats_per_host,
        "status": workshop.status.value,
        "owner": workshop.owner,
        "created_at": _time(workshop.created_at),
        "updated_at": _time(workshop.updated_at),
        "error": workshop.error,
        "attempt": workshop.attempt,
        "model_paused": workshop.model_paused,
        "paused_seats": list(workshop.paused_seats),
        "model_policy": workshop.model_policy,
        "hosts": [host_view(h) for h in workshop.hosts],
        "schedule": schedule_view(workshop, now),
        "stopped_at": _optional_time(workshop.stopped_at),
        "cost": cost,
    }


def seat_view(seat: Seat) -> dict[str, Any]:
    return {
        "seat": seat.number,
        "host": seat.host_index,
        "joined_at": _time(seat.joined_at),
        "last_seen": _time(seat.last_seen),
        "display_name": seat.display_name,
    }


def join_view(grant: JoinGrant) -> dict[str, Any]:
    return {
        "token": grant.token,
        "endpoint": grant.endpoint,
        "seat": grant.seat.number,
        "host": grant.seat.host_index,
        "reconnect_code": grant.reconnect_code,
        "workshop": {"id": grant.workshop.id, "name": grant.workshop.name},
        "schedule": learner_schedule_view(grant.workshop),
        "broadcast": learner_broadcast_view(grant.workshop),
    }


def learner_broadcast_view(workshop: Workshop) -> dict[str, str] | None:
    """The current broadcast for a learner: message and time, never who sent it. A learner
    who joins a host that came up after the broadcast still sees it (the page shows the
    newer of this and its host's copy)."""
    record = workshop.broadcast
    if not record:
        return None
    return {"message": str(record["message"]), "sent_at": str(record["sent_at"])}


def learner_schedule_view(workshop: Workshop) -> dict[str, Any] | None:
    """What the learner page needs for its countdown (no cost, no warm-up details)."""
    schedule = workshop.schedule
    if schedule is None:
        return None
    return {
        "ends_at": _time(schedule.ends_at),
        "grace_ends_at": _time(schedule.grace_ends_at),
        "warning_minutes": list(rules.WARNING_MINUTES),
        "server_time": _time(utcnow()),
    }


def shadow_view(grant: ShadowGrant) -> dict[str, Any]:
    return {
        "token": grant.token,
        "expires_in": grant.expires_in,
        "workshop": {"id": grant.workshop.id, "name": grant.workshop.name},
        "hosts": [
            {
                "index": h.index,
                "endpoint": h.endpoint,
                "seat_first": h.seat_first,
                "seat_last": h.seat_last,
            }
            for h in grant.workshop.hosts
        ],
    }


def usage_view(usage: Usage) -> dict[str, Any]:
    return {"seats": usage.seats, "totals": usage.totals}


def content_view(pack: Pack) -> dict[str, Any]:
    """What a stored pack holds (no file contents)."""
    manifest = pack.manifest
    return {
        "title": manifest.title,
        "description": manifest.description,
        "files": len(pack.files),
        "bytes": pack.total_bytes,
        "steps": [
            {"id": s.id, "title": s.title, "check": s.check is not None} for s in manifest.steps
        ],
    }


def progress_view(progress: Progress) -> dict[str, Any]:
    steps = progress.pack.manifest.steps if progress.pack else []
    return {
        "content": content_view(progress.pack) if progress.pack else None,
        "seats": [
            {"seat": seat, **entry.to_json()} for seat, entry in sorted(progress.seats.items())
        ],
        "histogram": [
            {"step": i, "id": step.id, "title": step.title, "seats": count}
            for i, (step, count) in enumerate(zip(steps, progress.histogram, strict=True))
        ],
    }
