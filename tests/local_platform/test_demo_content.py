"""``clarateach local up --demo``: the demo workshop carries examples/claude-code-101, and its
host's agent has unpacked it (through ``GET /api/hosts/content``) before learners join."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.content import installed_pack, load_pack_dir
from tests.local_platform.process import JOIN_CODE_RE, URL_RE, LocalUp, processes_using
from tests.support.content_packs import EXAMPLE
from tests.support.net import free_port
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow
DEMO_TIMEOUT = 90


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[LocalUp]]:
    runs: list[LocalUp] = []
    yield runs
    for run in runs:
        run.kill_group()
    for proc in processes_using(tmp_path / "state"):
        proc.kill()


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_demo_workshop_serves_the_example_pack(tmp_path: Path, started: list[LocalUp]) -> None:
    state_dir = tmp_path / "state"
    run = LocalUp(state_dir, "--demo", "--port", str(free_port()), "--stop-workshops")
    started.append(run)
    url = run.wait_for_line(URL_RE, timeout=30).group(1)
    run.wait_for_line(JOIN_CODE_RE, timeout=DEMO_TIMEOUT)
    token = (state_dir / "admin-token").read_text().strip()
    [workshop] = _get(f"{url}/api/workshops", token)["workshops"]

    progress = _get(f"{url}/api/workshops/{workshop['id']}/progress", token)
    assert progress["content"]["title"] == "Claude Code 101"
    assert [h["id"] for h in progress["histogram"]][-1] == "commit"

    # The host unpacked it before announcing itself ready (the join code is printed after).
    found = wait_for(
        lambda: [p.parent for p in state_dir.rglob("content/workshop.toml")],
        timeout=5,
        message="an agent's unpacked content directory",
    )
    assert installed_pack(found[0]) == load_pack_dir(EXAMPLE)
    assert run.finish(signal.SIGTERM) == 0, run.output
