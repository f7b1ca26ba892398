"""The docker seat runtime against a fake ``docker`` CLI that records every call."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.agent import fake_docker
from tests.agent.conftest import AgentFactory, Tokens
from tests.agent.terminal_client import Terminal
from workspace_agent.app import CONTEXT
from workspace_agent.runtimes.docker import DockerRuntime
from workspace_agent.settings import AgentSettings

SECRET = "sk-gw-very-secret-value-123"


@pytest.fixture
def docker_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "docker-calls.jsonl"
    fake_docker.install(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return log


@pytest.fixture
def docker_settings(settings: AgentSettings) -> AgentSettings:
    return dataclasses.replace(settings, runtime="docker", seats=(1, 2), seat_image="seat:test")


@pytest.fixture
def docker_tmux_settings(docker_settings: AgentSettings) -> AgentSettings:
    return dataclasses.replace(docker_settings, terminal_backend="tmux")


def argvs(log: Path, first: str) -> list[list[str]]:
    return [c["argv"] for c in fake_docker.calls(log) if c["argv"][:1] == [first]]  # type: ignore[index,misc]


async def test_seat_container_is_locked_down_and_secrets_stay_out_of_argv(
    docker_log: Path, docker_settings: AgentSettings
) -> None:
    runtime = DockerRuntime(docker_settings)
    extra = {"ANTHROPIC_AUTH_TOKEN": SECRET, "ANTHROPIC_BASE_URL": "http://gw.test/seats/1/model"}
    await runtime.ensure_seat(1, extra)
    (run,) = argvs(docker_log, "run")
    flags = " ".join(run)
    for expected in [
        "--user 1000:1000",
        "--cap-drop=ALL",
        "--security-opt no-new-privileges",
        "--pids-limit 512",
        "--memory 2g",
        "--cpus 1",
        "--network ct-ws-test-seats",
        "--sysctl net.ipv6.conf.all.disable_ipv6=1",  # no link-local path past the firewall
        "--name ct-ws-test-seat1",
        f"{docker_settings.workspace(1).resolve()}:/home/learner/work",
    ]:
        assert expected in flags, expected
    assert "docker.sock" not in flags and "--privileged" not in flags
    assert run[run.index("-e", run.index("ANTHROPIC_AUTH_TOKEN") - 1) + 1] == "ANTHROPIC_AUTH_TOKEN"
    assert run[-3:] == ["seat:test", "sleep", "infinity"]
    (create,) = argvs(docker_log, "network")[1:]
    assert "com.docker.network.bridge.enable_icc=false" in create  # no seat-to-seat traffic
    assert "--driver" in create and create[create.index("--driver") + 1] == "bridge"
    assert "--ipv6" not in create and "--internal" not in create  # IPv4 with internet access
    for call in fake_docker.calls(docker_log):
        assert SECRET not in " ".join(call["argv"])  # type: ignore[arg-type]
    run_call = next(c for c in fake_docker.calls(docker_log) if c["argv"][0] == "run")  # type: ignore[index]
    assert run_call["env"]["ANTHROPIC_AUTH_TOKEN"] == SECRET  # type: ignore[index]
    assert argvs(docker_log, "exec") == [], "buffered (default): shells start on attach"


async def test_ensure_seat_is_idempotent(
    docker_log: Path, docker_tmux_settings: AgentSettings
) -> None:
    runtime = DockerRuntime(docker_tmux_settings)
    await runtime.ensure_seat(1, {})
    await runtime.ensure_seat(1, {})
    assert len(argvs(docker_log, "run")) == 1
    assert sum("new-session" in a for a in argvs(docker_log, "exec")) == 1


def test_attach_and_capture_commands(docker_settings: AgentSettings) -> None:
    runtime = DockerRuntime(docker_settings)
    learner = runtime.attach_command(1, readonly=False)
    assert learner.argv[1:4] == ["exec", "-it", "-u"]
    tail = learner.argv[learner.argv.index("ct-ws-test-seat1") + 1 :]
    assert tail == [
        "tmux",
        "-f",
        "/etc/clarateach/tmux.conf",
        "new-session",
        "-A",
        "-s",
        "seat",
        "-c",
        "/home/learner/work",
    ]
    shadow = runtime.attach_command(1, readonly=True)
    assert shadow.argv[-6:] == ["attach-session", "-r", "-f", "ignore-size", "-t", "seat"]
    assert "capture-pane" in runtime.capture_command(1, 100).argv


def test_buffered_shell_command_runs_a_login_shell_in_the_container(
    docker_settings: AgentSettings,
) -> None:
    command = DockerRuntime(docker_settings).shell_command(1)
    assert command.argv[1:4] == ["exec", "-it", "-u"]
    assert command.argv[-3:] == ["ct-ws-test-seat1", "/bin/bash", "-l"]
    assert "-w" in command.argv and "/home/learner/work" in command.argv


@pytest.mark.parametrize("backend", ["tmux", "buffered"])
async def test_terminal_through_the_docker_runtime(
    docker_log: Path,
    docker_settings: AgentSettings,
    make_agent: AgentFactory,
    tokens: Tokens,
    backend: str,
) -> None:
    custom = dataclasses.replace(docker_settings, terminal_backend=backend)  # type: ignore[arg-type]
    client: Any = await make_agent(custom)
    term = await Terminal.open(client, 1, tokens.learner(1))
    await term.type("through-docker\r")
    # Once from the tty's echo, once from `cat` inside the fake `docker exec -it`.
    await term.read_until(r"through-docker\r\n(.|\n)*through-docker")
    await term.close()
    assert any("-it" in a for a in argvs(docker_log, "exec"))


async def test_buffered_docker_exec_shells_survive_an_agent_restart(
    docker_log: Path, docker_settings: AgentSettings, make_agent: AgentFactory, tokens: Tokens
) -> None:
    """The held shell is the ``docker exec -it`` CLI on the terminal holder's PTY: a restarted
    agent adopts the same process (so the same exec session in the container) and its ring."""
    first: Any = await make_agent(docker_settings)
    term = await Terminal.open(first, 1, tokens.learner(1))
    await term.type("before-restart\r")
    await term.read_until(r"before-restart\r\n(.|\n)*before-restart")
    shell = first.server.app[CONTEXT].shells.get(1)
    exec_pid = shell.pid
    await term.close()
    await first.close()  # the agent stops; the holder keeps the docker exec session
    assert psutil.Process(exec_pid).is_running()

    second: Any = await make_agent(docker_settings)
    again = await Terminal.open(second, 1, tokens.learner(1))
    await again.read_until(r"before-restart")  # replayed from the held ring
    assert second.server.app[CONTEXT].shells.get(1).pid == exec_pid
    since = len(again.output)
    await again.type("after-restart\r")
    await again.read_until(r"after-restart\r\n(.|\n)*after-restart", since=since)
    await again.close()
    assert sum(1 for a in argvs(docker_log, "exec") if "-it" in a) == 1  # one exec, adopted
