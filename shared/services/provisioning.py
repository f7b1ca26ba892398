"""The provisioner: turns workshop and host events into hosts, and hosts into a running workshop.

Pub/Sub push delivers at least once and possibly out of order, so every handler is idempotent
twice over:

* by delivery id: ``store.record_event`` lets one delivery through; if handling then fails
  with anything but a permanent error, ``forget_event`` undoes the record and the error is
  re-raised so the transport redelivers;
* by state: start events only act when the workshop is ``provisioning`` *for the same
  attempt*; host names are deterministic and an existing host counts as created; every write
  is a compare-and-set through ``store.update_workshop``.

Retry policy: ``TransientError`` (and anything unexpected) propagates -> redelivery, bounded
by ``settings.event_max_age_seconds`` after which events are dropped as stale. Events dated more
than ``settings.event_max_skew_seconds`` in the future are dropped the same way, and a host event
whose ``data.attempt`` is not the workshop's current attempt is dropped (a late or replayed
report of an earlier attempt). Host events reach the topic only through
``shared.services.host_events``, which proved the sender.
``PermanentError`` (quota, stockout, bad image) fails the workshop with a reason the
instructor can act on, and the event is acknowledged. Poison (unknown workshop, bad payload)
is logged and acknowledged. Nothing blocks on boot: readiness arrives as ``host.ready``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.bootstrap import Platform
from shared.domain.errors import DomainError, PermanentError, StaleState, TransientError
from shared.domain.events import (
    HOST_EVENT_TYPES,
    HOST_FAILED,
    HOST_READY,
    HOST_USAGE,
    WORKSHOP_START_REQUESTED,
    WORKSHOP_STOP_REQUESTED,
    Event,
    MalformedEvent,
)
from shared.domain.model import (
    Host,
    HostStatus,
    Workshop,
    WorkshopStatus,
    check_transition,
    plan_hosts,
    utcnow,
)
from shared.domain.progress import SeatProgress, parse_progress
from shared.ports.compute import HostSpec
from shared.services import costs
from shared.services.agent_config import agent_config
from shared.services.host_dns import delete_host_and_record, publish_host_record
from shared.services.host_slots import SlotsExhausted, claim_host_slot

log = logging.getLogger(__name__)

S = WorkshopStatus
#: Hosts are created and deleted with at most this many compute calls in flight.
MAX_PARALLEL_CALLS = 16


class Outcome(StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"  # this delivery id was processed already
    STALE = "stale"  # older than settings.event_max_age_seconds
    FUTURE = "future"  # dated beyond settings.event_max_skew_seconds from now
    OTHER_ATTEMPT = "other_attempt"  # a host event of another start attempt
    IGNORED = "ignored"  # state says there is nothing to do (e.g. start after stop)
    UNKNOWN_WORKSHOP = "unknown_workshop"  # poison
    MALFORMED = "malformed"  # poison
    FAILED = "failed"  # a permanent error failed the workshop


class _Unchanged(DomainError):
    """Raised inside an ``update_workshop`` mutation to write nothing."""


# ---------------------------------------------------------------------- entry
def handle(
    platform: Platform, event: Event, delivery_id: str, now: datetime | None = None
) -> Outcome:
    """Process one delivery of ``event``. Returns normally to acknowledge; raises to redeliver."""
    now = now or utcnow()
    ctx = {"workshop_id": event.workshop_id, "event_id": delivery_id, "event_type": event.type}
    age = (now - event.occurred_at).total_seconds()
    if age > platform.settings.event_max_age_seconds:
        log.warning("dropping stale event", extra={**ctx, "age_seconds": round(age, 1)})
        return Outcome.STALE
    if -age > platform.settings.event_max_skew_seconds:
        log.warning("dropping event dated in the future", extra={**ctx, "ahead_s": round(-age, 1)})
        return Outcome.FUTURE
    workshop = platform.store.get_workshop(event.workshop_id)
    if workshop is None:
        log.warning("dropping event for unknown workshop", extra=ctx)
        return Outcome.UNKNOWN_WORKSHOP
    if event.type in HOST_EVENT_TYPES and not _of_current_attempt(event, workshop, ctx):
        return Outcome.OTHER_ATTEMPT
    if not platform.store.record_event(delivery_id):
        log.info("duplicate delivery ignored", extra=ctx)
        return Outcome.DUPLICATE
    try:
        outcome = _HANDLERS[event.type](platform, event, now)
    except MalformedEvent as exc:
        log.warning("dropping malformed event: %s", exc, extra=ctx)
        return Outcome.MALFORMED
    except BaseException:
        # Not handled: let the redelivery through the processed-events record again.
        platform.store.forget_event(delivery_id)
        log.warning("event handling failed; will be redelivered", extra=ctx, exc_info=True)
        raise
    log.info("event %s", outcome.value, extra=ctx)
    return outcome


def _of_current_attempt(event: Event, workshop: Workshop, ctx: dict[str, Any]) -> bool:
    """A host event counts only for the start attempt its host was created for: a late or
    replayed report of an earlier attempt (or one without an attempt) must not mark the hosts of
    this attempt ready or failed."""
    attempt = event.data.get("attempt")
    if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt == workshop.attempt:
        return True
    log.warning(
        "dropping host event of another start attempt",
        extra={**ctx, "attempt": workshop.attempt},
    )
    return False


# ---------------------------------------------------------------- start / stop
def _on_start_requested(platform: Platform, event: Event, now: datetime) -> Outcome:
    attempt = _int_field(event.data, "attempt")
    workshop = _workshop(platform, event.workshop_id)
    if workshop.status is not S.PROVISIONING or workshop.attempt != attempt:
        log.info(
            "start ignored: workshop is %s at attempt %d",
            workshop.status.value,
            workshop.attempt,
            extra={"workshop_id": workshop.id, "attempt": attempt},
        )
        return Outcome.IGNORED
    try:
        workshop = platform.store.update_workshop(
            workshop.id, lambda current: _with_planned_hosts(current, attempt, now)
        )
    except StaleState:
        return Outcome.IGNORED  # a stop (or newer start) got in first
    to_create = [h for h in workshop.hosts if h.status in (HostStatus.PENDING, HostStatus.CREATING)]
    try:
        new = [h for h in to_create if h.status is HostStatus.PENDING]  # CREATING may exist
        if new:
            platform.compute.check_capacity(len(new))
        create_hosts(platform, workshop, to_create)
    except PermanentError as exc:
        fail_workshop(platform, workshop.id, str(exc))
        return Outcome.FAILED
    latest = _workshop(platform, workshop.id)
    if latest.status not in (S.PROVISIONING, S.RUNNING):
        # A stop (or failure) landed while we were creating: do not leave hosts behind.
        delete_hosts(platform, [h.name for h in to_create], workshop.id)
    return Outcome.HANDLED


def _with_planned_hosts(current: Workshop, attempt: int, now: datetime) -> Workshop:
    if current.status is not S.PROVISIONING or current.attempt != attempt:
        raise StaleState(current.status.value, (S.PROVISIONING.value,))
    hosts = []
    for planned in plan_hosts(current):
        existing = current.host(planned.index)
        if existing is not None and existing.status in (
            HostStatus.PENDING,
            HostStatus.CREATING,
            HostStatus.READY,
        ):
            # Planned by the API or by another delivery: keep its progress, stamp the request.
            timings = {"requested": _iso(now), **existing.timings}
            hosts.append(replace(existing, timings=timings))
        else:
            hosts.append(replace(planned, timings={"requested": _iso(now)}))
    return replace(current, hosts=tuple(hosts), error=None)


def create_hosts(platform: Platform, workshop: Workshop, hosts: list[Host]) -> None:
    """Create ``hosts`` in parallel, recording each one's ``instance_running`` time.

    Raises the first ``PermanentError`` if any host was refused permanently, else a
    ``TransientError`` if any creation failed; hosts that were created are recorded either way.
    """
    settings = platform.settings

    def create(host: Host) -> Host:
        try:
            slot = claim_host_slot(platform, workshop, host)  # None unless hosts are slotted
        except SlotsExhausted as exc:
            _record_host_failed(platform, workshop.id, host.index, str(exc))
            raise
        spec = HostSpec(
            workshop_id=workshop.id,
            index=host.index,
            name=host.name,
            seat_first=host.seat_first,
            seat_last=host.seat_last,
            agent_config=agent_config(settings, workshop, host, slot),
            attempt=workshop.attempt,
        )
        info = platform.compute.create_host(spec)
        publish_host_record(platform, info)  # its name(s) -> its IP, when a domain is managed
        return host

    errors = _in_parallel(
        create, hosts, on_done=lambda h: _record_instance_running(platform, workshop.id, h)
    )
    permanent = [e for e in errors if isinstance(e, PermanentError)]
    if permanent:
        raise permanent[0]
    if errors:
        raise TransientError(
            f"{len(errors)} of {len(hosts)} hosts could not be created"
        ) from errors[0]


def _record_host_failed(platform: Platform, workshop_id: str, index: int, reason: str) -> None:
    def mark(current: Workshop) -> Workshop:
        stored = current.host(index)
        if stored is None:
            raise _Unchanged("no such host")
        return current.with_host(replace(stored, status=HostStatus.FAILED, error=reason[:500]))

    with contextlib.suppress(_Unchanged):
        platform.store.update_workshop(workshop_id, mark)


def _record_instance_running(platform: Platform, workshop_id: str, host: Host) -> None:
    now = utcnow()

    def mark(current: Workshop) -> Workshop:
        stored = current.host(host.index)
        if stored is None or "instance_running" in stored.timings:
            raise _Unchanged("already recorded")
        status = HostStatus.CREATING if stored.status is HostStatus.PENDING else stored.status
        timings = {**stored.timings, "instance_running": _iso(now)}
        return current.with_host(replace(stored, status=status, timings=timings))

    try:
        workshop = platform.store.update_workshop(workshop_id, mark)
    except _Unchanged:
        return
    recorded = workshop.host(host.index)
    if recorded is not None:
        _log_timings("host instance running", workshop.id, recorded)


def _on_stop_requested(platform: Platform, event: Event, now: datetime) -> Outcome:
    workshop = _workshop(platform, event.workshop_id)
    if workshop.status is not S.STOPPING:
        log.info(
            "stop ignored: workshop is %s",
            workshop.status.value,
            extra={"workshop_id": workshop.id},
        )
        return Outcome.IGNORED
    stop_workshop(platform, workshop)
    return Outcome.HANDLED


def stop_workshop(platform: Platform, workshop: Workshop, now: datetime | None = None) -> None:
    """Delete every host and the workshop's secret, then ``stopping -> stopped``.

    Safe to repeat (the reconciler re-runs interrupted stops). Hosts are found three ways so
    none is missed when a stop overtakes provisioning: the recorded hosts, the planned names,
    and the compute adapter's label search.
    """
    names = {h.name for h in workshop.hosts} | {h.name for h in plan_hosts(workshop)}
    names |= {h.name for h in platform.compute.list_hosts({"workshop": workshop.id})}
    errors = delete_hosts(platform, sorted(names), workshop.id)
    if errors:
        raise TransientError(f"{len(errors)} hosts could not be deleted") from errors[0]
    if workshop.api_key_ref:
        platform.secrets.delete(workshop.api_key_ref)
    with contextlib.suppress(StaleState):  # another delivery finished the stop first
        platform.store.transition(
            workshop.id,
            S.STOPPING,
            S.STOPPED,
            hosts=tuple(replace(h, status=HostStatus.DELETED) for h in workshop.hosts),
            **stop_record(platform, workshop, now or utcnow()),
        )
    log.info("workshop stopped", extra={"workshop_id": workshop.id, "hosts_deleted": len(names)})


def stop_record(platform: Platform, workshop: Workshop, now: datetime) -> dict[str, Any]:
    """When it stopped and its final cost figures, kept on the record (retention, billing)."""
    stopped = replace(workshop, stopped_at=now)
    return {"stopped_at": now, "final_cost": costs.final_figures(platform, stopped, now)}


def fail_workshop(platform: Platform, workshop_id: str, reason: str) -> bool:
    """``provisioning -> failed`` with ``reason``, then delete its hosts (best effort).

    Returns ``False`` if the workshop was no longer provisioning (nothing changed).
    """
    try:
        workshop = platform.store.transition(workshop_id, S.PROVISIONING, S.FAILED, error=reason)
    except StaleState:
        return False
    log.warning("workshop failed: %s", reason, extra={"workshop_id": workshop_id})
    names = {h.name for h in workshop.hosts}
    names |= {h.name for h in platform.compute.list_hosts({"workshop": workshop_id})}
    # Failures here are left to the reconciler, which deletes hosts of non-live workshops.
    delete_hosts(platform, sorted(names), workshop_id)
    return True


def delete_hosts(platform: Platform, names: Iterable[str], workshop_id: str) -> list[BaseException]:
    """Delete hosts and their DNS records in parallel; return the errors (missing is not one)."""
    errors = _in_parallel(lambda name: delete_host_and_record(platform, name), list(names))
    for error in errors:
        log.warning("host delete failed: %s", error, extra={"workshop_id": workshop_id})
    return errors


# ------------------------------------------------------------------ host events
def _on_host_ready(platform: Platform, event: Event, now: datetime) -> Outcome:
    index = _int_field(event.data, "host_index")
    endpoint = event.data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise MalformedEvent("host.ready needs an http(s) endpoint")

    def mark_ready(current: Workshop) -> Workshop:
        host = current.host(index)
        if current.status not in (S.PROVISIONING, S.RUNNING) or host is None:
            raise _Unchanged(f"workshop is {current.status.value}")
        if host.status is HostStatus.READY and host.endpoint == endpoint:
            raise _Unchanged("already ready")
        timings = {**host.timings, "ready": host.timings.get("ready", _iso(now))}
        updated = current.with_host(
            replace(host, status=HostStatus.READY, endpoint=endpoint, error=None, timings=timings)
        )
        everyone_ready = len(updated.hosts) == updated.host_count and all(
            h.status is HostStatus.READY for h in updated.hosts
        )
        if updated.status is S.PROVISIONING and everyone_ready:
            check_transition(updated.status, S.RUNNING)
            updated = replace(updated, status=S.RUNNING, error=None)
        return updated

    try:
        workshop = platform.store.update_workshop(event.workshop_id, mark_ready)
    except _Unchanged as reason:
        log.info(
            "host.ready ignored: %s",
            reason,
            extra={"workshop_id": event.workshop_id, "host": index},
        )
        return Outcome.IGNORED
    host = workshop.host(index)
    if host is not None:
        _log_timings("host ready", workshop.id, host)
    if workshop.status is S.RUNNING:
        log.info("workshop running", extra={"workshop_id": workshop.id})
    return Outcome.HANDLED


def _on_host_failed(platform: Platform, event: Event, now: datetime) -> Outcome:
    index = _int_field(event.data, "host_index")
    reason = str(event.data.get("reason") or "unknown reason")[:500]

    def mark_failed(current: Workshop) -> Workshop:
        host = current.host(index)
        if host is None or current.status not in (S.PROVISIONING, S.RUNNING):
            raise _Unchanged(f"workshop is {current.status.value}")
        return current.with_host(replace(host, status=HostStatus.FAILED, error=reason))

    try:
        workshop = platform.store.update_workshop(event.workshop_id, mark_failed)
    except _Unchanged:
        return Outcome.IGNORED
    if workshop.status is S.PROVISIONING:
        fail_workshop(platform, workshop.id, f"host {index} failed to start: {reason}")
        return Outcome.FAILED
    return Outcome.HANDLED


def _on_host_usage(platform: Platform, event: Event, now: datetime) -> Outcome:
    seats = event.data.get("seats")
    if not isinstance(seats, dict):
        raise MalformedEvent("host.usage needs a seats object")
    usage: dict[int, dict[str, float]] = {}
    progress: dict[int, SeatProgress] = {}
    try:
        for seat, totals in seats.items():
            if not isinstance(totals, dict):
                raise MalformedEvent(f"seat {seat!r}: totals must be an object")
            counters = dict(totals)
            if "progress" in counters:
                entry = _seat_progress(event, seat, counters.pop("progress"))
                if entry is not None:
                    progress[int(seat)] = entry
            usage[int(seat)] = {str(k): float(v) for k, v in counters.items()}
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"host.usage has a non-numeric value: {exc}") from exc
    platform.store.put_seat_usage(event.workshop_id, usage)
    if progress:
        platform.store.put_seat_progress(event.workshop_id, progress, event.occurred_at)
    return Outcome.HANDLED


def _seat_progress(event: Event, seat: object, value: object) -> SeatProgress | None:
    """A seat's content progress; a malformed one is dropped (the usage still counts).
    ``POST /api/hosts/events`` already refuses malformed progress; this guards replays."""
    try:
        return parse_progress(value)
    except ValueError as exc:
        log.warning(
            "host.usage progress ignored: %s",
            exc,
            extra={"workshop_id": event.workshop_id, "seat": str(seat)[:10]},
        )
        return None


_HANDLERS: dict[str, Callable[[Platform, Event, datetime], Outcome]] = {
    WORKSHOP_START_REQUESTED: _on_start_requested,
    WORKSHOP_STOP_REQUESTED: _on_stop_requested,
    HOST_READY: _on_host_ready,
    HOST_FAILED: _on_host_failed,
    HOST_USAGE: _on_host_usage,
}


# ---------------------------------------------------------------------- helpers
def _in_parallel(
    call: Callable[[Any], Any], items: list[Any], on_done: Callable[[Any], None] | None = None
) -> list[BaseException]:
    """Run ``call(item)`` for every item on a thread pool; return the exceptions raised."""
    if not items:
        return []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_CALLS, len(items))) as pool:
        futures = [pool.submit(call, item) for item in items]
        for future in as_completed(futures):
            error = future.exception()
            if error is not None:
                errors.append(error)
            elif on_done is not None:
                on_done(future.result())
    return errors


def _workshop(platform: Platform, workshop_id: str) -> Workshop:
    workshop = platform.store.get_workshop(workshop_id)
    if workshop is None:
        raise MalformedEvent(f"workshop {workshop_id} vanished")
    return workshop


def _int_field(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedEvent(f"{name} must be a non-negative integer")
    return value


def _iso(when: datetime) -> str:
    return when.isoformat()


def _log_timings(message: str, workshop_id: str, host: Host) -> None:
    """Log the host's phase timestamps and the seconds between them as structured fields."""
    fields: dict[str, Any] = {"workshop_id": workshop_id, "host": host.index}
    stamps = {k: datetime.fromisoformat(v) for k, v in host.timings.items()}
    if "requested" in stamps:
        for phase in ("instance_running", "ready"):
            if phase in stamps:
                seconds = (stamps[phase] - stamps["requested"]).total_seconds()
                fields[f"{phase}_after_s"] = round(seconds, 3)
    log.info(message, extra=fields)
