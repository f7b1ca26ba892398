"""A learner's page survives its host's agent crashing and coming back (issue 20).

The agent is SIGKILLed and started again the way ``clarateach local up`` restarts a dead
agent (``LocalCompute.restart_host``: same configuration, same port). The page reconnects by
itself (no click), the agent replays the screen, and the shell is the same one: its PID and
environment are unchanged.
"""

from __future__ import annotations

import json
import re
import signal
from typing import Any

import psutil
import pytest

from shared.adapters.local_compute import LocalCompute, host_tokens_for
from shared.settings import Settings
from tests.e2e.learner import PROMPT_TIMEOUT_MS, LearnerPage
from tests.e2e.platform_process import PlatformUnderTest, RunningPlatform
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e

_STATE_JS = "() => document.querySelector('#connection-state').dataset.state"


def _host_of(workshop: dict[str, Any], instructor: Any, seat: int) -> str:
    current = instructor.workshop(workshop["id"])
    for host in current["hosts"]:
        if host["seat_first"] <= seat <= host["seat_last"]:
            return str(host["name"])
    raise AssertionError(f"no host serves seat {seat}: {current['hosts']}")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip().split("\n")]


def test_the_page_reconnects_by_itself_after_an_agent_crash_and_keeps_the_screen(
    platform: PlatformUnderTest, workshop: dict[str, Any], instructor: Any, context: Any
) -> None:
    if not isinstance(platform, RunningPlatform):
        pytest.skip("needs `clarateach local up`")
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    learner.join(workshop["code"])
    learner.wait_connected()
    learner.wait_for_prompt()
    learner.run("export CT_KEPT=kept-$((40+2)); echo pid-$$-end")
    learner.wait_for_text("kept-")  # the echoed command line
    pid_line = re.compile(r"^pid-(\d+)-end$", re.M)
    before_pid = wait_for(lambda: pid_line.search(learner.terminal_text()), message="pid line")
    before = _lines(learner.terminal_text())

    name = _host_of(workshop, instructor, learner.seat())
    hosts = platform.state_dir / "hosts"
    record = json.loads((hosts / name / "host.json").read_text())
    agent = psutil.Process(int(record["pid"]))
    agent.send_signal(signal.SIGKILL)
    agent.wait(timeout=15)
    learner.page.wait_for_function(f"() => ({_STATE_JS})() !== 'connected'")

    # As `local up` restarts it: with the host's events token, so the new agent can still
    # report to the platform (and later tests on this workshop see a healthy host).
    compute = LocalCompute(
        hosts, host_tokens=host_tokens_for(Settings(mode="local", state_dir=platform.state_dir))
    )
    assert compute.restart_host(name)
    learner.wait_connected()  # by itself: nobody clicked anything
    learner.page.wait_for_function(
        "([n]) => !!window.__claraTerm"
        " && window.__claraTerm.text().trimEnd().split('\\n').length >= n",
        arg=[len(before)],
        timeout=PROMPT_TIMEOUT_MS,
    )
    assert _lines(learner.terminal_text()) == before  # the replayed screen

    learner.run('echo "again-$CT_KEPT-pid-$$-end"')
    learner.wait_for_line(f"again-kept-42-pid-{before_pid.group(1)}-end")
