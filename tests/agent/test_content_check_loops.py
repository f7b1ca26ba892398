"""A check script reaches its interpreter on stdin under both event loops the agent runs on.

uvloop (``CLARATEACH_AGENT_EVENT_LOOP``'s default since the terminal benchmark work) gives a
child's ``stdin=PIPE`` a socketpair, and ``sh /dev/stdin`` cannot open a socket (ENXIO): every
check failed with "cannot open /dev/stdin" in ``clarateach local up`` (found by
tests/e2e/test_example_pack.py). ``run_check`` therefore hands the child a real OS pipe.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from workspace_agent.content.checks import CheckResult, check_argv, run_check
from workspace_agent.runtimes.base import Command

#: Bigger than a pipe's buffer (64 KiB on Linux): the write has to wait for the reader.
BIG_SCRIPT = b"#!/bin/sh\n" + b": " + b"x" * 200_000 + b"\n" + b"echo big-$((20+1))\n"


def _uvloop_run(coro: Coroutine[Any, Any, CheckResult]) -> CheckResult:
    uvloop = pytest.importorskip("uvloop")
    return uvloop.run(coro)  # type: ignore[no-any-return]


LOOPS: dict[str, Callable[[Coroutine[Any, Any, CheckResult]], CheckResult]] = {
    "asyncio": asyncio.run,
    "uvloop": _uvloop_run,
}


def _command(script: bytes) -> Command:
    return Command(check_argv(script, 10), {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_check_script_runs_from_stdin(loop: str) -> None:
    script = b"#!/bin/sh\necho ran-$((6*7))\nexit 3\n"
    result = LOOPS[loop](run_check(_command(script), script, 10))
    assert (result.message, result.exit_code, result.passed) == ("ran-42", 3, False)


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_script_bigger_than_the_pipe_buffer_arrives_whole(loop: str) -> None:
    result = LOOPS[loop](run_check(_command(BIG_SCRIPT), BIG_SCRIPT, 10))
    assert (result.message, result.passed) == ("big-21", True)


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_script_that_stops_reading_early_does_not_hang_the_check(loop: str) -> None:
    script = b"#!/bin/sh\necho early\nexit 0\n" + b"#" * 300_000 + b"\n"
    result = LOOPS[loop](run_check(_command(script), script, 10))
    assert (result.message, result.passed) == ("early", True)
