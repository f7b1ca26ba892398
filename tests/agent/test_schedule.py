"""The agent's schedule: the learner's countdown source, the instructor's update, and the
download-only grace (the archive works until the grace is over, then 410), on a fake clock."""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import AgentFactory, Tokens
from workspace_agent.settings import AgentSettings

Client = TestClient[Any, Any]


class Clock:
    """Starts at the real time (tokens are checked against it) and moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def scheduled(make_agent: AgentFactory, settings: AgentSettings, clock: Clock) -> Client:
    """Ends in 20 minutes, grace of 10 after that."""
    custom = replace(
        settings, ends_at=iso(clock.now + 20 * 60), grace_ends_at=iso(clock.now + 30 * 60)
    )
    return await make_agent(custom, clock=clock)  # type: ignore[no-any-return]


async def test_the_schedule_moves_through_warnings_grace_and_over(
    scheduled: Client, tokens: Tokens, clock: Clock
) -> None:
    auth = {"Authorization": f"Bearer {tokens.learner(1)}"}
    start, phases = clock.now, []
    for minutes in (0, 6, 16, 21, 31):  # ends at 20, grace until 30
        clock.now = start + minutes * 60
        response = await scheduled.get("/seats/1/schedule", headers=auth)
        assert response.status == 200
        body = await response.json()
        phases.append(body["phase"])
    assert phases == ["open", "ending", "ending", "grace", "over"]
    assert body["warning_minutes"] == [15, 5]
    assert datetime.fromisoformat(body["server_time"]).timestamp() == pytest.approx(
        clock.now, abs=1
    )


async def test_the_schedule_needs_a_learner_token_for_that_seat(
    scheduled: Client, tokens: Tokens
) -> None:
    assert (await scheduled.get("/seats/1/schedule")).status == 401
    other = {"Authorization": f"Bearer {tokens.learner(2)}"}
    assert (await scheduled.get("/seats/1/schedule", headers=other)).status == 403


async def test_download_works_during_the_grace_and_is_refused_after(
    scheduled: Client, tokens: Tokens, clock: Clock
) -> None:
    auth = {"Authorization": f"Bearer {tokens.learner(1)}"}
    saved = await scheduled.put(
        "/seats/1/files/content", params={"path": "notes.md"}, data=b"my work", headers=auth
    )
    assert saved.status in (200, 201)

    clock.now += 25 * 60  # ended 5 minutes ago: inside the grace
    during = await scheduled.get("/seats/1/archive.zip", headers=auth)
    assert during.status == 200
    with zipfile.ZipFile(io.BytesIO(await during.read())) as archive:
        assert archive.read("notes.md") == b"my work"

    clock.now += 5 * 60 + 1  # the grace is over
    after = await scheduled.get("/seats/1/archive.zip", headers=auth)
    assert after.status == 410
    assert (await after.json())["error"]["code"] == "workshop_ended"


async def test_the_instructor_moves_the_end_and_learners_see_it(
    scheduled: Client, tokens: Tokens, clock: Clock
) -> None:
    learner = {"Authorization": f"Bearer {tokens.learner(1)}"}
    new_end, new_grace = clock.now + 90 * 60, clock.now + 100 * 60
    body = {"ends_at": iso(new_end), "grace_ends_at": iso(new_grace)}

    refused = await scheduled.put("/control/schedule", json=body, headers=learner)
    assert refused.status == 403
    moved = await scheduled.put(
        "/control/schedule",
        json=body,
        headers={"Authorization": f"Bearer {tokens.instructor()}"},
    )
    assert moved.status == 200

    clock.now += 40 * 60  # past the old grace, well before the new end
    seen = await (await scheduled.get("/seats/1/schedule", headers=learner)).json()
    assert seen["phase"] == "open"
    assert datetime.fromisoformat(seen["ends_at"]).timestamp() == pytest.approx(new_end)
    assert (await scheduled.get("/seats/1/archive.zip", headers=learner)).status == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ends_at": "soon", "grace_ends_at": "later"},
        {"ends_at": "2030-01-01T10:00:00", "grace_ends_at": "2030-01-01T10:10:00"},
        {"ends_at": "2030-01-01T10:00:00Z", "grace_ends_at": "2030-01-01T09:00:00Z"},
        {"ends_at": "2030-01-01T10:00:00Z"},
        [],
    ],
)
async def test_bad_schedule_updates_are_400(scheduled: Client, tokens: Tokens, body: Any) -> None:
    response = await scheduled.put(
        "/control/schedule", json=body, headers={"Authorization": f"Bearer {tokens.instructor()}"}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_request"


async def test_without_a_schedule_nothing_is_refused(agent: Client, tokens: Tokens) -> None:
    auth = {"Authorization": f"Bearer {tokens.learner(1)}"}
    body = await (await agent.get("/seats/1/schedule", headers=auth)).json()
    assert body["phase"] == "unscheduled" and body["ends_at"] is None
    assert (await agent.get("/seats/1/archive.zip", headers=auth)).status == 200


async def test_extending_through_the_platform_reaches_the_running_agent(
    make_agent: AgentFactory, settings: AgentSettings, tmp_path: Any, clock: Clock
) -> None:
    """The platform's schedule change fans out to a real agent, which then shows the new end
    to learners; an unreachable host is reported, never raised."""
    import asyncio
    from datetime import timedelta

    from shared.adapters.sqlite_store import SqliteStore
    from shared.auth.instructor import Instructor
    from shared.auth.signing import signing_key
    from shared.bootstrap import Platform
    from shared.domain.model import Host, HostStatus, Workshop, WorkshopStatus
    from shared.services.schedule import ScheduleChange, change_schedule
    from shared.settings import Settings
    from tests.agent.conftest import ISSUER, WORKSHOP
    from tests.support.fakes import MemorySecrets, NullCompute, RecordingBus
    from tests.support.net import free_port

    config = Settings(mode="local", state_dir=tmp_path / "platform", jwt_issuer=ISSUER)
    store = SqliteStore(tmp_path / "platform.db")
    platform = Platform(config, store, RecordingBus(), NullCompute(), MemorySecrets())
    key = signing_key(platform.secrets, config.jwt_key_secret)
    start = datetime.fromtimestamp(clock.now, UTC)
    ends = start + timedelta(minutes=20)
    agent = await make_agent(
        replace(settings, ends_at=ends.isoformat(), grace_ends_at=ends.isoformat()),
        keys={key.kid: key.public_key},
        clock=clock,
    )
    hosts = tuple(
        Host(i, f"h{i}", i + 1, i + 1, HostStatus.READY, endpoint=url)
        for i, url in enumerate(
            [str(agent.make_url("")).rstrip("/"), f"http://127.0.0.1:{free_port()}"]
        )
    )
    workshop = Workshop(
        id=WORKSHOP, name="w", code="CLAUDE-SCHD", seats=2, seats_per_host=1, owner="t@x.org",
        status=WorkshopStatus.RUNNING, hosts=hosts, ends_at=ends, end_grace_minutes=10,
    )  # fmt: skip
    store.create_workshop(workshop, lambda: "CLAUDE-SCH2")

    await asyncio.get_running_loop().run_in_executor(
        None,
        lambda: change_schedule(
            platform, Instructor("t@x.org"), WORKSHOP, ScheduleChange(extend_minutes=60), now=start
        ),
    )

    auth = {"Authorization": f"Bearer {Tokens(key).learner(1)}"}
    seen = await (await agent.get("/seats/1/schedule", headers=auth)).json()
    assert datetime.fromisoformat(seen["ends_at"]) == ends + timedelta(minutes=60)
    assert datetime.fromisoformat(seen["grace_ends_at"]) == ends + timedelta(minutes=70)
    store.close()
