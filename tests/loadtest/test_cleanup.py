"""A loadtest that created its workshop leaves nothing behind: the workshop is stopped and no
agent or seat shell of it is alive. With ``--keep`` both stay (which proves the check sees
them), until the workshop is stopped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psutil
from typer.testing import CliRunner

from clarateach.api_client import ApiClient
from clarateach.cli import app
from clarateach.loadtest.fake_upstream import FAKE_KEY
from clarateach.loadtest.local_target import LocalPlatformProcess
from tests.local_platform.process import processes_using
from tests.support.wait import wait_for

#: Generous limits: this checks cleanup, not speed (the machine is shared).
RELAXED = ["--max-echo-p99", "5", "--max-prompt-p99", "60"]


def _loadtest(platform: LocalPlatformProcess, *args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(
        app,
        ["loadtest", "--learners", "2", "--duration", "1", "--seats-per-host", "1",
         "--json", *RELAXED, *args],
        env={"CLARATEACH_API_URL": platform.url, "CLARATEACH_TOKEN": platform.token,
             "ANTHROPIC_API_KEY": FAKE_KEY, "CLARATEACH_STATE_DIR": str(platform.state_dir)},
    )  # fmt: skip
    assert result.exception is None or isinstance(result.exception, SystemExit), result
    return result.exit_code, json.loads(result.stdout), result.stderr


def _seat_processes(platform: LocalPlatformProcess, workshop_id: str) -> list[psutil.Process]:
    """Agents and shells of the workshop: every process working under one of its hosts."""
    return [
        proc
        for host_dir in (platform.state_dir / "hosts").glob(f"*{workshop_id}*")
        for proc in processes_using(host_dir)
    ]


def test_a_run_stops_its_workshop_and_leaves_no_agent_or_shell(
    platform: LocalPlatformProcess, instructor: ApiClient
) -> None:
    code, report, stderr = _loadtest(platform)

    assert code == 0, (report, stderr)
    assert report["verdict"]["pass"] is True
    assert report["learners"]["at_prompt"] == 2 and report["target"]["hosts"] == 2
    workshop_id = report["target"]["workshop_id"]
    assert report["cleanup"] == {
        "stopped": True,
        "kept": False,
        "summary": f"workshop {workshop_id} stopped",
    }
    assert instructor.get_workshop(workshop_id)["status"] == "stopped"
    # The stop is complete once the host records are gone; nothing may be left running.
    wait_for(lambda: not list((platform.state_dir / "hosts").glob(f"*{workshop_id}*/host.json")),
             timeout=30, message="host records removed")  # fmt: skip
    assert _seat_processes(platform, workshop_id) == []


def test_keep_leaves_the_workshop_running_until_it_is_stopped(
    platform: LocalPlatformProcess, instructor: ApiClient
) -> None:
    code, report, _ = _loadtest(platform, "--keep")
    workshop_id = report["target"]["workshop_id"]
    try:
        assert code == 0
        assert report["cleanup"]["kept"] is True
        assert instructor.get_workshop(workshop_id)["status"] == "running"
        alive = _seat_processes(platform, workshop_id)
        names = {p.name() for p in alive}
        assert len(alive) >= 4, names  # two agents and (at least) two shells
    finally:
        instructor.stop_workshop(workshop_id)
    wait_for(lambda: instructor.get_workshop(workshop_id)["status"] == "stopped", timeout=60,
             message="the kept workshop to stop")  # fmt: skip
    wait_for(lambda: not _seat_processes(platform, workshop_id), timeout=30,
             message="agents and shells gone after stop")  # fmt: skip


async def test_an_interrupted_run_still_stops_the_workshop_it_created(
    platform: LocalPlatformProcess, instructor: ApiClient
) -> None:
    import asyncio

    import pytest

    from clarateach.loadtest.learner import LearnerResult
    from clarateach.loadtest.runner import RunConfig, run

    at_prompt = asyncio.Event()

    def tick(results: Sequence[LearnerResult]) -> None:
        if any(r.code_to_prompt_s is not None for r in results):
            at_prompt.set()

    config = RunConfig(api_url=platform.url, origin=platform.url, learners=2, duration=600,
                       api_key=FAKE_KEY)  # fmt: skip
    task = asyncio.create_task(run(config, instructor, on_tick=tick))
    await asyncio.wait_for(at_prompt.wait(), timeout=60)
    newest = (await asyncio.to_thread(instructor.list_workshops, 1))["workshops"][0]
    assert newest["name"].startswith("loadtest") and newest["status"] == "running"

    task.cancel()  # what Ctrl-C does to asyncio.run's main task
    with pytest.raises(asyncio.CancelledError):
        await task

    # No learner, sampler or ticker task outlives the run.
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    assert (await asyncio.to_thread(instructor.get_workshop, newest["id"]))["status"] == "stopped"
    wait_for(lambda: not _seat_processes(platform, newest["id"]), timeout=30,
             message="agents and shells gone")  # fmt: skip
