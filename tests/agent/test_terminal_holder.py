"""The terminal holder's socket (security-checklist: a learner's shell is hostile): who may
connect, what a bad request gets, one agent at a time, and permissions."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.wait import wait_for
from workspace_agent.runtimes.base import Command
from workspace_agent.runtimes.sandbox import sandbox_works
from workspace_agent.terminal import holder_wire as wire
from workspace_agent.terminal.holder_client import HolderClient, HolderUnavailable, stop_holder

pytestmark = pytest.mark.slow


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "st"
    path.mkdir()
    yield path
    stop_holder(path)


def _shell() -> Command:
    return Command(["/bin/sh"], {"PATH": os.environ["PATH"]}, "/")


def test_the_socket_is_private_to_the_agents_user(state: Path) -> None:
    client = HolderClient.connect(state)
    try:
        directory = wire.holder_dir(state)
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(directory / wire.SOCKET_NAME).st_mode) & 0o077 == 0
    finally:
        client.close()


def test_one_agent_at_a_time_and_the_next_one_gets_in_after(state: Path) -> None:
    first = HolderClient.connect(state)
    with pytest.raises(HolderUnavailable):
        HolderClient.connect(state, timeout=0.5)  # busy while the first is connected
    first.close()
    second = HolderClient.connect(state)
    assert second.adopt() == []
    second.close()


def test_a_bad_spawn_is_refused_and_the_holder_keeps_serving(state: Path) -> None:
    client = HolderClient.connect(state)
    try:
        with pytest.raises(OSError, match="could not start"):
            client.spawn(1, Command([], {}, None), 80, 24, 4096)
        with pytest.raises(OSError, match="ring_bytes"):
            client.spawn(1, _shell(), 80, 24, 10**12)
        with pytest.raises(OSError, match="could not start"):
            client.spawn(1, Command(["/bin/sh"], {}, "/nonexistent/cwd"), 80, 24, 4096)
        held = client.spawn(2, _shell(), 80, 24, 4096)
        assert held.pid > 0
        again = client.spawn(2, _shell(), 80, 24, 4096)
        assert again.pid == held.pid  # the seat's live shell, not a second one
        for fd in (held.master, held.ring_fd, again.master, again.ring_fd):
            os.close(fd)
    finally:
        client.close()


PEER = """
import socket, sys
from workspace_agent.terminal import holder_wire as wire
sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
sock.settimeout(10)
sock.connect(sys.argv[1])  # the path is visible here: a failure would be a traceback
try:
    message, fds = wire.recv(sock)  # an accepted agent is greeted with "welcome"
    wire.send(sock, {"op": "adopt"})
    message, fds = wire.recv(sock)
    print("GOT", message, len(fds))
except (BrokenPipeError, ConnectionResetError):
    message = None
if message is None:
    print("REFUSED")
"""


@pytest.mark.skipif(
    not (shutil.which("bwrap") and sandbox_works(shutil.which("bwrap") or "")),
    reason="bubblewrap cannot build a sandbox here",
)
def test_a_process_in_another_pid_namespace_is_refused_even_with_our_uid(state: Path) -> None:
    """A seat shell runs as the agent's UID in its own PID namespace (bubblewrap): even with
    the socket path bound into its sandbox it gets nothing, not a shell's descriptors."""
    client = HolderClient.connect(state)
    held = client.spawn(1, _shell(), 80, 24, 4096)
    client.close()  # the agent is away: the holder would hand the shell to the next agent
    os.close(held.master)
    os.close(held.ring_fd)
    directory = str(wire.holder_dir(state))
    root = str(Path(__file__).resolve().parents[2])
    argv = [
        shutil.which("bwrap") or "bwrap",
        "--ro-bind", "/", "/",
        "--bind", directory, directory,
        "--proc", "/proc",
        "--dev", "/dev",
        "--unshare-pid",
        sys.executable, "-c", PEER, f"{directory}/{wire.SOCKET_NAME}",
    ]  # fmt: skip
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=30, env={"PYTHONPATH": root}
    )
    assert result.stdout.strip() == "REFUSED", (result.stdout, result.stderr)
    # The same request from our own namespace is served: the refusal was the namespace.
    mine = HolderClient.connect(state)
    adopted = mine.adopt()
    assert [h.pid for h in adopted] == [held.pid]
    for h in adopted:
        os.close(h.master)
        os.close(h.ring_fd)
    mine.close()


def test_stop_holder_ends_the_holder_and_its_shells(state: Path) -> None:
    client = HolderClient.connect(state)
    held = client.spawn(1, _shell(), 80, 24, 4096)
    os.close(held.master)
    os.close(held.ring_fd)
    client.close()
    assert stop_holder(state)
    wait_for(lambda: not os.path.exists(f"/proc/{held.pid}"), message="shell gone")
    assert not stop_holder(state)  # nothing left to stop


def test_an_on_demand_holder_exits_once_it_holds_nothing(state: Path) -> None:
    """Started by an agent, the holder leaves when no agent is connected and no shell is
    held (after the last shell exits, or when the agent leaves with none)."""
    client = HolderClient.connect(state)
    pid_file = wire.holder_dir(state) / wire.PID_NAME
    first = int(pid_file.read_text())
    client.close()  # no shell: nothing to keep
    wait_for(lambda: not os.path.exists(f"/proc/{first}"), message="idle holder gone")

    client = HolderClient.connect(state)  # the next agent starts a new one
    held = client.spawn(1, Command(["/bin/sh", "-c", "read line"], {}, "/"), 80, 24, 4096)
    second = int(pid_file.read_text())
    assert second != first
    client.close()  # a shell is held: the holder stays for the next agent
    os.write(held.master, b"bye\r")  # the shell exits while no agent is connected
    os.close(held.master)
    os.close(held.ring_fd)
    wait_for(lambda: not os.path.exists(f"/proc/{second}"), message="holder gone with its shell")
