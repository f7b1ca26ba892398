"""Delete a workshop the instructor no longer needs: one that never started (``created``) or
has stopped (``stopped``: its hosts are gone and its API key already deleted). The API key
secret (if any), the seats, usage and the code reservation go with it (``Store.delete_workshop``).

A live or failed workshop is refused (409): it may still have hosts, which only a stop
removes. Logged with the instructor's identity.
"""

from __future__ import annotations

import logging

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.domain.errors import StaleState
from shared.domain.model import WorkshopStatus
from shared.services import workshops as workshop_service

log = logging.getLogger(__name__)

DELETABLE = frozenset({WorkshopStatus.CREATED, WorkshopStatus.STOPPED})


def delete_workshop(platform: Platform, instructor: Instructor, workshop_id: str) -> None:
    workshop = workshop_service.get_workshop(platform, instructor, workshop_id)
    if workshop.status not in DELETABLE:
        raise StaleState(workshop.status.value, tuple(sorted(s.value for s in DELETABLE)))
    if workshop.api_key_ref:
        platform.secrets.delete(workshop.api_key_ref)
    platform.store.delete_workshop(workshop.id)
    log.info("workshop deleted", extra={"workshop_id": workshop.id, "owner": instructor.owner})
