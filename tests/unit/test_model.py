"""Workshop, Host and Seat helpers: storage shape, host planning and naming."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from shared.domain.codes import new_workshop_code, new_workshop_id
from shared.domain.model import (
    Host,
    HostStatus,
    Workshop,
    WorkshopStatus,
    host_count,
    host_index_for_seat,
    host_name,
    plan_hosts,
)
from shared.domain.validation import SEATS_MAX, SEATS_PER_HOST_MIN

#: GCE instance names (RFC 1035 label): lowercase, starts with a letter, at most 63 chars.
GCE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def workshop(**overrides: object) -> Workshop:
    fields: dict[str, object] = {
        "id": "wabcdefghjk",
        "name": "Intro",
        "code": "CLAUDE-AB3D",
        "seats": 45,
        "seats_per_host": 10,
        "owner": "alice@example.com",
    }
    fields.update(overrides)
    return Workshop(**fields)  # type: ignore[arg-type]


def test_to_dict_is_json_shaped_apart_from_timestamps_and_round_trips():
    when = datetime(2026, 5, 4, 3, 2, 1, 987654, tzinfo=UTC)
    original = workshop(
        status=WorkshopStatus.RUNNING,
        created_at=when,
        updated_at=when,
        error="boom",
        api_key_ref="secret/key",
        attempt=3,
        model_policy={"models": ["m"], "max_requests": 10},
        model_paused=True,
    )
    original = replace(original, hosts=plan_hosts(original)).with_host(
        Host(
            0, host_name(original.id, 0), 1, 10, HostStatus.READY, "http://h0", None, {"ready": "t"}
        )
    )

    data = original.to_dict()

    assert data["status"] == "running"
    assert data["hosts"][0]["status"] == "ready"
    json.dumps({k: v for k, v in data.items() if k not in ("created_at", "updated_at")})
    assert Workshop.from_dict(data) == original


def test_from_dict_ignores_fields_it_does_not_know():
    original = workshop()

    assert Workshop.from_dict({**original.to_dict(), "retired_field": 1}) == original


def test_45_seats_at_10_per_host_need_5_hosts_the_last_one_partial():
    hosts = plan_hosts(workshop(seats=45, seats_per_host=10))

    assert [h.index for h in hosts] == [0, 1, 2, 3, 4]
    assert [(h.seat_first, h.seat_last) for h in hosts] == [
        (1, 10),
        (11, 20),
        (21, 30),
        (31, 40),
        (41, 45),
    ]
    assert all(h.status is HostStatus.PENDING for h in hosts)
    assert workshop(seats=45, seats_per_host=10).host_count == 5


@pytest.mark.parametrize(("seats", "per_host"), [(1, 10), (10, 10), (11, 10), (500, 1), (7, 50)])
def test_planned_hosts_cover_every_seat_exactly_once(seats, per_host):
    hosts = plan_hosts(workshop(seats=seats, seats_per_host=per_host))

    covered = [n for h in hosts for n in range(h.seat_first, h.seat_last + 1)]
    assert covered == list(range(1, seats + 1))
    assert len(hosts) == host_count(seats, per_host)
    for h in hosts:
        assert all(host_index_for_seat(n, per_host) == h.index for n in (h.seat_first, h.seat_last))
        assert h.serves(h.seat_first) and h.serves(h.seat_last)
        assert not h.serves(h.seat_first - 1) and not h.serves(h.seat_last + 1)


def test_host_index_for_seat_counts_seats_from_1_and_hosts_from_0():
    assert [host_index_for_seat(n, 10) for n in (1, 10, 11, 20, 21)] == [0, 0, 1, 1, 2]


def test_host_names_are_valid_gce_instance_names_for_every_possible_index():
    for _ in range(50):
        workshop_id = new_workshop_id()
        largest_index = SEATS_MAX // SEATS_PER_HOST_MIN - 1
        for index in (0, 9, largest_index):
            name = host_name(workshop_id, index)
            assert GCE_NAME.match(name), name


def test_host_names_are_deterministic_and_distinct_per_index():
    assert host_name("wabc", 1) == host_name("wabc", 1)
    assert host_name("wabc", 1) != host_name("wabc", 11)
    assert host_name("wabc", 1) != host_name("wabd", 1)


def test_with_host_replaces_the_same_index_and_keeps_hosts_sorted():
    base = workshop(code=new_workshop_code())
    base = replace(base, hosts=plan_hosts(base))
    ready = replace(base.hosts[2], status=HostStatus.READY, endpoint="http://h2")

    updated = base.with_host(ready)

    assert updated.host(2) == ready
    assert [h.index for h in updated.hosts] == [0, 1, 2, 3, 4]
    assert updated.hosts[:2] == base.hosts[:2] and updated.hosts[3:] == base.hosts[3:]
    assert base.host(2).status is HostStatus.PENDING  # the original is untouched


def test_with_host_adds_a_new_index_in_order():
    base = workshop()
    extra = Host(index=1, name=host_name(base.id, 1), seat_first=11, seat_last=20)

    updated = base.with_host(Host(0, host_name(base.id, 0), 1, 10)).with_host(extra)

    assert [h.index for h in updated.hosts] == [0, 1]
    assert base.host(1) is None
