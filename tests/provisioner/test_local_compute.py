"""LocalCompute: real child processes, stopped as a whole group, adoptable after a restart."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest

from shared.adapters.local_compute import LocalCompute
from shared.ports.compute import HostSpec
from tests.provisioner.conftest import spawned, standin_compute
from tests.support.wait import wait_for
from workspace_agent.runtimes.base import Command
from workspace_agent.terminal.holder_client import HolderClient


def spec(index: int = 0, workshop: str = "wslocal001") -> HostSpec:
    return HostSpec(
        workshop,
        index,
        f"ct-{workshop}-h{index}",
        1,
        10,
        {
            "CLARATEACH_AGENT_WORKSHOP_ID": workshop,
            "CLARATEACH_AGENT_HOST_INDEX": str(index),
            "CLARATEACH_AGENT_EVENTS": "local:http://127.0.0.1:9/",
        },
    )


def agent_tree(spawn_log: Path, name: str) -> list[psutil.Process]:
    """The agent process and the child it started, from the stand-in's spawn log."""
    wait_for(lambda: spawned(spawn_log, name) >= 1, timeout=20, message=f"{name} to start")
    for line in spawn_log.read_text().splitlines():
        workshop, index, pid, child = line.split()
        if f"ct-{workshop}-h{index}" == name:
            return [psutil.Process(int(pid)), psutil.Process(int(child))]
    raise AssertionError(name)


def gone(processes: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)


@pytest.fixture
def spawn_log(tmp_path: Path) -> Path:
    return tmp_path / "spawns.log"


@pytest.fixture
def compute(tmp_path: Path, spawn_log: Path):
    local = standin_compute(tmp_path / "hosts", spawn_log)
    yield local
    local.cleanup_orphans()


def test_create_starts_one_agent_process_and_is_idempotent(
    compute: LocalCompute, spawn_log: Path
) -> None:
    first = compute.create_host(spec())
    again = compute.create_host(spec())

    assert first == again and first.state == "running"
    assert first.labels == {"clarateach": "host", "workshop": "wslocal001", "host-index": "0"}
    agent, _child = agent_tree(spawn_log, first.name)
    assert spawned(spawn_log, first.name) == 1
    assert agent.cmdline()[1:] == ["-m", "tests.provisioner.standin_agent"]


def test_agent_environment_is_its_configuration_not_the_platform_environment(
    compute: LocalCompute, spawn_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-platform-secret")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/secret/creds.json")
    host = compute.create_host(spec())
    agent, _ = agent_tree(spawn_log, host.name)

    env = agent.environ()
    assert "ANTHROPIC_API_KEY" not in env and "GOOGLE_APPLICATION_CREDENTIALS" not in env
    assert env["CLARATEACH_AGENT_PORT"] == "0" and env["CLARATEACH_AGENT_BIND"] == "127.0.0.1"
    state_dir = Path(env["CLARATEACH_AGENT_STATE_DIR"])
    assert state_dir == (tmp_path / "hosts" / host.name / "state").resolve()
    assert state_dir.stat().st_mode & 0o777 == 0o700
    assert os.getpgid(agent.pid) == agent.pid, "the agent leads its own process group"
    assert env["CLARATEACH_AGENT_BWRAP"] == "auto"  # the agent sandboxes where bwrap works


def test_delete_stops_the_whole_process_group(compute: LocalCompute, spawn_log: Path) -> None:
    host = compute.create_host(spec())
    tree = agent_tree(spawn_log, host.name)

    compute.delete_host(host.name)

    assert gone(tree)
    assert compute.get_host(host.name) is None
    compute.delete_host(host.name)  # deleting a missing host is success


def test_delete_kills_an_agent_that_ignores_sigterm(tmp_path: Path, spawn_log: Path) -> None:
    stubborn = standin_compute(tmp_path / "hosts", spawn_log, mode="ignore_sigterm")
    stubborn._stop_timeout = 0.5
    host = stubborn.create_host(spec())
    tree = agent_tree(spawn_log, host.name)

    stubborn.delete_host(host.name)

    assert gone(tree)


def test_a_restarted_platform_adopts_leftover_agents_and_can_clean_them_up(
    compute: LocalCompute, tmp_path: Path, spawn_log: Path
) -> None:
    kept, orphan = compute.create_host(spec(0)), compute.create_host(spec(1))
    agent_tree(spawn_log, kept.name)  # its stand-in has logged its start (it may lag, loaded)
    orphan_tree = agent_tree(spawn_log, orphan.name)
    restarted = standin_compute(tmp_path / "hosts", spawn_log)  # a new platform process

    assert sorted(h.name for h in restarted.list_hosts({"workshop": "wslocal001"})) == [
        kept.name,
        orphan.name,
    ]
    assert restarted.cleanup_orphans(keep=[kept.name]) == [orphan.name]

    assert gone(orphan_tree)
    assert restarted.get_host(kept.name) is not None
    assert restarted.create_host(spec(0)) == kept  # adopted, not started twice
    assert spawned(spawn_log, kept.name) == 1


def test_a_dead_agent_is_reported_terminated_and_recreated(
    compute: LocalCompute, spawn_log: Path
) -> None:
    host = compute.create_host(spec())
    agent, child = agent_tree(spawn_log, host.name)
    agent.kill()
    child.kill()
    wait_for(
        lambda: getattr(compute.get_host(host.name), "state", None) == "terminated",
        timeout=10,
        message="dead agent to be noticed",
    )

    assert compute.create_host(spec()).state == "running"
    wait_for(lambda: spawned(spawn_log, host.name) == 2, timeout=20, message="agent restarted")


def test_host_names_cannot_escape_the_hosts_directory(compute: LocalCompute) -> None:
    from shared.domain.errors import PermanentError

    for name in ("../evil", "..", "a/../../b"):
        with pytest.raises(PermanentError):
            compute.get_host(name)


def test_each_agent_gets_its_own_host_events_token_in_its_environment_only(
    tmp_path: Path, spawn_log: Path
) -> None:
    from dataclasses import replace

    from shared.adapters.local_compute import host_tokens_for
    from shared.auth.platform_keys import host_events_token
    from shared.settings import Settings

    settings = Settings(mode="local", state_dir=tmp_path / "state")
    local = standin_compute(tmp_path / "hosts", spawn_log, host_tokens=host_tokens_for(settings))
    try:
        first = local.create_host(replace(spec(0), attempt=2))
        second = local.create_host(replace(spec(1), attempt=2))
        tokens = []
        for host, index in ((first, 0), (second, 1)):
            agent, _ = agent_tree(spawn_log, host.name)
            token = agent.environ()["CLARATEACH_AGENT_EVENTS_TOKEN"]
            assert token == host_events_token(settings.state_dir, "wslocal001", index, 2)
            assert token not in " ".join(agent.cmdline())
            assert not [
                p
                for p in (tmp_path / "hosts").rglob("*")
                if p.is_file() and token in p.read_text(errors="ignore")
            ]
            tokens.append(token)
        assert tokens[0] != tokens[1]
        assert host_events_token(settings.state_dir, "wslocal001", 0, 1) != tokens[0]
    finally:
        local.cleanup_orphans()


def test_restart_host_starts_a_dead_agent_again_with_its_spec_on_its_port(
    compute: LocalCompute, spawn_log: Path, tmp_path: Path
) -> None:
    host = compute.create_host(spec())
    agent, child = agent_tree(spawn_log, host.name)
    assert not compute.restart_host(host.name)  # alive: nothing to do
    state = tmp_path / "hosts" / host.name / "state"
    (state / "agent-endpoint").write_text("http://127.0.0.1:45678\n")  # as the agent writes it
    agent.kill()
    child.kill()
    wait_for(lambda: compute.get_host(host.name).state == "terminated", timeout=10)  # type: ignore[union-attr]

    assert compute.restart_host(host.name)
    wait_for(lambda: spawned(spawn_log, host.name) == 2, timeout=20, message="agent restarted")
    record = json.loads((tmp_path / "hosts" / host.name / "host.json").read_text())
    env = psutil.Process(record["pid"]).environ()
    assert env["CLARATEACH_AGENT_PORT"] == "45678"  # the endpoint learners hold stays valid
    assert env["CLARATEACH_AGENT_WORKSHOP_ID"] == "wslocal001"
    assert compute.get_host(host.name).state == "running"  # type: ignore[union-attr]
    assert not compute.restart_host("ct-unknown-h0")


def test_delete_stops_the_hosts_terminal_holder_and_its_shells(
    compute: LocalCompute, spawn_log: Path, tmp_path: Path
) -> None:
    """The held shells outlive agent restarts; deleting the host is their final stop."""
    host = compute.create_host(spec())
    agent_tree(spawn_log, host.name)
    state = tmp_path / "hosts" / host.name / "state"
    holder = HolderClient.connect(state)  # as the agent does at start-up
    held = holder.spawn(1, Command(["/bin/sh"], {"PATH": os.environ["PATH"]}, "/"), 80, 24, 4096)
    os.close(held.master)
    os.close(held.ring_fd)
    holder.close()
    holder_pid = int((state / "terminal-holder" / "holder.pid").read_text())
    processes = [psutil.Process(holder_pid), psutil.Process(held.pid)]

    compute.delete_host(host.name)

    wait_for(lambda: gone(processes), timeout=20, message="holder and shell gone")
