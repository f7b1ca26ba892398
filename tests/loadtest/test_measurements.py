"""The report's numbers are measurements: against a ``SlowAgent`` (every byte from the agent
250 ms late) echo, first output, code → prompt and model calls all grow by at least the
delay and the verdict fails on echo; against the agent itself they stay below it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clarateach.api_client import ApiClient
from clarateach.loadtest.local_target import FakeUpstream, LocalPlatformProcess
from clarateach.loadtest.runner import RunConfig, run
from tests.loadtest.slow_agent import SlowAgent
from tests.support.wait import async_wait_for

DELAY = 0.25
LEARNERS = 2
TYPE_RATE = 5.0
DURATION = 2.0


async def _running(client: ApiClient, seats: int) -> dict[str, Any]:
    workshop = await asyncio.to_thread(client.create_workshop, "measured", seats, _key())
    workshop = await asyncio.to_thread(client.start_workshop, workshop["id"])

    async def running() -> dict[str, Any] | None:
        current = await asyncio.to_thread(client.get_workshop, workshop["id"])
        assert current["status"] in ("provisioning", "running"), current
        return current if current["status"] == "running" else None

    return await async_wait_for(running, timeout=90, message="the workshop to run")


def _key() -> str:
    from clarateach.loadtest.fake_upstream import FAKE_KEY

    return FAKE_KEY


@pytest.fixture
async def workshop(instructor: ApiClient) -> AsyncIterator[dict[str, Any]]:
    workshop = await _running(instructor, LEARNERS)
    yield workshop
    await asyncio.to_thread(instructor.stop_workshop, workshop["id"])


def _config(platform: LocalPlatformProcess, workshop: dict[str, Any]) -> RunConfig:
    return RunConfig(
        api_url=platform.url,
        origin=platform.url,
        learners=LEARNERS,
        duration=DURATION,
        type_rate=TYPE_RATE,
        model_requests=1,
        workshop_id=workshop["id"],
    )


async def test_a_slow_agent_shows_in_every_number_and_fails_the_verdict(
    platform: LocalPlatformProcess,
    instructor: ApiClient,
    upstream: FakeUpstream,
    workshop: dict[str, Any],
) -> None:
    slow = await SlowAgent(workshop["hosts"][0]["endpoint"], DELAY).start()
    calls_before = upstream.calls
    try:
        report = await run(_config(platform, workshop), instructor, rewrite=slow.rewrite)
    finally:
        await slow.stop()

    assert slow.connections >= LEARNERS  # the learners did go through the slowed agent
    assert report["learners"]["failed"] == 0, report["failures"]
    latency = report["latency_s"]
    # Each echo is one agent→learner trip: at least the delay, for every keystroke.
    assert latency["echo"]["n"] >= LEARNERS * 5
    assert min(latency["echo"][k] for k in ("p50", "p95", "p99", "max")) >= DELAY
    assert latency["first_output"]["p50"] >= DELAY
    # Prompt, then the command's output: two delayed trips after the join.
    assert latency["code_to_prompt"]["p50"] >= 2 * DELAY
    assert latency["model_request"]["n"] == LEARNERS
    assert latency["model_request"]["p50"] >= DELAY
    assert upstream.calls - calls_before == LEARNERS  # through the gateway, upstream
    verdict = report["verdict"]
    assert verdict["pass"] is False
    assert [c["name"] for c in verdict["checks"] if not c["ok"]] == ["echo_p99_s"]
    assert report["hosts"][0]["samples"] >= 1  # host load sampled through the proxy too


async def test_without_the_delay_the_same_run_measures_less_than_it(
    platform: LocalPlatformProcess, instructor: ApiClient, workshop: dict[str, Any]
) -> None:
    report = await run(_config(platform, workshop), instructor)

    assert report["learners"]["failed"] == 0, report["failures"]
    latency = report["latency_s"]
    assert latency["echo"]["n"] >= LEARNERS * 5
    assert latency["echo"]["p50"] < DELAY
    # First output includes the seat shell's start, which a loaded machine can stretch past
    # the delay; here it only has to be measured for every learner.
    assert latency["first_output"]["n"] >= LEARNERS
    assert latency["model_request"]["p50"] < DELAY
    host = report["hosts"][0]
    assert host["samples"] >= 1 and host["agent_rss_bytes_max"] > 0
