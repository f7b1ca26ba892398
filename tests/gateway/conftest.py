"""Fixtures: a fake Anthropic upstream, and gateways started on real loopback sockets.

Gateways run under a plain ``web.AppRunner`` (``handler_cancellation=False``, aiohttp's
production default) unless a test asks otherwise, so disconnect handling is tested the way
the agent serves it, not the way aiohttp's test server does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from shared.auth.tokens import SigningKey, issue_token
from shared.domain.model_policy import ModelPolicy, SeatLimits
from shared.ports.secrets import Secrets
from tests.gateway.fake_upstream import FAKE_KEY, FakeAnthropic
from workspace_agent.gateway import GatewayConfig, GatewayHandle, instructor_check, setup_gateway

WORKSHOP = "ws-gw"
ISSUER = "clarateach-test"
KEY_REF = "workshop-ws-gw-key"


class MemorySecrets(Secrets):
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def put(self, name: str, value: str, labels: dict[str, str] | None = None) -> str:
        self.values[name] = value
        return name

    def access(self, ref: str) -> str | None:
        return self.values.get(ref)

    def delete(self, ref: str) -> None:
        self.values.pop(ref, None)


@dataclass
class RunningGateway:
    url: str
    handle: GatewayHandle
    runner: web.AppRunner
    stopped: bool = False

    def model_url(self, seat: int, tail: str = "v1/messages") -> str:
        return f"{self.url}/seats/{seat}/model/{tail}"

    def bearer(self, seat: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.handle.tokens.token_for(seat)}"}

    async def stop(self) -> None:
        """Shut the app down (runs the gateway's cleanup: final usage flush)."""
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()


async def start_gateway(
    config: GatewayConfig,
    *,
    secrets: Secrets,
    handler_cancellation: bool = False,
    **kwargs: Any,
) -> RunningGateway:
    app = web.Application()
    handle = setup_gateway(app, config=config, secrets=secrets, **kwargs)
    runner = web.AppRunner(app, handler_cancellation=handler_cancellation)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    handle.set_agent_port(port)
    return RunningGateway(f"http://127.0.0.1:{port}", handle, runner)


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


def instructor_token(key: SigningKey, workshop_id: str = WORKSHOP) -> str:
    return issue_token(key, issuer=ISSUER, workshop_id=workshop_id, host=0, seat=None,
                       role="instructor", subject="instructor:teacher@example.com")  # fmt: skip


def learner_token(key: SigningKey, seat: int) -> str:
    return issue_token(key, issuer=ISSUER, workshop_id=WORKSHOP, host=0, seat=seat)


@pytest.fixture
def fake() -> FakeAnthropic:
    return FakeAnthropic()


@pytest.fixture
async def upstream_url(fake: FakeAnthropic, aiohttp_server: Any) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def base_config(tmp_path: Path, upstream_url: str) -> GatewayConfig:
    return GatewayConfig(
        workshop_id=WORKSHOP,
        host_index=0,
        seat_first=1,
        seat_last=3,
        state_dir=tmp_path / "agent",
        api_key_ref=KEY_REF,
        policy=ModelPolicy(defaults=SeatLimits()),
        upstream=upstream_url,
    )


GatewayFactory = Callable[..., Awaitable[RunningGateway]]


@pytest.fixture
async def gateway_factory(
    base_config: GatewayConfig, signing_key: SigningKey
) -> AsyncIterator[GatewayFactory]:
    """``await gateway_factory(config_field=value, ..., publish=..., secrets=...)``."""
    started: list[RunningGateway] = []

    async def keys() -> dict[str, Any]:
        return {signing_key.kid: signing_key.public_key}

    async def start(
        *, secrets: Secrets | None = None, handler_cancellation: bool = False,
        publish: Any = None, **overrides: Any,
    ) -> RunningGateway:  # fmt: skip
        gateway = await start_gateway(
            replace(base_config, **overrides),
            secrets=secrets or MemorySecrets({KEY_REF: FAKE_KEY}),
            handler_cancellation=handler_cancellation,
            publish=publish,
            instructor_check=instructor_check(keys, issuer=ISSUER, workshop_id=WORKSHOP),
        )
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()


@pytest.fixture
async def gateway(gateway_factory: GatewayFactory) -> RunningGateway:
    return await gateway_factory()
