"""Local seat shells in real bubblewrap (``CLARATEACH_AGENT_BWRAP``), over both backends.

From inside the seat's terminal: only the workspace is writable; sibling seats, the agent's
state, files beside it (where a local platform keeps secrets and the instructor token) and
the agent process itself do not exist; job control still works.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import AgentFactory, Tokens
from tests.agent.terminal_client import Terminal
from tests.support.wait import async_wait_for
from workspace_agent.runtimes.local import LocalRuntime
from workspace_agent.runtimes.sandbox import sandbox_argv, sandbox_works
from workspace_agent.settings import AgentSettings

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        message = "bubblewrap is not installed (apt-get install bubblewrap)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI installs it: a missing sandbox is a failure, not a skip
        pytest.skip(message)
    return path


@pytest.fixture(params=["buffered", "tmux"])
def sandboxed(request: pytest.FixtureRequest, settings: AgentSettings, bwrap: str) -> AgentSettings:
    return dataclasses.replace(settings, bwrap=True, terminal_backend=request.param)


async def run(term: Terminal, command: str, marker: int) -> str:
    """Type ``command``; everything the terminal showed until it finished."""
    start = len(term.output)
    await term.type(f"{command}; echo done-$(({marker}+0))\r")
    await term.read_until(rf"done-{marker}\b", timeout=20, since=start)
    return term.output[start:].decode("utf-8", "replace")


async def open_wide(agent: Client, tokens: Tokens) -> Terminal:
    """Seat 1's terminal, wide enough that no path in these tests wraps."""
    term = await Terminal.open(agent, 1, tokens.learner(1))
    await term.resize(400, 40)
    return term


def probes_left_on_host() -> bool:
    return any(os.path.exists(p) for p in ("/usr/ct-probe", "/etc/ct-probe"))


async def test_only_the_workspace_is_writable_and_nothing_else_of_the_host_is_there(
    make_agent: AgentFactory, sandboxed: AgentSettings, tokens: Tokens, tmp_path: Path
) -> None:
    secret = sandboxed.state_dir.parent / "admin-token"  # where a local platform keeps it
    secret.write_text("instructor-token-value")
    sibling = sandboxed.workspace(2)
    agent: Client = await make_agent(sandboxed)
    (sibling / "notes.txt").write_text("seat two's work")
    term = await open_wide(agent, tokens)
    work = sandboxed.workspace(1).resolve()

    out = await run(term, "echo kept > mine.txt && cat mine.txt && pwd && echo $HOME", 1)
    assert "kept" in out and out.count(str(work)) >= 2, out
    assert (work / "mine.txt").read_text() == "kept\n"

    for attempt, marker in [
        (f"cat {sibling / 'notes.txt'}", 2),
        (f"ls {sandboxed.seats_dir / '2'}", 3),
        (f"cat {secret}", 4),
        ("touch /usr/ct-probe", 5),
        ("touch /etc/ct-probe", 6),
        (f"kill -0 {os.getpid()}", 7),  # the agent (this process) is not in the sandbox
    ]:
        out = await run(term, f"{attempt} && echo LEAK-{marker}", marker)
        # The typed line echoes "echo LEAK-n"; only a succeeding attempt prints it on a line.
        assert f"\nLEAK-{marker}" not in out, f"{attempt!r} succeeded inside the sandbox: {out}"
    # Of the seats directory only the path to its own workspace exists.
    out = await run(term, f"echo \"[$(ls {sandboxed.seats_dir} | tr '\\n' ' ')]\"", 8)
    assert "[1 ]" in out, out
    assert not probes_left_on_host()
    assert (sibling / "notes.txt").read_text() == "seat two's work"
    await term.close()


async def test_job_control_works_inside_the_sandbox(
    make_agent: AgentFactory, sandboxed: AgentSettings, tokens: Tokens
) -> None:
    agent: Client = await make_agent(sandboxed)
    term = await open_wide(agent, tokens)
    await run(term, "echo ready", 1)
    work = str(sandboxed.workspace(1).resolve())
    await term.type("sleep 300\r")
    # The sleep must be the terminal's foreground job before Ctrl-C is typed: between the
    # fork and the hand-over of the terminal (tcsetpgrp) a SIGINT goes to the shell instead.
    (sleeper,) = await async_wait_for(
        lambda: [p for p in sleeping_in(work) if is_foreground(p.pid)],
        timeout=20,
        message="the sleep as the terminal's foreground job",
    )
    await term.type("\x03")  # Ctrl-C reaches the foreground job: the PTY is its terminal
    await async_wait_for(
        lambda: not sleeper.is_running() or sleeper.status() == psutil.STATUS_ZOMBIE,
        timeout=20,
        message="Ctrl-C to end the foreground job",
    )
    await run(term, "echo after-ctrl-c", 2)
    assert "no job control" not in term.text


def is_foreground(pid: int) -> bool:
    """Whether ``pid``'s process group is the foreground group of its controlling terminal
    (``/proc/<pid>/stat`` fields 5 and 8, pgrp and tpgid; proc(5))."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[2] == fields[5] and int(fields[5]) > 0


def sleeping_in(work: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cwd"]):
        if proc.info["name"] == "sleep" and proc.info["cwd"] == work:
            found.append(proc)
    return found


def test_the_sandbox_is_an_allowlist(tmp_path: Path) -> None:
    argv = sandbox_argv("/usr/bin/bwrap", tmp_path, "/bin/bash")
    binds = {argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind-try", "--ro-bind")}
    assert "/" not in binds and "/run" not in binds and "/home" not in binds
    writable = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
    assert writable == [str(tmp_path.resolve())]
    assert "--new-session" not in argv  # keeps the PTY as the controlling terminal
    assert argv[-2:] == ["/bin/bash", "-l"]


def test_auto_uses_the_sandbox_only_where_bubblewrap_can_build_it(
    settings: AgentSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto = dataclasses.replace(settings, bwrap=None)
    assert AgentSettings.from_env({"CLARATEACH_AGENT_BWRAP": "auto"}).bwrap is None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "bwrap"  # installed, but cannot create namespaces here
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    assert sandbox_works(str(broken)) is False
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert LocalRuntime(auto).shell_command(1).argv == [settings.shell, "-l"]
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert LocalRuntime(auto).shell_command(1).argv == [settings.shell, "-l"]


def test_auto_sandboxes_where_bubblewrap_works(settings: AgentSettings, bwrap: str) -> None:
    assert sandbox_works(bwrap) is True
    argv = LocalRuntime(dataclasses.replace(settings, bwrap=None)).shell_command(1).argv
    assert bwrap in argv and argv[-2:] == [settings.shell, "-l"]  # through the seat network
