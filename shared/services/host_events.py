"""Accept an event a host reports about itself (``POST /api/hosts/events``) and publish it.

Hosts never publish to the event topic themselves: the topic (Pub/Sub on GCP, the local
push endpoint) is written only by the platform, and this handler is the one door through
which a host's word reaches the provisioner. It checks, in order:

1. the caller presents a bearer credential at all (401);
2. the body is one event of ours (``Event.from_message``) of a host type (``host.ready``,
   ``host.failed``, ``host.usage``) whose data names ``host_index`` and ``attempt``
   (400 otherwise);
3. the caller proves it *is* that host (``shared.auth.host.authenticate_host_caller``: the GCE
   instance identity token of VM ``ct-<workshop>-h<index>``, or the local host events token
   of exactly that workshop, host and attempt): 401/403 otherwise. A GCE VM created before its
   host was requested for the current attempt (a leftover of an earlier attempt: VM names
   repeat) is refused too (403), by the creation time Google puts in the identity token.

Refusals spend a failure budget per client IP and overall; once it is spent, refusals become
429 with ``Retry-After``. A valid proof is never refused for budget: on the local platform every
host and every learner's shell share 127.0.0.1, so a learner flooding bad requests must not
hold back the real hosts' ``host.ready`` (the proofs are 256-bit HMACs or Google-signed tokens:
the budget bounds noise, not a feasible search).

Then the event is re-stamped with this server's clock (a host's idea of the time is not
trusted) and published. Whether it still matters (the current start attempt, the workshop's
state) is the provisioner's decision (``shared.services.provisioning``), because a message
can also be redelivered or replayed long after it was accepted here. Logs name the workshop,
host and outcome, never the token.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from shared.auth.host import HostIdentity, authenticate_host_caller
from shared.auth.instructor import IdTokenVerifier, bearer_token
from shared.bootstrap import Platform
from shared.domain.errors import DomainError, Forbidden, ValidationError
from shared.domain.events import HOST_EVENT_TYPES, HOST_USAGE, Event, MalformedEvent
from shared.domain.model import utcnow
from shared.domain.progress import parse_progress
from shared.services.errors import Unavailable
from shared.services.host_credentials import HostCredentialLimiter
from shared.services.ratelimit import LimiterRegistry

log = logging.getLogger(__name__)

EVENTS_PATH = "/api/hosts/events"

_limiters: LimiterRegistry[HostCredentialLimiter] = LimiterRegistry(HostCredentialLimiter)


def limiter_for(owner: object) -> HostCredentialLimiter:
    """The host-events failure budget attached to ``owner`` (the platform's store)."""
    return _limiters.get(owner)


def install_limiter(owner: object, limiter: HostCredentialLimiter) -> HostCredentialLimiter:
    """Attach ``limiter`` to ``owner`` (tests: small budgets or a fake clock)."""
    return _limiters.install(owner, limiter)


def accept_host_event(
    platform: Platform,
    authorization: str | None,
    body: bytes,
    client: str,
    verify_id_token: IdTokenVerifier | None = None,
    now: datetime | None = None,
) -> str:
    """Publish the host event in ``body`` for its proven sender; return the message id.

    Raises ``ValidationError`` (400), ``Unauthorized`` (401), ``Forbidden`` (403),
    ``RateLimited`` (429), ``Unavailable``/``TransientError`` (503)."""
    limiter = limiter_for(platform.store)
    try:
        bearer_token(authorization)  # no credential at all: 401 before the body is read
        event = _parse(body)
        index, attempt = event.data["host_index"], event.data["attempt"]
        identity = authenticate_host_caller(
            platform.settings,
            authorization,
            workshop_id=event.workshop_id,
            index=index,
            attempt=attempt,
            verify_id_token=verify_id_token,
        )
        _require_vm_of_this_attempt(platform, identity)
    except DomainError as exc:
        log.warning(
            "host event refused: %s",
            exc.message,
            extra={"reason": type(exc).__name__, "client_ip": client},
        )
        if not isinstance(exc, Unavailable):
            try:
                limiter.check(client)  # budget spent: 429 (with Retry-After) instead
            finally:
                limiter.failed(client)
        raise
    trusted = replace(event, occurred_at=now or utcnow())
    message_id = platform.bus.publish(trusted)
    log.info(
        "host event accepted",
        extra={
            "workshop_id": event.workshop_id,
            "host": index,
            "attempt": attempt,
            "event_type": event.type,
            "event_id": message_id,
        },
    )
    return message_id


def _require_vm_of_this_attempt(platform: Platform, identity: HostIdentity) -> None:
    """A GCE VM created before its host was requested for the current start attempt is a
    leftover of an earlier attempt (VM names repeat across attempts): ``Forbidden``."""
    if identity.created_at is None:
        return
    workshop = platform.store.get_workshop(identity.workshop_id)
    host = workshop.host(identity.index) if workshop is not None else None
    requested = host.timings.get("requested") if host is not None else None
    if not requested:
        return
    skew = platform.settings.event_max_skew_seconds
    if identity.created_at < datetime.fromisoformat(requested).timestamp() - skew:
        raise Forbidden("this VM predates the workshop's current start attempt")


def _parse(body: bytes) -> Event:
    try:
        event = Event.from_message(body)
    except MalformedEvent as exc:
        raise ValidationError("body", f"not a host event: {exc}") from None
    if event.type not in HOST_EVENT_TYPES:
        raise ValidationError("type", "hosts may only report host.* events")
    for name in ("host_index", "attempt"):
        value = event.data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1_000_000:
            raise ValidationError(f"data.{name}", "must be a non-negative integer")
    if event.type == HOST_USAGE:
        _check_usage_progress(event.data.get("seats"))
    return event


def _check_usage_progress(seats: object) -> None:
    """Each seat's optional ``progress`` (docs/content-packs.md) is well formed and bounded."""
    if not isinstance(seats, dict):
        raise ValidationError("data.seats", "must be an object of seat -> totals")
    for seat, totals in seats.items():
        if isinstance(totals, dict) and "progress" in totals:
            try:
                parse_progress(totals["progress"])
            except ValueError as exc:
                raise ValidationError(f"data.seats.{str(seat)[:10]}.progress", str(exc)) from None
