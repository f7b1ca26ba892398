"""Tell a live workshop's hosts its new end: ``PUT {endpoint}/control/schedule``.

Called after the instructor extends or ends the workshop, so the learners' countdown and the
agent's download-only grace follow the stored schedule (the source of truth; hosts started
later get it in their configuration). Best effort, like the model kill switch: hosts are
called in parallel with a short timeout, an unreachable one is logged and never fails the
instructor's request. The teardown itself never depends on this: the reconciler deletes the
hosts at ``ends_at + grace`` whatever the agents were told.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from shared.auth.signing import instructor_token
from shared.bootstrap import Platform
from shared.domain.model import LIVE_STATUSES, Host, Workshop

if TYPE_CHECKING:  # imported where used: httpx pulls in its CLI (rich, pygments) at import,
    import httpx  # a cold-start cost for every API function that never calls a host

log = logging.getLogger(__name__)

HOST_TIMEOUT_SECONDS = 3.0
TOKEN_TTL_SECONDS = 120
CONTROL_PATH = "/control/schedule"


def tell_hosts(
    platform: Platform, workshop: Workshop, *, client: httpx.Client | None = None
) -> dict[int, bool]:
    """Send the schedule to every host with an endpoint; ``{host index: acknowledged}``."""
    schedule = workshop.schedule
    hosts = [h for h in workshop.hosts if h.endpoint] if workshop.status in LIVE_STATUSES else []
    if schedule is None or not hosts:
        return {}
    body = {
        "ends_at": schedule.ends_at.isoformat(),
        "grace_ends_at": schedule.grace_ends_at.isoformat(),
    }
    token = instructor_token(
        platform.secrets,
        platform.settings,
        workshop_id=workshop.id,
        owner=workshop.owner,
        ttl_seconds=TOKEN_TTL_SECONDS,
    )
    import httpx

    http = client or httpx.Client(timeout=HOST_TIMEOUT_SECONDS, follow_redirects=False)
    try:
        with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
            results = dict(pool.map(lambda host: _tell(http, host, token, body), hosts))
    finally:
        if client is None:
            http.close()
    for index, ok in sorted(results.items()):
        level = logging.INFO if ok else logging.WARNING
        log.log(
            level,
            "schedule sent to host %s: %s",
            index,
            "ok" if ok else "not acknowledged",
            extra={"workshop_id": workshop.id, "host": index},
        )
    return results


def _tell(http: httpx.Client, host: Host, token: str, body: dict[str, str]) -> tuple[int, bool]:
    import httpx

    url = f"{str(host.endpoint).rstrip('/')}{CONTROL_PATH}"
    try:
        response = http.put(url, json=body, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return host.index, False
    return host.index, response.status_code == 200
