"""host.ready retries until acknowledged; settings parse the documented variables."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from shared.auth.tokens import SigningKey
from shared.domain.errors import DomainError
from shared.domain.events import HOST_FAILED, HOST_READY, Event
from shared.ports.event_bus import EventBus
from tests.agent.conftest import AgentFactory
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT, create_app
from workspace_agent.readiness import host_ready_event, publish_until_acknowledged
from workspace_agent.runtimes.local import LocalRuntime
from workspace_agent.settings import AgentSettings, parse_seat_range


class FlakyBus(EventBus):
    """Refuses the first ``failures`` publishes (a transport that is not up yet)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.published: list[Event] = []

    def publish(self, event: Event) -> str:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise DomainError("transport unavailable")
        self.published.append(event)
        return f"m{self.attempts}"


async def test_host_ready_is_retried_until_acknowledged() -> None:
    bus = FlakyBus(failures=3)
    event = host_ready_event("ws", 2, "http://h:1", {"seats_ready_s": 0.5}, attempt=4)
    message_id = await publish_until_acknowledged(bus, event, first_delay=0.001)
    assert message_id == "m4" and bus.published == [event]
    assert event.type == HOST_READY
    assert event.data == {
        "host_index": 2,
        "attempt": 4,
        "endpoint": "http://h:1",
        "timings": {"seats_ready_s": 0.5},
    }


async def test_agent_publishes_host_ready_once_every_seat_is_ready(
    make_agent: AgentFactory, settings: AgentSettings
) -> None:
    bus = FlakyBus(failures=0)
    client: Any = await make_agent(settings, bus=bus)
    ctx = client.server.app[CONTEXT]
    await async_wait_for(lambda: bus.published, message="host.ready published")
    assert ctx.readiness.report() == {
        "ready": True,
        "seats": {"1": "ready", "2": "ready", "10": "ready"},
    }
    (event,) = bus.published
    assert event.data["endpoint"] == settings.public_url
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["ready"] is True
    health = await client.get("/healthz")
    body = await health.json()
    assert body["status"] == "ok"
    # Aggregate load numbers only (for `clarateach loadtest`): nothing names a process, a
    # path or a seat.
    assert set(body["load"]) == {
        "host_cpu_percent",
        "host_cpus",
        "host_memory_percent",
        "host_memory_available_bytes",
        "agent_cpu_seconds",
        "agent_rss_bytes",
    }
    assert all(isinstance(v, int | float) for v in body["load"].values())
    assert body["load"]["agent_rss_bytes"] > 0 and 0 <= body["load"]["host_memory_percent"] <= 100


async def test_readyz_is_503_until_keys_are_loaded(
    make_agent: AgentFactory, settings: AgentSettings
) -> None:
    from dataclasses import replace

    client: Any = await make_agent(replace(settings, jwks_url="http://127.0.0.1:9/none"), keys=None)
    resp = await client.get("/readyz")
    assert resp.status == 503 and (await resp.json())["keys"] is False


def test_settings_from_env_reads_the_documented_names(tmp_path: Path) -> None:
    env = {
        "CLARATEACH_AGENT_WORKSHOP_ID": "w1",
        "CLARATEACH_AGENT_HOST_INDEX": "3",
        "CLARATEACH_AGENT_SEATS": "11-20",
        "CLARATEACH_AGENT_ISSUER": "iss",
        "CLARATEACH_AGENT_JWKS_URL": "http://api/jwks.json",
        "CLARATEACH_AGENT_STATE_DIR": str(tmp_path),
        "CLARATEACH_AGENT_RUNTIME": "docker",
        "CLARATEACH_AGENT_BIND": "0.0.0.0",
        "CLARATEACH_AGENT_PORT": "0",
        "CLARATEACH_AGENT_PUBLIC_URL": "https://h.example",
        "CLARATEACH_AGENT_MODEL_PAUSED": "true",
        "CLARATEACH_AGENT_ALLOWED_ORIGINS": "http://a.test, https://b.test/",
        "CLARATEACH_AGENT_EVENTS": "local:http://p/push",
        "CLARATEACH_AGENT_SEAT_IMAGE": "img",
    }
    s = AgentSettings.from_env(env)
    assert s.seats == tuple(range(11, 21)) and s.host_index == 3 and s.runtime == "docker"
    assert s.allowed_origins == ("http://a.test", "https://b.test") and s.model_paused is True
    assert s.state_dir == tmp_path and s.workspace(12) == tmp_path / "seats" / "12" / "work"
    assert all(help_text for help_text in AgentSettings.env_vars().values())


@pytest.mark.parametrize(
    "bad",
    [
        {"CLARATEACH_AGENT_SEATS": "5-2"},
        {"CLARATEACH_AGENT_PORT": "eighty"},
        {"CLARATEACH_AGENT_RUNTIME": "podman"},
        {"CLARATEACH_AGENT_MODEL_PAUSED": "maybe"},
        {"CLARATEACH_AGENT_EVENT_LOOP": "trio"},
    ],
)
def test_bad_settings_name_the_variable(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError) as err:
        AgentSettings.from_env(bad)
    assert next(iter(bad)) in str(err.value)


def test_seat_range() -> None:
    assert parse_seat_range("7") == (7,)
    with pytest.raises(ValueError):
        parse_seat_range("0-3")


class SeatTwoNeverStarts(LocalRuntime):
    """A named failure mode: seat 2's session cannot be created."""

    async def ensure_seat(self, seat: int, extra_env: Mapping[str, str]) -> None:
        if seat == 2:
            raise RuntimeError("tmux exploded")
        await super().ensure_seat(seat, extra_env)


async def test_a_seat_that_cannot_start_makes_the_host_fail_visibly(
    settings: AgentSettings, signing_key: SigningKey
) -> None:
    bus = FlakyBus(failures=0)
    app = create_app(
        settings,
        runtime=SeatTwoNeverStarts(settings),
        bus=bus,
        keys={signing_key.kid: signing_key.public_key},
    )
    async with TestClient(TestServer(app)) as client:
        await async_wait_for(lambda: bus.published, message="host event published")
        (event,) = bus.published
        assert event.type == HOST_FAILED
        assert event.data == {"host_index": 0, "attempt": 0, "reason": "seats failed to start: 2"}
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["seats"] == {"1": "ready", "2": "failed", "10": "ready"}
