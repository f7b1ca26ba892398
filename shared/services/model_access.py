"""The instructor's kill switch, API side: record it, then tell every host.

``set_model_access`` stores ``Workshop.model_paused`` (the source of truth, and what the
provisioner hands to hosts started later as ``CLARATEACH_AGENT_MODEL_PAUSED``) and then fans
out ``PUT {host.endpoint}/control/model-access`` to every host that has an endpoint, with a
short-lived instructor-role token signed by the platform key. The fan-out is best effort:
hosts are called in parallel with a short timeout each, a host that cannot be reached is
logged and reported, and never fails the instructor's request (the stored flag still applies
to hosts started later; a running agent also remembers the last state it was told).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import httpx

from shared.auth.signing import instructor_token
from shared.bootstrap import Platform
from shared.domain.model import LIVE_STATUSES, Host, Workshop

log = logging.getLogger(__name__)

#: Seconds allowed per host (connect + answer); the API request must stay fast.
HOST_TIMEOUT_SECONDS = 3.0
#: The fan-out token only needs to outlive the fan-out.
CONTROL_TOKEN_TTL_SECONDS = 120
CONTROL_PATH = "/control/model-access"


@dataclass(frozen=True)
class HostResult:
    """What one host answered. ``error`` is a short reason, never a token or body."""

    host_index: int
    ok: bool
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ModelAccessResult:
    workshop: Workshop
    hosts: tuple[HostResult, ...]


def set_model_access(
    platform: Platform,
    workshop: Workshop,
    paused: bool,
    *,
    client: httpx.Client | None = None,
) -> Workshop:
    """Pause (``True``) or resume every seat's model access; return the stored workshop.

    ``workshop`` must already be authorised for the caller (the API layer checks ownership).
    """
    return set_model_access_detailed(platform, workshop, paused, client=client).workshop


def set_model_access_detailed(
    platform: Platform,
    workshop: Workshop,
    paused: bool,
    *,
    client: httpx.Client | None = None,
    timeout: float = HOST_TIMEOUT_SECONDS,
) -> ModelAccessResult:
    """``set_model_access`` plus each host's answer to the fan-out (``timeout`` per host)."""
    # Resuming every seat also lifts the pauses of single seats (docs/cockpit.md).
    updated = platform.store.update_workshop(
        workshop.id,
        lambda current: replace(
            current, model_paused=paused, paused_seats=current.paused_seats if paused else ()
        ),
    )
    hosts = tuple(h for h in updated.hosts if h.endpoint) if updated.status in LIVE_STATUSES else ()
    if not hosts:
        return ModelAccessResult(updated, ())
    token = _control_token(platform, updated)
    owned = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        results = _fan_out(hosts, lambda host: _tell_host(http, host, token, paused, timeout))
    finally:
        if owned:
            http.close()
    for result in results:
        level = logging.INFO if result.ok else logging.WARNING
        log.log(
            level,
            "model access %s on host %s: %s",
            "paused" if paused else "resumed",
            result.host_index,
            "ok" if result.ok else result.error,
            extra={"workshop_id": updated.id, "host": result.host_index},
        )
    return ModelAccessResult(updated, results)


def _control_token(platform: Platform, workshop: Workshop) -> str:
    return instructor_token(
        platform.secrets,
        platform.settings,
        workshop_id=workshop.id,
        owner=workshop.owner,
        ttl_seconds=CONTROL_TOKEN_TTL_SECONDS,
    )


def _fan_out(hosts: tuple[Host, ...], call: Callable[[Host], HostResult]) -> tuple[HostResult, ...]:
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        return tuple(pool.map(call, hosts))


def _tell_host(
    http: httpx.Client, host: Host, token: str, paused: bool, timeout: float
) -> HostResult:
    url = f"{str(host.endpoint).rstrip('/')}{CONTROL_PATH}"
    try:
        response = http.put(
            url,
            json={"paused": paused},
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        # The class name only: httpx messages can include the request, never worth the risk.
        return HostResult(host.index, False, None, type(exc).__name__)
    if response.status_code != 200:
        return HostResult(host.index, False, response.status_code, f"HTTP {response.status_code}")
    return HostResult(host.index, True, 200)
