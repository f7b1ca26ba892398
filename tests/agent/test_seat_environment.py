"""What a seat's shell sees: a clean, explicit environment; gateway variables by environment
only (never argv); HOME and cwd in the workspace. Both terminal backends."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import psutil
import pytest

from tests.agent.conftest import AgentFactory, Tokens
from tests.agent.terminal_client import Terminal
from workspace_agent.app import GATEWAY
from workspace_agent.settings import AgentSettings


@pytest.fixture(params=["tmux", "buffered"])
def settings(settings: AgentSettings, request: pytest.FixtureRequest) -> AgentSettings:
    return dataclasses.replace(settings, terminal_backend=request.param)


async def test_shell_env_is_explicit_not_the_agents(
    make_agent: AgentFactory, settings: AgentSettings, tokens: Tokens,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CT_AGENT_ONLY_SECRET", "must-not-leak")
    client: Any = await make_agent(settings)
    term = await Terminal.open(client, 1, tokens.learner(1))
    await term.type('echo "[${CT_AGENT_ONLY_SECRET:-unset}] seat=$CLARATEACH_SEAT home=$HOME"\r')
    workspace = os.path.realpath(settings.workspace(1))  # noqa: ASYNC240
    await term.read_until(rf"\[unset\] seat=1 home={workspace}")
    mark = len(term.output)
    await term.type("pwd\r")
    await term.read_until(rf"pwd(.|\n)*{workspace}", since=mark)
    await term.close()


async def test_gateway_variables_reach_the_shell_by_environment_only(
    make_agent: AgentFactory, settings: AgentSettings, tokens: Tokens
) -> None:
    pytest.importorskip("workspace_agent.gateway")
    client: Any = await make_agent(dataclasses.replace(settings, gateway=True, port=8799))
    seat_env = client.server.app[GATEWAY].seat_env(1)
    secret = seat_env["ANTHROPIC_AUTH_TOKEN"]
    term = await Terminal.open(client, 1, tokens.learner(1))
    await term.type(
        'echo "url=$ANTHROPIC_BASE_URL"; [ -n "$ANTHROPIC_AUTH_TOKEN" ] && echo tok-$((1+1))\r'
    )
    await term.read_until(r"url=\S+/seats/1/model")
    await term.read_until(r"tok-2")
    assert secret not in term.text
    for proc in psutil.Process().children(recursive=True):
        try:
            assert secret not in " ".join(proc.cmdline())
        except psutil.NoSuchProcess:
            continue
    await term.close()
