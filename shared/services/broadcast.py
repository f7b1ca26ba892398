"""The instructor's broadcast: stored on the workshop (kept for learners who join later and
for hosts that ask again), then told to every live host, whose learner pages poll it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.domain.cockpit import broadcast_message
from shared.domain.model import Workshop
from shared.services import workshops as workshop_service
from shared.services.host_control import put_to_hosts

log = logging.getLogger(__name__)

CONTROL_PATH = "/control/broadcast"


@dataclass(frozen=True)
class BroadcastResult:
    workshop: Workshop
    broadcast: dict[str, Any]
    #: host index -> whether the host took it now (others get it from the stored workshop).
    hosts: dict[int, bool]


def broadcast(
    platform: Platform,
    instructor: Instructor,
    workshop_id: str,
    raw_message: object,
    now: datetime,
    *,
    client: httpx.Client | None = None,
) -> BroadcastResult:
    """Validate, store and fan out; another instructor's workshop is ``NotFound``."""
    message = broadcast_message(raw_message)
    workshop_service.get_workshop(platform, instructor, workshop_id)
    record = {"message": message, "sent_at": now.isoformat(), "by": instructor.owner}
    updated = platform.store.update_workshop(
        workshop_id, lambda current: replace(current, broadcast=record)
    )
    hosts = put_to_hosts(
        platform, updated, CONTROL_PATH, {"message": message, "sent_at": record["sent_at"]},
        client=client,
    )  # fmt: skip
    log.info(
        "broadcast sent",
        extra={
            "workshop_id": workshop_id,
            "owner": instructor.owner,
            "chars": len(message),
            "hosts_told": sum(hosts.values()),
        },
    )
    return BroadcastResult(updated, record, hosts)
