"""The API side of the kill switch: store the flag, fan out to hosts, report each host."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.adapters.sqlite_store import SqliteStore
from shared.auth.signing import signing_key
from shared.auth.tokens import verify_token
from shared.bootstrap import Platform
from shared.domain.events import Event
from shared.domain.model import Host, HostStatus, Workshop, WorkshopStatus
from shared.services import provisioning, usage
from shared.services.model_access import set_model_access, set_model_access_detailed
from shared.settings import Settings
from tests.gateway.conftest import WORKSHOP, GatewayFactory, RunningGateway, start_gateway
from tests.gateway.fake_upstream import FakeAnthropic
from tests.gateway.test_proxy import post_messages
from tests.support.fakes import MemorySecrets, NullCompute, RecordingBus
from tests.support.net import free_port
from workspace_agent.gateway import GatewayConfig, instructor_check


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(mode="local", state_dir=tmp_path / "state", jwt_issuer="ct-test")
    store = SqliteStore(tmp_path / "state.db")
    yield Platform(settings, store, RecordingBus(), NullCompute(), MemorySecrets())
    store.close()


def add_workshop(
    platform: Platform, endpoints: list[str | None], status: WorkshopStatus
) -> Workshop:
    hosts = tuple(
        Host(
            index=i,
            name=f"h{i}",
            seat_first=i * 2 + 1,
            seat_last=i * 2 + 2,
            status=HostStatus.READY if url else HostStatus.CREATING,
            endpoint=url,
        )
        for i, url in enumerate(endpoints)
    )
    workshop = Workshop(
        id="wsmodel1",
        name="Demo",
        code="CLAUDE-MDL1",
        seats=2 * len(hosts),
        seats_per_host=2,
        owner="teacher@example.com",
        status=status,
        hosts=hosts,
    )
    return platform.store.create_workshop(workshop, lambda: "CLAUDE-MDL2")


def test_the_flag_is_stored_and_every_host_is_told_with_an_instructor_token(
    platform: Platform,
) -> None:
    seen: list[httpx.Request] = []

    def host(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"paused": True})

    workshop = add_workshop(
        platform, ["http://h0.test", "http://h1.test/", None], WorkshopStatus.RUNNING
    )
    with httpx.Client(transport=httpx.MockTransport(host)) as client:
        result = set_model_access_detailed(platform, workshop, True, client=client)

    assert result.workshop.model_paused
    assert platform.store.get_workshop(workshop.id).model_paused  # type: ignore[union-attr]
    assert [r.host_index for r in result.hosts] == [0, 1]
    assert all(r.ok for r in result.hosts)
    assert sorted(str(r.url) for r in seen) == [
        "http://h0.test/control/model-access", "http://h1.test/control/model-access",
    ]  # fmt: skip
    key = signing_key(platform.secrets, platform.settings.jwt_key_secret)
    for request in seen:
        assert request.method == "PUT"
        assert request.content == b'{"paused":true}'
        token = request.headers["Authorization"].removeprefix("Bearer ")
        claims = verify_token(token, keys={key.kid: key.public_key}, issuer="ct-test",
                              workshop_id=workshop.id)  # fmt: skip
        assert claims.is_instructor
        assert claims.expires_at - claims.issued_at <= 120


def test_unreachable_or_refusing_hosts_are_reported_not_raised(platform: Platform) -> None:
    def host(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.test":
            raise httpx.ConnectError("connection refused")
        return httpx.Response(401, json={"error": {"code": "invalid_token", "message": "no"}})

    workshop = add_workshop(
        platform, ["http://down.test", "http://bad.test"], WorkshopStatus.RUNNING
    )
    with httpx.Client(transport=httpx.MockTransport(host)) as client:
        result = set_model_access_detailed(platform, workshop, True, client=client)

    assert result.workshop.model_paused
    assert [(r.ok, r.status, r.error) for r in result.hosts] == [
        (False, None, "ConnectError"), (False, 401, "HTTP 401"),
    ]  # fmt: skip


def test_a_workshop_without_live_hosts_only_stores_the_flag(platform: Platform) -> None:
    def host(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no host should be called")

    workshop = add_workshop(platform, ["http://h0.test"], WorkshopStatus.STOPPED)
    with httpx.Client(transport=httpx.MockTransport(host)) as client:
        result = set_model_access_detailed(platform, workshop, True, client=client)

    assert result.workshop.model_paused and result.hosts == ()


def test_a_slow_host_costs_at_most_the_per_host_timeout(platform: Platform) -> None:
    # A listening socket that never answers: the fan-out gives up after its short timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        workshop = add_workshop(platform, [url], WorkshopStatus.RUNNING)
        result = set_model_access_detailed(platform, workshop, True, timeout=0.2)

    assert result.hosts[0].ok is False
    assert result.hosts[0].error in ("ReadTimeout", "ConnectTimeout")


class ThreadedGateway:
    """A real gateway on its own event loop thread, for the synchronous service under test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def test_pausing_through_the_api_service_pauses_a_real_gateway(
    platform: Platform, tmp_path: Path
) -> None:
    key = signing_key(platform.secrets, platform.settings.jwt_key_secret)

    async def keys() -> dict[str, Any]:
        return {key.kid: key.public_key}

    threaded = ThreadedGateway()
    try:
        config = GatewayConfig(workshop_id="wsmodel1", host_index=0, seat_first=1, seat_last=2,
                               state_dir=tmp_path / "agent", api_key_ref="k",
                               upstream=f"http://127.0.0.1:{free_port()}")  # fmt: skip
        check = instructor_check(keys, issuer="ct-test", workshop_id="wsmodel1")
        gateway: RunningGateway = threaded.run(
            start_gateway(config, secrets=MemorySecrets(), instructor_check=check)
        )
        workshop = add_workshop(platform, [gateway.url], WorkshopStatus.RUNNING)

        set_model_access(platform, workshop, True)
        assert gateway.handle.paused
        set_model_access(platform, workshop, False)
        assert not gateway.handle.paused
        threaded.run(gateway.stop())
    finally:
        threaded.close()


async def test_gateway_usage_reaches_the_api_through_host_usage_events(
    platform: Platform, gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    """The wire contract end to end: gateway totals -> ``host.usage`` -> provisioner handler ->
    store -> the API's usage view, with no value changed on the way."""
    workshop = platform.store.create_workshop(
        Workshop(id=WORKSHOP, name="Demo", code="CLAUDE-USG1", seats=3, seats_per_host=3,
                 owner="teacher@example.com", status=WorkshopStatus.RUNNING),
        lambda: "CLAUDE-USG2",
    )  # fmt: skip

    def deliver(event: Event) -> None:  # what the local bus + provisioner do with a publish
        wire = Event.from_message(event.to_message()[0])
        provisioning.handle(platform, wire, delivery_id=event.id)

    gateway = await gateway_factory(publish=deliver, flush_interval=3600)
    await post_messages(gateway, 1, stream=True)
    await post_messages(gateway, 3)
    await post_messages(gateway, 3, stream=True)
    await gateway.handle.flush()

    report = usage.get_usage(platform, workshop)
    by_seat = {row["seat"]: row for row in report.seats}
    snapshot = gateway.handle.usage_snapshot()
    for seat in (1, 2, 3):
        assert {k: v for k, v in by_seat[seat].items() if k != "seat"} == snapshot[str(seat)]
    assert report.totals["requests"] == 3
    assert report.totals["output_tokens"] == 3 * fake.usage["output_tokens"]
