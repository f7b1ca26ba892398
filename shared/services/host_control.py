"""Best-effort ``PUT {host.endpoint}/control/...`` to every live host of a workshop.

The stored workshop is the source of truth; this only tells running agents now. Hosts are
called in parallel with a short timeout and a short-lived instructor-role token signed by
the platform key; an unreachable host is logged (never with the token) and reported, and
never fails the instructor's request.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx

from shared.auth.signing import instructor_token
from shared.bootstrap import Platform
from shared.domain.model import LIVE_STATUSES, Host, Workshop, host_index_for_seat

log = logging.getLogger(__name__)

HOST_TIMEOUT_SECONDS = 3.0
TOKEN_TTL_SECONDS = 120


def put_to_hosts(
    platform: Platform,
    workshop: Workshop,
    path: str,
    body: dict[str, Any],
    *,
    client: httpx.Client | None = None,
) -> dict[int, bool]:
    """``{host index: acknowledged}`` for every host that has an endpoint."""
    hosts = [h for h in workshop.hosts if h.endpoint] if workshop.status in LIVE_STATUSES else []
    if not hosts:
        return {}
    token = instructor_token(
        platform.secrets,
        platform.settings,
        workshop_id=workshop.id,
        owner=workshop.owner,
        ttl_seconds=TOKEN_TTL_SECONDS,
    )
    http = client or httpx.Client(timeout=HOST_TIMEOUT_SECONDS, follow_redirects=False)

    def tell(host: Host) -> bool:
        url = f"{str(host.endpoint).rstrip('/')}{path}"
        try:
            response = http.put(url, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            log.warning(
                "host %s did not take %s: %s", host.index, path, type(exc).__name__,
                extra={"workshop_id": workshop.id, "host": host.index},
            )  # fmt: skip
            return False
        if response.status_code != 200:
            log.warning(
                "host %s answered %s to %s", host.index, response.status_code, path,
                extra={"workshop_id": workshop.id, "host": host.index},
            )  # fmt: skip
        return response.status_code == 200

    try:
        with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
            return dict(zip((h.index for h in hosts), pool.map(tell, hosts), strict=True))
    finally:
        if client is None:
            http.close()


def put_to_seat_host(
    platform: Platform,
    workshop: Workshop,
    seat: int,
    path: str,
    body: dict[str, Any],
    *,
    client: httpx.Client | None = None,
) -> tuple[int, bool]:
    """``PUT`` to the one host serving ``seat``: ``(host index, acknowledged)``."""
    host = host_index_for_seat(seat, workshop.seats_per_host)
    serving = replace(workshop, hosts=tuple(h for h in workshop.hosts if h.index == host))
    return host, put_to_hosts(platform, serving, path, body, client=client).get(host, False)
