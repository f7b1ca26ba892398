"""Real tmux, real PTYs: what a learner does all day in the terminal."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.agent.conftest import Tokens
from tests.agent.terminal_client import Terminal


async def test_type_a_command_and_see_its_output(agent: TestClient[Any, Any], tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    assert term.hello == {"type": "hello", "seat": 1, "readonly": False, "window": 256 * 1024}
    await term.type("echo $((6 * 7))-answer\r")
    await term.read_until(r"42-answer")
    await term.close()
