"""Host slot labels: which of the certificate's ``*.<slot>.<domain>`` names a host is given.

With a managed host domain and ``certificate_slots`` > 0, every host takes one free label of
the pool ``s00`` .. (``shared.domain.certificates.slot_labels``) before it is created, and is
then reached at ``https://<slot>.<domain>`` with its app previews at
``p<P>-s<S>.<slot>.<domain>`` (docs/preview.md), all covered by the deployment certificate.
The label is held in the state store (``WorkshopStore.claim_slot``), so a redelivered create
event gets the same one back and two hosts never share one; it is released after the host is
deleted (``shared.services.host_dns.delete_host_and_record``). With ``certificate_slots`` = 0
hosts keep their own names (``<host name>.<domain>``) and previews stay local-only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.domain.certificates import slot_labels
from shared.domain.errors import PermanentError
from shared.domain.model import Host, Workshop
from shared.ports.store import SlotHolder
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.bootstrap import Platform

log = logging.getLogger(__name__)


class SlotsExhausted(PermanentError):
    """Every slot label is held by another host."""


def slots_enabled(settings: Settings) -> bool:
    """Whether hosts are named by slot labels (a managed domain and ``certificate_slots`` > 0)."""
    return bool(settings.host_domain) and settings.certificate_slots > 0


def claim_host_slot(platform: Platform, workshop: Workshop, host: Host) -> str | None:
    """The slot label ``host`` holds (claimed now if it holds none), or ``None`` when hosts
    are not slotted. Raises ``SlotsExhausted`` naming ``certificate_slots`` when the pool is
    full."""
    settings = platform.settings
    if not slots_enabled(settings):
        return None
    labels = slot_labels(settings.certificate_slots)
    holder = SlotHolder(host.name, workshop.id, host.index, workshop.attempt)
    label = platform.store.claim_slot(labels, holder)
    if label is None:
        raise SlotsExhausted(
            f"host {host.index}: no free host slot label; all {len(labels)} (terraform variable"
            " certificate_slots) are held by other hosts. Stop another workshop, or raise"
            " certificate_slots (at most 99) and re-issue the certificate"
        )
    log.info(
        "host slot claimed",
        extra={"workshop_id": workshop.id, "host": host.index, "slot": label},
    )
    return label


def host_slot(platform: Platform, host_name: str) -> str | None:
    """The label ``host_name`` holds, or ``None`` (never looked up without a managed domain)."""
    if not platform.settings.host_domain:
        return None
    return platform.store.slot_of(host_name)


def release_host_slot(platform: Platform, host_name: str) -> None:
    """Free the host's label (idempotent). Only once the host itself is gone."""
    if not platform.settings.host_domain:
        return
    label = platform.store.release_slot(host_name)
    if label is not None:
        log.info("host slot released", extra={"host_name": host_name, "slot": label})
