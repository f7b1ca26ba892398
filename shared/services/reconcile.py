"""The reconciler: repairs what lost or failed events left behind. Run it every minute.

Each pass, over every workshop (paginated through ``store.list_workshops``):

* ``provisioning`` past ``settings.provisioning_deadline_seconds`` -> ``failed`` with a reason
  saying how many hosts became ready; its hosts are deleted;
* ``provisioning`` with planned hosts missing from compute (a crash between the store write and
  the insert, or a lost start event) -> the missing hosts are created again (idempotent), and
  the DNS records of the existing ones are written again (idempotent);
* ``running`` with a ready host whose VM or process is gone -> that host is marked ``lost``;
* ``stopping`` for longer than ``stop_grace_seconds`` -> the stop is run again;
* the schedule (``shared.services.schedule_sweep``): warm-up before ``starts_at``, the stop
  at ``ends_at`` + grace, and deleting stopped workshops whose retention is over;

and over every labelled host: a host whose workshop is missing or not live is deleted (orphan),
with its DNS record when host names are published (``shared.services.host_dns``).

Every step is idempotent and safe to run concurrently with the provisioner: transitions are
compare-and-set and host creation/deletion is by deterministic name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.bootstrap import Platform
from shared.domain.errors import DomainError, PermanentError, TransientError
from shared.domain.model import LIVE_STATUSES, HostStatus, Workshop, WorkshopStatus, utcnow
from shared.services import provisioning, schedule_sweep
from shared.services.host_dns import delete_host_and_record, publish_host_record

log = logging.getLogger(__name__)

S = WorkshopStatus
#: A stop still ``stopping`` after this long is considered interrupted and run again.
STOP_GRACE_SECONDS = 120
#: A provisioning workshop is re-driven only after this long, so in-flight starts finish first.
REDRIVE_AFTER_SECONDS = 60
#: Workshops read per store page.
PAGE_SIZE = 200


@dataclass
class Report:
    failed_stuck: list[str] = field(default_factory=list)
    hosts_recreated: list[str] = field(default_factory=list)
    hosts_lost: list[str] = field(default_factory=list)
    stops_finished: list[str] = field(default_factory=list)
    orphans_deleted: list[str] = field(default_factory=list)
    slots_released: list[str] = field(default_factory=list)
    warmed_up: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in vars(self).items()}


def reconcile(
    platform: Platform, now: datetime | None = None, *, stop_grace_seconds: int = STOP_GRACE_SECONDS
) -> Report:
    now = now or utcnow()
    report = Report()
    live: set[str] = set()
    for workshop in _all_workshops(platform):
        try:
            _reconcile_workshop(platform, workshop, now, stop_grace_seconds, report)
            _sweep_schedule(platform, workshop, now, report)
        except (TransientError, PermanentError, DomainError) as exc:
            report.errors.append(f"{workshop.id}: {exc}")
            log.warning("reconcile step failed: %s", exc, extra={"workshop_id": workshop.id})
        current = platform.store.get_workshop(workshop.id)
        if current is not None and current.status in LIVE_STATUSES:
            live.add(current.id)
    _delete_orphans(platform, live, report)
    _release_stale_slots(platform, live, report)
    log.info("reconcile pass done", extra={k: len(v) for k, v in report.as_dict().items()})
    return report


def _sweep_schedule(platform: Platform, workshop: Workshop, now: datetime, report: Report) -> None:
    """Warm-up, automatic end and retention (``shared.services.schedule_sweep``), on the
    workshop as it is after the repairs above."""
    current = platform.store.get_workshop(workshop.id)
    if current is None:
        return
    found = schedule_sweep.ScheduleReport()
    schedule_sweep.sweep_workshop(platform, current, now, found)
    report.warmed_up += found.warmed_up
    report.ended += found.ended
    report.purged += found.purged


def _all_workshops(platform: Platform) -> Iterator[Workshop]:
    # TODO(store): a status index (list_workshops(status=...)) would avoid reading every workshop.
    cursor: str | None = None
    while True:
        page = platform.store.list_workshops(limit=PAGE_SIZE, cursor=cursor)
        yield from page.workshops
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _reconcile_workshop(
    platform: Platform, workshop: Workshop, now: datetime, stop_grace: int, report: Report
) -> None:
    if workshop.status is S.PROVISIONING:
        started = _provisioning_started(workshop)
        elapsed = (now - started).total_seconds()
        if elapsed > platform.settings.provisioning_deadline_seconds:
            ready = sum(h.status is HostStatus.READY for h in workshop.hosts)
            deadline = platform.settings.provisioning_deadline_seconds
            reason = (
                f"hosts did not become ready within {deadline} s"
                f" ({ready} of {workshop.host_count} ready); start the workshop again"
            )
            if provisioning.fail_workshop(platform, workshop.id, reason):
                report.failed_stuck.append(workshop.id)
        elif elapsed > REDRIVE_AFTER_SECONDS:
            _recreate_missing_hosts(platform, workshop, report)
    elif workshop.status is S.RUNNING:
        _mark_lost_hosts(platform, workshop, report)
    elif workshop.status is S.STOPPING and (now - workshop.updated_at).total_seconds() > stop_grace:
        provisioning.stop_workshop(platform, workshop)
        report.stops_finished.append(workshop.id)


def _provisioning_started(workshop: Workshop) -> datetime:
    """When this attempt began: the earliest host request, else the last status change."""
    requested = [
        datetime.fromisoformat(h.timings["requested"])
        for h in workshop.hosts
        if "requested" in h.timings
    ]
    return min(requested) if requested else workshop.updated_at


def _recreate_missing_hosts(platform: Platform, workshop: Workshop, report: Report) -> None:
    missing = []
    for host in workshop.hosts:
        if host.status not in (HostStatus.PENDING, HostStatus.CREATING):
            continue
        info = platform.compute.get_host(host.name)
        if info is None:
            missing.append(host)
        else:
            # Idempotent; repairs a DNS record that a start event given up on never wrote.
            publish_host_record(platform, info)
    if not missing:
        return
    try:
        provisioning.create_hosts(platform, workshop, missing)
    except PermanentError as exc:
        provisioning.fail_workshop(platform, workshop.id, str(exc))
        report.failed_stuck.append(workshop.id)
        return
    report.hosts_recreated.extend(h.name for h in missing)


def _mark_lost_hosts(platform: Platform, workshop: Workshop, report: Report) -> None:
    gone = {
        h.index
        for h in workshop.hosts
        if h.status is HostStatus.READY and not _exists(platform, h.name)
    }
    if not gone:
        return

    def mark(current: Workshop) -> Workshop:
        hosts = tuple(
            replace(h, status=HostStatus.LOST, error="the host disappeared while running")
            if h.index in gone and h.status is HostStatus.READY
            else h
            for h in current.hosts
        )
        return replace(current, hosts=hosts)

    platform.store.update_workshop(workshop.id, mark)
    for index in sorted(gone):
        log.warning("host lost", extra={"workshop_id": workshop.id, "host": index})
        report.hosts_lost.append(f"{workshop.id}/{index}")


def _exists(platform: Platform, name: str) -> bool:
    info = platform.compute.get_host(name)
    return info is not None and info.state != "terminated"


def _delete_orphans(platform: Platform, live: set[str], report: Report) -> None:
    for host in platform.compute.list_hosts({"clarateach": "host"}):
        workshop_id = host.labels.get("workshop", "")
        if workshop_id in live:
            continue
        current = platform.store.get_workshop(workshop_id) if workshop_id else None
        if current is not None and current.status in LIVE_STATUSES:
            continue  # went live after our pass over workshops started
        try:
            delete_host_and_record(platform, host.name)
        except (TransientError, PermanentError) as exc:
            report.errors.append(f"{host.name}: {exc}")
            continue
        log.info("orphan host deleted", extra={"workshop_id": workshop_id, "host_name": host.name})
        report.orphans_deleted.append(host.name)


def _release_stale_slots(platform: Platform, live: set[str], report: Report) -> None:
    """Free slot labels still held for hosts of workshops that are not live (a provisioner
    that died between claiming a label and creating its host, a purged workshop): their
    records and any host go first, as for an orphan."""
    if not platform.settings.host_domain:
        return
    for label, holder in platform.store.list_slots().items():
        if holder.workshop_id in live:
            continue
        current = platform.store.get_workshop(holder.workshop_id)
        if current is not None and current.status in LIVE_STATUSES:
            continue  # went live after our pass over workshops started
        try:
            delete_host_and_record(platform, holder.host_name)
        except (TransientError, PermanentError) as exc:
            report.errors.append(f"{holder.host_name}: {exc}")
            continue
        report.slots_released.append(label)
        log.info(
            "stale host slot released",
            extra={"workshop_id": holder.workshop_id, "host_name": holder.host_name},
        )
