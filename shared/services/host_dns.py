"""Host endpoint names: ``https://<host name>.<workshop domain>``, backed by one A record each,
or, for a host holding a slot label (``shared.services.host_slots``), ``https://<slot>.<domain>``
backed by two A records: ``<slot>.<domain>`` and ``*.<slot>.<domain>`` (its preview origins).

When ``Settings.host_domain`` is set (gcp mode with ``workshop_domain`` and ``dns_zone``), the
provisioner publishes ``<host name>.<domain>`` -> the VM's external IP as soon as the instance
exists, and tells the agent to announce that URL (Caddy gets its certificate for that name).
Otherwise (local mode, trial mode) nothing is published and the agent computes its own URL.

Names derive from deterministic host names or from the slot the store says the host holds, so
whoever deletes a host can delete its records; the slot is released after the host is gone.
Invariant kept by ``delete_host_and_record``: a record is removed *before* its host, and a
host is kept (for the next retry or reconciler pass) while removing its record fails
transiently, so no name is left pointing at an IP that Google may hand to somebody else's VM.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.domain.errors import PermanentError, TransientError
from shared.ports.compute import HostInfo
from shared.services.host_slots import host_slot, release_host_slot
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.bootstrap import Platform

log = logging.getLogger(__name__)

#: Short, because a host's IP changes whenever it is recreated.
RECORD_TTL_SECONDS = 60


def record_name(settings: Settings, host_name: str, slot: str | None = None) -> str:
    """``<slot>.<domain>`` or ``<host name>.<domain>``; ``""`` when no host domain is managed."""
    domain = settings.host_domain
    return f"{slot or host_name}.{domain}" if domain else ""


def record_names(settings: Settings, host_name: str, slot: str | None = None) -> list[str]:
    """Every A record of the host: its name, plus ``*.<slot>.<domain>`` for a slotted host."""
    name = record_name(settings, host_name, slot)
    if not name:
        return []
    return [name, f"*.{name}"] if slot else [name]


def public_url(settings: Settings, host_name: str, slot: str | None = None) -> str:
    """The agent's public URL under the managed domain, or ``""`` (the host computes its own)."""
    name = record_name(settings, host_name, slot)
    return f"https://{name}" if name else ""


def publish_host_record(platform: Platform, info: HostInfo) -> None:
    """Point the host's names at its external IP (idempotent). No-op without a host domain.

    Raises ``TransientError`` if the instance has no external IP yet (the event is redelivered
    and finds it then), and whatever the DNS adapter raises.
    """
    names = record_names(platform.settings, info.name, host_slot(platform, info.name))
    if not names:
        return
    if not info.address:
        raise TransientError(f"host {info.name} has no external IP yet")
    for name in names:
        platform.dns.upsert_a_record(name, info.address, RECORD_TTL_SECONDS)


def delete_host_and_record(platform: Platform, host_name: str) -> None:
    """Delete the host's DNS records, then the host, then free its slot. Missing is success.

    A ``TransientError`` from DNS keeps the host (and raises), so the records are retried with
    it and never outlive it. A ``PermanentError`` from DNS (zone or permission misconfigured)
    does not keep a paid VM alive: the host is still deleted, then the error is raised. The
    slot label is released only once the host is deleted, so it never names two live hosts.
    """
    names = record_names(platform.settings, host_name, host_slot(platform, host_name))
    if not names:
        platform.compute.delete_host(host_name)
        return
    try:
        for name in names:
            platform.dns.delete_record(name)
    except PermanentError:
        log.error("DNS records %s could not be deleted; deleting their host anyway", names)
        platform.compute.delete_host(host_name)
        release_host_slot(platform, host_name)
        raise
    platform.compute.delete_host(host_name)
    release_host_slot(platform, host_name)
