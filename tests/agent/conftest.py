"""Agent fixtures: a real agent app (real tmux, real PTYs) on a test server, and tokens."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from shared.auth.tokens import SigningKey, issue_token
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT, create_app
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.holder_client import stop_holder

WORKSHOP = "ws-test"
ISSUER = "https://api.test"
WEB_ORIGIN = "http://web.test:5173"


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    """A well-formed key the agent does not trust."""
    return SigningKey.generate()


@dataclass
class Tokens:
    key: SigningKey

    def learner(self, seat: int, **kw: Any) -> str:
        return issue_token(self.key, issuer=ISSUER, workshop_id=WORKSHOP, host=0, seat=seat, **kw)

    def instructor(self, **kw: Any) -> str:
        return issue_token(
            self.key,
            issuer=ISSUER,
            workshop_id=WORKSHOP,
            host=None,
            seat=None,
            role="instructor",
            subject="instructor:teacher@example.com",
            **kw,
        )


@pytest.fixture
def tokens(signing_key: SigningKey) -> Tokens:
    return Tokens(signing_key)


def short_state_dir(tmp_path: Path) -> Path:
    """Keep tmux socket paths well under the UNIX limit."""
    path = tmp_path / "st"
    path.mkdir()
    return path


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(
        workshop_id=WORKSHOP,
        host_index=0,
        seats=(1, 2, 10),
        issuer=ISSUER,
        state_dir=short_state_dir(tmp_path),
        allowed_origins=(WEB_ORIGIN,),
        gateway=False,
        public_url="http://127.0.0.1:1",
        max_write_bytes=1024 * 1024,
    )


AgentFactory = Callable[..., Any]


@pytest.fixture
async def make_agent(
    signing_key: SigningKey, settings: AgentSettings
) -> AsyncIterator[AgentFactory]:
    """Start agents (real tmux) and wait until every seat is ready; all stopped at teardown."""
    clients: list[TestClient[Any, Any]] = []

    async def start(custom: AgentSettings | None = None, **kw: Any) -> TestClient[Any, Any]:
        kw.setdefault("keys", {signing_key.kid: signing_key.public_key})
        app = create_app(custom or settings, **kw)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        ctx = app[CONTEXT]
        await async_wait_for(lambda: ctx.readiness.ready, timeout=20, message="seats ready")
        return client

    yield start
    for client in clients:
        await client.close()
        stop_holder(client.server.app[CONTEXT].settings.state_dir)  # held shells end here


@pytest.fixture
async def agent(make_agent: AgentFactory) -> TestClient[Any, Any]:
    return await make_agent()  # type: ignore[no-any-return]


def open_fds(pid: int | None = None) -> int:
    return len(os.listdir(f"/proc/{pid or os.getpid()}/fd"))
