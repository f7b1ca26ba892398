"""Workshop content packs: upload (instructor), delivery (hosts), progress (instructor).

* ``upload_content``: ``PUT /api/workshops/{id}/content``. The owner only (others: 404), only
  while the workshop is ``created`` (its hosts copy the pack at boot, so a later change would
  reach some seats and not others: 409). The zip is validated with ``shared.content`` and
  stored as uploaded behind the content port.
* ``host_content``: ``GET /api/hosts/content``. The calling host proves which host of which
  workshop and start attempt it is, exactly as for ``POST /api/hosts/events``
  (``shared.auth.host.authenticate_host_caller``); it gets that workshop's pack and no other.
  Refusals spend a failure budget (per client IP and overall) as host events do.
* ``progress``: ``GET /api/workshops/{id}/progress``, per seat and as a step histogram.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from shared.auth.host import authenticate_host_caller
from shared.auth.instructor import IdTokenVerifier, Instructor, bearer_token
from shared.bootstrap import Platform
from shared.content import Pack, load_pack_zip
from shared.content.claude import with_pack_claude
from shared.domain.errors import DomainError, NotFound, StaleState, ValidationError
from shared.domain.model import Workshop, WorkshopStatus, plan_hosts
from shared.domain.progress import SeatProgress, step_histogram
from shared.services import workshops as workshop_service
from shared.services.errors import Unavailable
from shared.services.host_credentials import LIVE, HostCredentialLimiter
from shared.services.ratelimit import LimiterRegistry

log = logging.getLogger(__name__)

HOST_CONTENT_PATH = "/api/hosts/content"

_limiters: LimiterRegistry[HostCredentialLimiter] = LimiterRegistry(HostCredentialLimiter)


def limiter_for(owner: object) -> HostCredentialLimiter:
    """The host-content failure budget attached to ``owner`` (the platform's store)."""
    return _limiters.get(owner)


def upload_content(
    platform: Platform, instructor: Instructor, workshop_id: str, data: bytes
) -> Pack:
    workshop = workshop_service.get_workshop(platform, instructor, workshop_id)
    if workshop.status is not WorkshopStatus.CREATED:
        raise StaleState(workshop.status.value, (WorkshopStatus.CREATED.value,))
    pack = load_pack_zip(data)
    policy = with_pack_claude(workshop.model_policy, pack.manifest.claude)
    platform.content.put(workshop.id, data)
    if policy != workshop.model_policy:

        def apply(current: Workshop) -> Workshop:
            if current.status is not WorkshopStatus.CREATED:
                raise StaleState(current.status.value, (WorkshopStatus.CREATED.value,))
            return replace(
                current, model_policy=with_pack_claude(current.model_policy, pack.manifest.claude)
            )

        platform.store.update_workshop(workshop.id, apply)
    log.info(
        "content pack stored",
        extra={"workshop_id": workshop.id, "steps": len(pack.manifest.steps), "bytes": len(data)},
    )
    return pack


def workshop_pack(platform: Platform, instructor: Instructor, workshop_id: str) -> Pack | None:
    """The workshop's stored pack (validated again), or ``None``."""
    workshop = workshop_service.get_workshop(platform, instructor, workshop_id)
    data = platform.content.get(workshop.id)
    return None if data is None else load_pack_zip(data)


def host_content(
    platform: Platform,
    authorization: str | None,
    query: dict[str, str],
    client: str,
    verify_id_token: IdTokenVerifier | None = None,
) -> bytes | None:
    """The calling host's workshop pack (``None``: the workshop has no content)."""
    limiter = limiter_for(platform.store)
    try:
        bearer_token(authorization)
        workshop_id, index, attempt = _host_query(query)
        authenticate_host_caller(
            platform.settings,
            authorization,
            workshop_id=workshop_id,
            index=index,
            attempt=attempt,
            verify_id_token=verify_id_token,
        )
        workshop = platform.store.get_workshop(workshop_id)
        if (
            workshop is None
            or workshop.status not in LIVE
            or index not in {h.index for h in plan_hosts(workshop)}
        ):
            raise NotFound("no live workshop has this host")
    except DomainError as exc:
        log.warning(
            "host content refused: %s",
            exc.message,
            extra={"reason": type(exc).__name__, "client_ip": client},
        )
        # As for host events: a valid proof is never refused for budget (on the local
        # platform learners share the hosts' address); refusals spend it, then become 429.
        if not isinstance(exc, Unavailable):
            try:
                limiter.check(client)
            finally:
                limiter.failed(client)
        raise
    data = platform.content.get(workshop_id)
    log.info(
        "host content served",
        extra={"workshop_id": workshop_id, "host_index": index, "bytes": len(data or b"")},
    )
    return data


def _host_query(query: dict[str, str]) -> tuple[str, int, int]:
    workshop_id = query.get("workshop_id") or ""
    if not workshop_id or len(workshop_id) > 64 or not workshop_id.replace("-", "").isalnum():
        raise ValidationError("workshop_id", "is required")
    numbers = []
    for name in ("host_index", "attempt"):
        raw = query.get(name) or ""
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
            raise ValidationError(name, "must be a non-negative integer")
        numbers.append(int(raw))
    return workshop_id, numbers[0], numbers[1]


@dataclass(frozen=True)
class Progress:
    pack: Pack | None
    seats: dict[int, SeatProgress]

    @property
    def histogram(self) -> list[int]:
        steps = len(self.pack.manifest.steps) if self.pack else 0
        return step_histogram(self.seats.values(), steps)


def progress(platform: Platform, instructor: Instructor, workshop_id: str) -> Progress:
    pack = workshop_pack(platform, instructor, workshop_id)
    return Progress(pack=pack, seats=platform.store.get_seat_progress(workshop_id))
