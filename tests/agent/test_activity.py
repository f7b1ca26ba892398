"""``GET /control/activity``: what the cockpit shows as a seat's real activity.

Input is counted only from the learner's own (writable) sockets, never from a shadow; the
foreground process is read from the seat PTY's foreground process group (buffered backend).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import AgentFactory, Tokens
from tests.agent.terminal_client import Terminal
from tests.support.wait import async_wait_for
from workspace_agent.activity import SeatActivity, foreground_command, snapshot
from workspace_agent.settings import AgentSettings

Client = TestClient[Any, Any]


class Clock:
    """Real time plus an offset the test moves forward (tokens stay valid)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def settings(settings: AgentSettings) -> AgentSettings:
    return dataclasses.replace(settings, terminal_backend="buffered")


async def activity(client: Client, token: str) -> dict[str, Any]:
    response = await client.get("/control/activity", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = (await response.json())["seats"]
    return body


async def test_only_the_learners_own_keystrokes_count_as_input(
    make_agent: AgentFactory, tokens: Tokens
) -> None:
    clock = Clock()
    agent: Client = await make_agent(clock=clock)
    before = await activity(agent, tokens.instructor())
    assert before["1"] == {
        "sockets": 0, "shadows": 0, "input_age": None, "output_age": None, "foreground": None,
        "hand": None, "model": None,  # no gateway in these agents
    }  # fmt: skip

    learner = await Terminal.open(agent, 1, tokens.learner(1))
    await learner.type("echo hi-$((6*7))\r")
    await learner.read_until("hi-42")
    clock.offset += 120
    shadow = await Terminal.open(agent, 1, tokens.instructor())
    await shadow.read_until("hi-42")  # the learner's screen, restored first
    await shadow.type("echo from-shadow\r")

    seat = (await activity(agent, tokens.instructor()))["1"]
    assert (seat["sockets"], seat["shadows"]) == (1, 1)
    assert seat["input_age"] is not None and seat["input_age"] >= 119  # the shadow's keys: none
    assert seat["output_age"] is not None

    await learner.type("echo done-$((1+1))\r")
    await learner.read_until("done-2")
    assert "from-shadow" not in learner.text
    seat = (await activity(agent, tokens.instructor()))["1"]
    assert seat["input_age"] is not None and seat["input_age"] < 60
    other = (await activity(agent, tokens.instructor()))["2"]
    assert (other["sockets"], other["input_age"]) == (0, None)
    await learner.close()
    await shadow.close()


async def test_the_foreground_process_other_than_the_shell_is_reported(
    agent: Client, tokens: Tokens
) -> None:
    learner = await Terminal.open(agent, 2, tokens.learner(2))
    await learner.type("sleep 30\r")

    async def foreground() -> object:
        return (await activity(agent, tokens.instructor()))["2"]["foreground"]

    async def is_sleeping() -> bool:
        return await foreground() == "sleep"

    await async_wait_for(is_sleeping, timeout=10, message="sleep in the foreground")
    await learner.type("\x03")

    async def back_at_shell() -> bool:
        return await foreground() is None

    await async_wait_for(back_at_shell, timeout=10, message="shell in the foreground")
    await learner.close()


async def test_activity_is_for_instructor_tokens_only(agent: Client, tokens: Tokens) -> None:
    learner = await agent.get(
        "/control/activity", headers={"Authorization": f"Bearer {tokens.learner(1)}"}
    )
    assert learner.status == 403
    anonymous = await agent.get("/control/activity")
    assert anonymous.status == 401


def test_ages_are_measured_on_the_agent_clock() -> None:
    log = SeatActivity()
    log.input(1, 1000.0)
    log.output(1, 1010.0)
    report = snapshot(log, [1, 2], lambda s: (1, 0), lambda s: None, now=1012.5)
    assert report["1"]["input_age"] == 12.5
    assert report["1"]["output_age"] == 2.5
    assert report["2"]["input_age"] is None


def test_a_closed_pty_has_no_foreground_process() -> None:
    assert foreground_command(-1) is None


@pytest.mark.parametrize("backend", ["buffered", "tmux"])
async def test_live_output_of_the_seat_moves_its_last_output(
    make_agent: AgentFactory, tokens: Tokens, settings: AgentSettings, backend: str
) -> None:
    """Output the shell produces while the learner watches counts, not just a replay."""
    clock = Clock()
    agent: Client = await make_agent(
        dataclasses.replace(settings, terminal_backend=backend), clock=clock
    )
    learner = await Terminal.open(agent, 1, tokens.learner(1))
    await learner.type("echo hi-$((6*7))\r")
    await learner.read_until("hi-42")
    clock.offset += 120
    await learner.type("echo later-$((2+3))\r")
    await learner.read_until("later-5")

    seat = (await activity(agent, tokens.instructor()))["1"]
    assert seat["output_age"] is not None and seat["output_age"] < 60
    await learner.close()


async def test_output_while_nobody_watches_moves_the_last_output(
    make_agent: AgentFactory, tokens: Tokens
) -> None:
    """Buffered backend: the agent keeps reading the seat's PTY with no viewer attached."""
    clock = Clock()
    agent: Client = await make_agent(clock=clock)
    learner = await Terminal.open(agent, 1, tokens.learner(1))
    await learner.type("sleep 3; echo away-$((7*6))\r")
    await learner.read_until("sleep 3")
    await learner.close()
    clock.offset += 120  # everything printed so far is now two minutes old

    async def moved() -> bool:
        age = (await activity(agent, tokens.instructor()))["1"]["output_age"]
        return age is not None and age < 60

    await async_wait_for(moved, timeout=20, interval=0.2)
