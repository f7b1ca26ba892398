"""Host endpoint names: ``https://<host name>.<workshop domain>``, backed by one A record each.

When ``Settings.host_domain`` is set (gcp mode with ``workshop_domain`` and ``dns_zone``), the
provisioner publishes ``<host name>.<domain>`` -> the VM's external IP as soon as the instance
exists, and tells the agent to announce that URL (Caddy gets its certificate for that name).
Otherwise (local mode, trial mode) nothing is published and the agent computes its own URL.

Names derive from deterministic host names, so no record is stored anywhere: whoever deletes
a host can delete its record. Invariant kept by ``delete_host_and_record``: a record is removed
*before* its host, and a host is kept (for the next retry or reconciler pass) while removing
its record fails transiently, so no name is left pointing at an IP that Google may hand to
somebody else's VM.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.domain.errors import PermanentError, TransientError
from shared.ports.compute import HostInfo
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.bootstrap import Platform

log = logging.getLogger(__name__)

#: Short, because a host's IP changes whenever it is recreated.
RECORD_TTL_SECONDS = 60


def record_name(settings: Settings, host_name: str) -> str:
    """``<host name>.<domain>``, or ``""`` when no host domain is managed."""
    domain = settings.host_domain
    return f"{host_name}.{domain}" if domain else ""


def public_url(settings: Settings, host_name: str) -> str:
    """The agent's public URL under the managed domain, or ``""`` (the host computes its own)."""
    name = record_name(settings, host_name)
    return f"https://{name}" if name else ""


def publish_host_record(platform: Platform, info: HostInfo) -> None:
    """Point the host's name at its external IP (idempotent). No-op without a host domain.

    Raises ``TransientError`` if the instance has no external IP yet (the event is redelivered
    and finds it then), and whatever the DNS adapter raises.
    """
    name = record_name(platform.settings, info.name)
    if not name:
        return
    if not info.address:
        raise TransientError(f"host {info.name} has no external IP yet")
    platform.dns.upsert_a_record(name, info.address, RECORD_TTL_SECONDS)


def delete_host_and_record(platform: Platform, host_name: str) -> None:
    """Delete the host's DNS record, then the host. Missing record or host is success.

    A ``TransientError`` from DNS keeps the host (and raises), so the record is retried with it
    and never outlives it. A ``PermanentError`` from DNS (zone or permission misconfigured) does
    not keep a paid VM alive: the host is still deleted, then the error is raised.
    """
    name = record_name(platform.settings, host_name)
    if not name:
        platform.compute.delete_host(host_name)
        return
    try:
        platform.dns.delete_record(name)
    except PermanentError:
        log.error("DNS record %s could not be deleted; deleting its host anyway", name)
        platform.compute.delete_host(host_name)
        raise
    platform.compute.delete_host(host_name)
