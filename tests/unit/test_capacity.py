"""Quota arithmetic for a workshop's hosts (shared.domain.capacity)."""

from __future__ import annotations

import pytest

from shared.domain.capacity import HostShape, Quota, hosts_for, needs, shortfalls, vcpus_of


@pytest.mark.parametrize(
    ("machine_type", "vcpus"),
    [("e2-standard-4", 4), ("n2-highmem-16", 16), ("e2-custom-6-24576", 6), ("e2-medium", 2)],
)
def test_vcpus_come_from_the_machine_type_name(machine_type: str, vcpus: int) -> None:
    assert vcpus_of(machine_type) == vcpus


def test_an_unknown_machine_type_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot tell"):
        vcpus_of("mystery")


def test_500_seats_need_what_the_issue_says() -> None:
    """500 seats at 10 per host on e2-standard-4 with 50 GB disks: 200 vCPUs, 50 addresses,
    2.5 TB of pd-balanced."""
    hosts = hosts_for(500, 10)
    assert needs(hosts, HostShape("e2-standard-4", 50)) == {
        "CPUS": 200,
        "CPUS_ALL_REGIONS": 200,
        "IN_USE_ADDRESSES": 50,
        "SSD_TOTAL_GB": 2500,
    }


def test_spot_uses_preemptible_cpus_only_where_the_region_grants_them() -> None:
    required = needs(5, HostShape("e2-standard-4", 50, spot=True))
    granted = {"PREEMPTIBLE_CPUS": Quota(100, 0), "CPUS": Quota(8, 0)}
    assert shortfalls(required, granted) == []
    none = {"PREEMPTIBLE_CPUS": Quota(0, 0), "CPUS": Quota(8, 0)}
    assert shortfalls(required, none) == ["CPUS: needs 20, 8 free (limit 8)"]
