"""What a workshop's hosts need from a GCP project's quotas, and what is missing. Pure.

Compute Engine quota metrics (https://cloud.google.com/compute/resource-usage):

* ``CPUS`` (per region) and ``CPUS_ALL_REGIONS`` (per project): every vCPU of a running VM
  (E2 machine types count against ``CPUS``); Spot VMs use ``PREEMPTIBLE_CPUS`` instead of
  ``CPUS`` where the region grants that quota (a limit above 0);
* ``IN_USE_ADDRESSES`` (per region): one ephemeral external IPv4 per host (new projects often
  have 8);
* ``SSD_TOTAL_GB`` (per region): pd-balanced and pd-ssd boot disks.

The limits and current usage come from ``regions.get`` and ``projects.get`` (``quotas[]`` with
``metric``, ``limit``, ``usage``; https://cloud.google.com/compute/docs/reference/rest/v1/regions).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

CPUS = "CPUS"
CPUS_ALL_REGIONS = "CPUS_ALL_REGIONS"
PREEMPTIBLE_CPUS = "PREEMPTIBLE_CPUS"
IN_USE_ADDRESSES = "IN_USE_ADDRESSES"
SSD_TOTAL_GB = "SSD_TOTAL_GB"

_STANDARD = re.compile(r"^[a-z][a-z0-9]*-(?:standard|highmem|highcpu)-(\d+)$")
_CUSTOM = re.compile(r"^(?:[a-z][a-z0-9]*-)?custom-(\d+)-\d+(?:-ext)?$")
_SHARED_CORE = {"e2-micro": 2, "e2-small": 2, "e2-medium": 2, "f1-micro": 1, "g1-small": 1}


@dataclass(frozen=True)
class Quota:
    limit: float
    usage: float

    @property
    def available(self) -> float:
        return self.limit - self.usage


@dataclass(frozen=True)
class HostShape:
    machine_type: str
    disk_gb: int
    spot: bool = False

    @property
    def vcpus(self) -> int:
        return vcpus_of(self.machine_type)


def vcpus_of(machine_type: str) -> int:
    """vCPUs of a predefined or custom machine type name (``e2-standard-4`` -> 4)."""
    if machine_type in _SHARED_CORE:
        return _SHARED_CORE[machine_type]
    match = _STANDARD.match(machine_type) or _CUSTOM.match(machine_type)
    if match is None:
        raise ValueError(f"cannot tell the vCPUs of machine type {machine_type!r}")
    return int(match.group(1))


def hosts_for(seats: int, seats_per_host: int) -> int:
    return math.ceil(seats / seats_per_host)


def needs(hosts: int, shape: HostShape) -> dict[str, float]:
    """Quota each metric must have free to start ``hosts`` hosts of ``shape``."""
    cpus = float(hosts * shape.vcpus)
    return {
        PREEMPTIBLE_CPUS if shape.spot else CPUS: cpus,
        CPUS_ALL_REGIONS: cpus,
        IN_USE_ADDRESSES: float(hosts),
        SSD_TOTAL_GB: float(hosts * shape.disk_gb),
    }


def shortfalls(required: Mapping[str, float], quotas: Mapping[str, Quota]) -> list[str]:
    """One readable line per metric that lacks room, e.g. ``CPUS: needs 200, 24 free (limit
    24)``. Spot CPUs fall back to ``CPUS`` where the region has no ``PREEMPTIBLE_CPUS``
    quota. A metric the project does not report is not checked."""
    out = []
    for metric, amount in required.items():
        quota = quotas.get(metric)
        if metric == PREEMPTIBLE_CPUS and (quota is None or quota.limit <= 0):
            metric, quota = CPUS, quotas.get(CPUS)
        if quota is None or amount <= quota.available:
            continue
        out.append(
            f"{metric}: needs {_n(amount)}, {_n(max(quota.available, 0))} free "
            f"(limit {_n(quota.limit)})"
        )
    return out


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
