"""Schedule and cost through the API: create with a schedule, change it, see the estimate,
the cost so far and the final figures, and the join window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.bootstrap import Platform
from shared.domain.events import WORKSHOP_START_REQUESTED
from shared.domain.vm_prices import PRICE_SOURCE, VM_PRICES
from tests.api.conftest import API_KEY, Api, force_running
from tests.support.fakes import RecordingBus


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def soon(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_create_without_a_schedule_ends_in_three_hours_and_returns_an_estimate(api: Api) -> None:
    workshop = api.create()

    schedule = workshop["schedule"]
    ends = datetime.fromisoformat(schedule["ends_at"])
    created = datetime.fromisoformat(workshop["created_at"])
    assert ends - created == timedelta(hours=3)
    assert schedule["end_grace_minutes"] == 10 and schedule["warmup_minutes"] == 15
    assert schedule["starts_at"] is None and schedule["phase"] == "open"
    estimate = workshop["cost"]["estimate"]
    assert estimate["kind"] == "estimate"
    assert estimate["vm_hours"] == pytest.approx(3 + 10 / 60, abs=0.01)  # 1 host, 3 h + grace
    assert estimate["pricing"]["machine_type"] == "local-process"
    assert estimate["model_usd"] is None  # the default policy has no per-seat budget


def test_create_with_a_schedule_stores_it(api: Api) -> None:
    starts = soon(120).replace(microsecond=0)
    workshop = api.create(
        schedule={
            "starts_at": iso(starts),
            "ends_at": iso(starts + timedelta(hours=2)),
            "warmup_minutes": 30,
            "join_opens_at": iso(starts - timedelta(minutes=5)),
            "end_grace_minutes": 5,
        }
    )

    schedule = workshop["schedule"]
    assert datetime.fromisoformat(schedule["starts_at"]) == starts
    assert datetime.fromisoformat(schedule["warmup_at"]) == starts - timedelta(minutes=30)
    assert datetime.fromisoformat(schedule["grace_ends_at"]) == starts + timedelta(minutes=125)
    assert schedule["phase"] == "before"


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"ends_at": "tomorrow"}, "schedule.ends_at"),
        ({"ends_at": "2030-01-01T10:00:00"}, "schedule.ends_at"),
        ({"ends_at": "2020-01-01T10:00:00Z"}, "schedule.ends_at"),
        ({"ends_at": "9999-12-31T23:59:59-14:00"}, "schedule.ends_at"),
        ({"starts_at": "2999-12-31T23:00:00Z"}, "schedule.starts_at"),
        ({"warmup_minutes": 1000}, "schedule.warmup_minutes"),
        ({"warmup_minutes": "15"}, "schedule.warmup_minutes"),
        ({"ends": "x"}, "schedule.ends"),
    ],
)
def test_bad_schedules_are_400_naming_the_field(api: Api, schedule: dict, field: str) -> None:
    body = {"name": "x", "seats": 2, "api_key": API_KEY, "schedule": schedule}
    response = api.call("POST", "/api/workshops", body)

    assert response.status == 400, response.json()
    assert response.json()["error"]["field"] == field


def test_extend_and_end_now_through_the_api(api: Api, running: dict) -> None:
    path = f"/api/workshops/{running['id']}/schedule"
    before = datetime.fromisoformat(running["schedule"]["ends_at"])

    extended = api.call("POST", path, {"extend_minutes": 45})
    assert extended.status == 200, extended.json()
    assert datetime.fromisoformat(
        extended.json()["workshop"]["schedule"]["ends_at"]
    ) == before + timedelta(minutes=45)

    target = soon(300).replace(microsecond=0)
    moved = api.call("POST", path, {"ends_at": iso(target)})
    assert datetime.fromisoformat(moved.json()["workshop"]["schedule"]["ends_at"]) == target

    ended = api.call("POST", path, {"end_now": True})
    schedule = ended.json()["workshop"]["schedule"]
    assert schedule["phase"] == "grace"
    assert datetime.fromisoformat(schedule["ends_at"]) <= datetime.now(UTC)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"end_now": False},
        {"extend_minutes": 10, "end_now": True},
        {"extend_minutes": 0},
        {"extend_minutes": 100000},
        {"ends_at": "2020-01-01T00:00:00Z"},
        {"ends_at": iso(soon(60 * 30))},  # more than 24 h after the start
        {"when": "now"},
    ],
)
def test_bad_schedule_changes_are_400(api: Api, running: dict, body: dict) -> None:
    response = api.call("POST", f"/api/workshops/{running['id']}/schedule", body)
    assert response.status == 400, response.json()


def test_a_stopped_workshops_schedule_is_409_and_an_unknown_one_404(
    api: Api, platform: Platform, running: dict
) -> None:
    api.call("POST", f"/api/workshops/{running['id']}/stop")
    response = api.call("POST", f"/api/workshops/{running['id']}/schedule", {"extend_minutes": 5})
    assert response.status == 409 and response.json()["error"]["status"] == "stopping"
    missing = api.call("POST", "/api/workshops/nope/schedule", {"extend_minutes": 5})
    assert missing.status == 404


def test_start_over_the_ceiling_is_409_with_a_clear_message_and_publishes_nothing(
    api: Api, platform: Platform, bus: RecordingBus
) -> None:
    api.platform = replace(platform, settings=replace(platform.settings, max_workshop_usd=15.0))
    over = api.create(seats=20, model_policy={"defaults": {"budget_usd": 1.0}})
    under = api.create(seats=10, model_policy={"defaults": {"budget_usd": 1.0}})
    assert over["cost"]["estimate"]["total_usd"] == pytest.approx(20.0)  # local VMs: 0 USD

    response = api.call("POST", f"/api/workshops/{over['id']}/start")

    assert response.status == 409
    error = response.json()["error"]
    assert error["code"] == "cost_ceiling_exceeded"
    assert "ceiling of 15.00 USD" in error["message"] and "20.00 USD" in error["message"]
    assert [e.workshop_id for e in bus.events if e.type == WORKSHOP_START_REQUESTED] == []
    assert api.call("POST", f"/api/workshops/{under['id']}/start").status == 202


def test_the_estimate_uses_the_price_table_for_gce_hosts(platform: Platform) -> None:
    from shared.auth.instructor import Instructor
    from shared.domain.model import utcnow
    from shared.services import costs, workshops

    gce = replace(
        platform.settings, mode="gcp", gce_zone="us-central1-a", gce_machine_type="e2-standard-4"
    )
    workshop = workshops.create_workshop(
        platform, Instructor("t@example.com"), name="w", seats=20, api_key=API_KEY,
        model_policy={"defaults": {"budget_usd": 1.0}},
    )  # fmt: skip
    figures = costs.estimate_for(gce, workshop, utcnow()).as_dict()

    price = VM_PRICES[("us-central1", "e2-standard-4")].on_demand
    assert figures["pricing"]["source"] == PRICE_SOURCE
    assert price < figures["pricing"]["usd_per_hour"] < price + 0.01  # plus the boot disk
    hours = 3 + 10 / 60
    assert figures["vm_usd"] == pytest.approx(
        2 * hours * figures["pricing"]["usd_per_hour"], rel=1e-3
    )
    assert figures["total_usd"] == pytest.approx(figures["vm_usd"] + 20.0, rel=1e-3)


def test_get_shows_the_cost_so_far_while_running(
    api: Api, platform: Platform, running: dict
) -> None:
    api.call("POST", f"/api/workshops/{running['id']}/start")  # 409: already running
    platform.store.update_workshop(
        running["id"],
        lambda w: replace(w, billing_started_at=datetime.now(UTC) - timedelta(hours=1)),
    )
    platform.store.put_seat_usage(running["id"], {1: {"requests": 2, "cost_usd": 0.25}})

    cost = api.call("GET", f"/api/workshops/{running['id']}").json()["workshop"]["cost"]

    assert cost["so_far"]["kind"] == "so_far"
    assert cost["so_far"]["vm_hours"] == pytest.approx(2.0, abs=0.01)  # 2 hosts x 1 h
    assert cost["so_far"]["model_usd"] == pytest.approx(0.25)
    assert cost["final"] is None


def test_joining_before_join_opens_at_is_409_and_after_the_end_too(
    api: Api, platform: Platform
) -> None:
    starts = soon(60)
    workshop = api.create(
        schedule={"starts_at": iso(starts), "join_opens_at": iso(starts - timedelta(minutes=10))}
    )
    force_running(platform, workshop["id"])

    early = api.join(workshop["code"])
    assert early.status == 409
    assert early.json()["error"]["code"] == "doors_not_open"

    open_now = api.create()
    force_running(platform, open_now["id"])
    joined = api.join(open_now["code"])
    assert joined.status == 200
    assert joined.json()["schedule"]["ends_at"] == open_now["schedule"]["ends_at"]
    api.call("POST", f"/api/workshops/{open_now['id']}/schedule", {"end_now": True})
    late = api.join(open_now["code"], ip="198.51.100.9")
    assert late.status == 409 and late.json()["error"]["code"] == "workshop_ended"
    again = api.join(open_now["code"], reconnect_code=joined.json()["reconnect_code"])
    assert again.status == 200  # a returning learner may still come back to download


def test_a_stopped_workshop_is_listed_with_its_final_cost(
    api: Api, platform: Platform, running: dict
) -> None:
    from shared.services import provisioning
    from tests.support.compute_doubles import InMemoryCompute

    platform.store.put_seat_usage(running["id"], {2: {"requests": 1, "cost_usd": 1.5}})
    api.call("POST", f"/api/workshops/{running['id']}/stop")
    stopping = platform.store.get_workshop(running["id"])
    assert stopping is not None
    provisioning.stop_workshop(
        replace(platform, compute=InMemoryCompute()), stopping
    )  # the provisioner

    listed = api.call("GET", "/api/workshops").json()["workshops"]
    (shown,) = [w for w in listed if w["id"] == running["id"]]
    assert shown["status"] == "stopped" and shown["stopped_at"] is not None
    assert shown["cost"]["estimate"] is None
    assert shown["cost"]["final"]["kind"] == "final"
    assert shown["cost"]["final"]["model_usd"] == pytest.approx(1.5)
