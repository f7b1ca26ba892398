"""The seat side of content packs: starter files, the guide API, the learner's position and
the check runner (docs/content-packs.md, "In the seat")."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import AgentFactory, Tokens
from tests.agent.terminal_client import Terminal
from tests.support.seat_packs import SLOW_MARKER, write_pack
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT, GATEWAY
from workspace_agent.content.service import CONTENT
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.holder_client import stop_holder

Client = TestClient[Any, Any]


@pytest.fixture
def content_settings(settings: AgentSettings, tmp_path: Path) -> AgentSettings:
    write_pack(tmp_path / "pack")
    return dataclasses.replace(settings, content_path=str(tmp_path / "pack"))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def check(agent: Client, tokens: Tokens, index: int, seat: int = 1) -> dict[str, Any]:
    resp = await agent.post(
        f"/seats/{seat}/guide/steps/{index}/check", headers=auth(tokens.learner(seat))
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


# -- starter files ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["buffered", "tmux"])
async def test_starter_files_are_in_a_fresh_seat_before_its_first_shell(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens, backend: str
) -> None:
    agent = await make_agent(dataclasses.replace(content_settings, terminal_backend=backend))
    work = content_settings.workspace(1)
    assert (work / "hello.txt").read_text() == "hello from the pack\n"
    assert (work / "src" / "app.py").read_text() == "print('app')\n"
    assert os.stat(work / "bin" / "run.sh").st_mode & stat.S_IXUSR
    assert (work / "hello.txt").stat().st_uid == os.getuid()
    assert not (work / "checks").exists() and not (work / "workshop.toml").exists()
    term = await Terminal.open(agent, 2, tokens.learner(2))
    await term.type("cat hello.txt; ./bin/run.sh\r")  # the first shell starts in them
    await term.read_until(r"hello from the pack")
    await term.read_until(r"running")
    await term.close()


async def test_a_restart_never_copies_the_starter_files_again(
    make_agent: AgentFactory, content_settings: AgentSettings
) -> None:
    first = await make_agent(content_settings)
    work = content_settings.workspace(1)
    (work / "hello.txt").write_text("the learner's version\n")
    (work / "src" / "app.py").unlink()
    await first.close()
    stop_holder(content_settings.state_dir)

    await make_agent(content_settings)
    assert (work / "hello.txt").read_text() == "the learner's version\n"
    assert not (work / "src" / "app.py").exists()


async def test_starter_copy_never_writes_through_a_link_in_the_workspace(
    make_agent: AgentFactory, content_settings: AgentSettings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    work = content_settings.workspace(1)
    work.mkdir(parents=True)
    (work / "src").symlink_to(outside)  # planted before the copy
    await make_agent(content_settings)
    assert list(outside.iterdir()) == []
    assert (work / "hello.txt").exists()


async def test_a_seat_reset_gets_a_fresh_copy_and_starts_the_guide_over(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    work = content_settings.workspace(1)
    (work / "hello.txt").write_text("changed\n")
    (work / "mine.txt").write_text("learner file\n")
    resp = await agent.put(
        "/seats/1/guide/position", json={"step": 3}, headers=auth(tokens.learner(1))
    )
    assert resp.status == 200
    resp = await agent.put("/control/seats/1/reset", headers=auth(tokens.instructor()))
    assert resp.status == 200, await resp.text()
    assert (work / "hello.txt").read_text() == "hello from the pack\n"
    assert not (work / "mine.txt").exists()
    guide = await (await agent.get("/seats/1/guide", headers=auth(tokens.learner(1)))).json()
    assert guide["progress"] == {"step": 0, "checks_passed": []}


async def test_starter_files_on_the_docker_runtime(
    make_agent: AgentFactory, docker_log: Path, settings: AgentSettings, tmp_path: Path
) -> None:
    from tests.agent import fake_docker

    write_pack(tmp_path / "gitpack", git_commit="initial")
    docker = dataclasses.replace(
        settings, runtime="docker", seats=(1,), seat_image="seat:test",
        content_path=str(tmp_path / "gitpack"),
    )  # fmt: skip
    agent = await make_agent(docker)
    work = docker.workspace(1)
    assert (work / "hello.txt").read_text() == "hello from the pack\n"
    calls = [c["argv"] for c in fake_docker.calls(docker_log)]
    run = next(i for i, argv in enumerate(calls) if argv[0] == "run")
    commit = next(i for i, argv in enumerate(calls) if "git init -q" in " ".join(argv))
    assert commit > run  # committed in the running container, as the learner
    assert calls[commit][:5] == ["exec", "-i", "-u", "1000:1000", "-w"]
    assert (work / ".git").is_dir()  # the fake ran it in the workspace mount
    await agent.close()


@pytest.fixture
def docker_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tests.agent import fake_docker

    log = tmp_path / "docker-calls.jsonl"
    fake_docker.install(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return log


# -- guide API --------------------------------------------------------------------------------


async def test_the_guide_and_its_pages_need_the_seats_token(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    resp = await agent.get("/seats/1/guide", headers=auth(tokens.learner(1)))
    assert resp.status == 200
    guide = await resp.json()
    assert [s["id"] for s in guide["steps"]] == ["one", "two", "slow", "loud", "env", "read"]
    assert guide["steps"][5]["has_check"] is False
    page = await (await agent.get("/seats/1/guide/steps/1", headers=auth(tokens.learner(1)))).json()
    assert page["markdown"].startswith("# Second step")

    for path in ("/seats/1/guide", "/seats/1/guide/steps/0"):
        assert (await agent.get(path)).status == 401
        other = await agent.get(path, headers=auth(tokens.learner(2)))
        assert other.status == 403
        assert (await other.json())["error"]["code"] == "wrong_seat"
    for method, path in (
        ("PUT", "/seats/1/guide/position"),
        ("POST", "/seats/1/guide/steps/0/check"),
    ):
        resp = await agent.request(method, path, json={"step": 1}, headers=auth(tokens.learner(2)))
        assert resp.status == 403
        # An instructor reads the guide but does not act for the learner.
        resp = await agent.request(
            method, path, json={"step": 1}, headers=auth(tokens.instructor())
        )
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "read_only"
    assert (await agent.get("/seats/1/guide", headers=auth(tokens.instructor()))).status == 200


async def test_bad_guide_requests_get_clear_errors(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    learner = auth(tokens.learner(1))
    for path in ("/seats/1/guide/steps/6", "/seats/1/guide/steps/-1", "/seats/1/guide/steps/x"):
        resp = await agent.get(path, headers=learner)
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "unknown_step"
    for body in ({"step": 99}, {"step": "1"}, {"step": True}, [1]):
        resp = await agent.put("/seats/1/guide/position", json=body, headers=learner)
        assert resp.status in (400, 404), body
        assert "error" in await resp.json()
    resp = await agent.put("/seats/1/guide/position", data=b"{", headers=learner)
    assert resp.status == 400
    resp = await agent.post("/seats/1/guide/steps/5/check", headers=learner)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "no_check"


async def test_a_workshop_without_content_has_no_guide(agent: Client, tokens: Tokens) -> None:
    resp = await agent.get("/seats/1/guide", headers=auth(tokens.learner(1)))
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "no_content"


async def test_the_position_survives_an_agent_restart(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    first = await make_agent(content_settings)
    resp = await first.put(
        "/seats/1/guide/position", json={"step": 2}, headers=auth(tokens.learner(1))
    )
    assert (await resp.json())["progress"]["step"] == 2
    assert (await check(first, tokens, 0))["passed"] is True
    await first.close()
    stop_holder(content_settings.state_dir)

    second = await make_agent(content_settings)
    guide = await (await second.get("/seats/1/guide", headers=auth(tokens.learner(1)))).json()
    assert guide["progress"] == {"step": 2, "checks_passed": ["one"]}
    other = await (await second.get("/seats/2/guide", headers=auth(tokens.learner(2)))).json()
    assert other["progress"] == {"step": 0, "checks_passed": []}
    saved = content_settings.state_dir / "guide" / "seat-1.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


# -- checks -----------------------------------------------------------------------------------


async def test_a_check_that_passes_runs_in_the_workspace_and_is_recorded(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    result = await check(agent, tokens, 0)
    work = str(content_settings.workspace(1).resolve())
    assert result["passed"] is True
    assert result["message"] == f"hello.txt is there in {work}"
    assert result["progress"]["checks_passed"] == ["one"]


async def test_a_check_that_fails_shows_its_message(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    result = await check(agent, tokens, 1)
    assert result["passed"] is False
    assert result["exit_code"] == 3
    assert result["message"] == "not yet: write answer.txt"
    assert result["progress"]["checks_passed"] == []


def slow_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if SLOW_MARKER in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


async def test_a_check_that_times_out_is_killed(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    task = asyncio.create_task(check(agent, tokens, 2))
    await async_wait_for(lambda: slow_processes(), timeout=10, message="the check's sleep")
    # One check per seat at a time; another seat is not held up.
    busy = await agent.post("/seats/1/guide/steps/0/check", headers=auth(tokens.learner(1)))
    assert busy.status == 409
    assert (await busy.json())["error"]["code"] == "check_running"
    assert (await check(agent, tokens, 0, seat=2))["passed"] is True
    result = await asyncio.wait_for(task, timeout=20)
    assert result["passed"] is False and result["timed_out"] is True, result
    assert result["message"].startswith("started")
    assert "timed out after 1 s" in result["message"]
    assert slow_processes() == []
    assert (await check(agent, tokens, 0))["passed"] is True  # the seat is free again


async def test_a_check_printing_a_megabyte_keeps_only_the_tail(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    result = await check(agent, tokens, 3)
    assert result["passed"] is True
    assert result["truncated"] is True
    assert result["message"].endswith("THE-END")
    assert len(result["message"].encode()) <= 16 * 1024


async def test_a_learner_replacing_the_check_in_the_workspace_changes_nothing(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    work = content_settings.workspace(1)
    (work / "checks").mkdir()
    (work / "checks" / "fail.sh").write_text("#!/bin/sh\necho faked\nexit 0\n")
    (work / "checks" / "fail.sh").chmod(0o755)
    pack_copy = Path(content_settings.content_path) / "checks" / "fail.sh"
    result = await check(agent, tokens, 1)
    assert result["passed"] is False and result["message"] == "not yet: write answer.txt"
    assert "exit 3" in pack_copy.read_text()


async def test_a_check_sees_the_seats_model_requests(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    pytest.importorskip("workspace_agent.gateway")
    agent = await make_agent(dataclasses.replace(content_settings, gateway=True, port=8799))
    agent.server.app[GATEWAY].ledger.totals(1).requests = 3
    result = await check(agent, tokens, 4)
    assert result["message"].splitlines()[0] == "requests=3 step=env"
    other = await check(agent, tokens, 4, seat=2)
    assert other["message"].splitlines()[0] == "requests=0 step=env"


async def test_checks_run_inside_the_seats_sandbox(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens, tmp_path: Path
) -> None:
    import shutil

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    guide_dir = content_settings.state_dir / "guide"  # the agent's: seat marks, progress
    checks = {
        "where.sh": f"#!/bin/sh\n[ -e {guide_dir} ] && echo state-visible || echo state-hidden\n"
    }
    steps: list[dict[str, object]] = [{"id": "w", "title": "W", "check": "checks/where.sh"}]
    write_pack(tmp_path / "sandboxpack", steps=steps, checks=checks)
    sandboxed = dataclasses.replace(
        content_settings, bwrap=True, content_path=str(tmp_path / "sandboxpack")
    )
    agent = await make_agent(sandboxed)
    assert guide_dir.is_dir()
    result = await check(agent, tokens, 0)
    assert result["message"] == "state-hidden"
    assert agent.server.app[CONTEXT].settings.bwrap is True
    assert agent.server.app[CONTENT].content is not None


async def test_a_check_on_the_docker_runtime_runs_in_the_container_as_the_learner(
    make_agent: AgentFactory,
    docker_log: Path,
    settings: AgentSettings,
    tmp_path: Path,
    tokens: Tokens,
) -> None:
    from tests.agent import fake_docker

    write_pack(tmp_path / "pack")
    docker = dataclasses.replace(
        settings, runtime="docker", seats=(1,), seat_image="seat:test",
        content_path=str(tmp_path / "pack"),
    )  # fmt: skip
    agent = await make_agent(docker)
    result = await check(agent, tokens, 4)
    assert result["message"].splitlines()[0] == "requests=0 step=env"
    (call,) = [c for c in fake_docker.calls(docker_log) if "/dev/stdin" in c["argv"]]  # type: ignore[operator]
    argv: list[str] = call["argv"]  # type: ignore[assignment]
    assert argv[:7] == ["exec", "-i", "-u", "1000:1000", "-w", "/home/learner/work", "-e"]
    tail = ["ct-ws-test-seat1", "timeout", "-s", "KILL", "30", "/bin/sh", "/dev/stdin"]
    assert argv[-7:] == tail
    assert "CLARATEACH_SEAT_MODEL_REQUESTS" in argv  # by name; the value is in the environment
    assert not any(a.startswith("CLARATEACH_SEAT_MODEL_REQUESTS=") for a in argv)
    assert call["env"]["CLARATEACH_SEAT_MODEL_REQUESTS"] == "0"  # type: ignore[index]


async def test_a_check_that_cannot_start_is_a_failed_check_not_a_server_error(
    make_agent: AgentFactory, content_settings: AgentSettings, tokens: Tokens
) -> None:
    agent = await make_agent(content_settings)
    runtime = agent.server.app[CONTEXT].runtime
    command = runtime.exec_command(1, ["/nonexistent/interpreter"], {})
    runtime.exec_command = lambda *a: command  # type: ignore[method-assign]
    result = await check(agent, tokens, 0)
    assert result["passed"] is False
    assert result["message"] == "The check could not start in this seat (FileNotFoundError)."


def test_the_output_tail_never_holds_more_than_its_limit() -> None:
    from workspace_agent.content.checks import OUTPUT_LIMIT, Tail

    tail = Tail()
    high = 0
    for i in range(64):  # 4 MiB in 64 KiB reads
        tail.add(bytes([65 + i % 26]) * 65536)
        high = max(high, len(tail.data))
    assert len(tail.data) == OUTPUT_LIMIT
    assert high <= OUTPUT_LIMIT
    assert tail.dropped == 64 * 65536 - OUTPUT_LIMIT
    assert bytes(tail.data) == bytes([65 + 63 % 26]) * OUTPUT_LIMIT
