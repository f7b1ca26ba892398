"""The agent's side of the terminal holder (``holder.py``): connect (starting the holder if
none answers), adopt the shells it holds, spawn new ones, and the final ``stop_holder``.

Requests are synchronous on the event loop's thread (a spawn costs the holder one
fork/exec, as spawning in-process did); ``exited`` notices that arrive meanwhile, or while
idle (``watch``), are dispatched on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import workspace_agent
from workspace_agent.runtimes.base import Command
from workspace_agent.terminal import holder_wire as wire
from workspace_agent.terminal.pty import set_winsize

CONNECT_TIMEOUT = 15.0
START_RETRY = 1.0
REQUEST_TIMEOUT = 10.0
_PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


class HolderUnavailable(OSError):
    pass


@dataclass
class HeldFds:
    """One held shell as received: its pid and our copies of its PTY master and ring."""

    seat: int
    pid: int
    master: int
    ring_fd: int


class HeldPty:
    """``PtyProcess``'s interface for a shell the holder owns. ``close`` releases our copy of
    the master (never signals: the shell belongs to the holder); ``exited`` is called when the
    holder reports the exit."""

    def __init__(self, held: HeldFds, on_exit: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self.pid = held.pid
        self.fd = held.master
        self.ring_fd = held.ring_fd
        os.set_blocking(self.fd, False)
        self._on_exit = on_exit

    def resize(self, cols: int, rows: int) -> None:
        if self.fd >= 0:
            set_winsize(self.fd, cols, rows)

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(self.fd)
                self._loop.remove_writer(self.fd)
            os.close(self.fd)
            self.fd = -1
        if self.ring_fd >= 0:
            os.close(self.ring_fd)  # the ring stays mapped until the ring object goes
            self.ring_fd = -1

    def exited(self) -> None:
        self._on_exit()


def _connect(state_dir: Path) -> socket.socket:
    directory = wire.holder_dir(state_dir)
    dir_fd = wire.open_dir(directory)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(REQUEST_TIMEOUT)
            sock.connect(wire.address(dir_fd))
        except BaseException:
            sock.close()
            raise
    finally:
        os.close(dir_fd)
    return sock


def start_holder(state_dir: Path) -> None:
    """Start a detached holder for ``state_dir`` (its own session; not our child)."""
    directory = wire.holder_dir(state_dir)
    wire.ensure_private_dir(directory)
    env = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
    env["PYTHONPATH"] = str(Path(workspace_agent.__file__).resolve().parents[1])
    env["PYTHONUNBUFFERED"] = "1"
    argv = [
        sys.executable,
        "-m",
        "workspace_agent.terminal.holder",
        "--exit-when-idle",
        str(Path(state_dir).resolve()),
    ]
    setsid = shutil.which("setsid")
    with (directory / wire.LOG_NAME).open("ab") as log:
        proc = subprocess.Popen(
            [setsid, "-f", *argv] if setsid else argv,
            env=env,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    if setsid:
        proc.wait()  # setsid -f forks the holder off and exits at once: reap it


class HolderClient:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_exited: Callable[[int, int], None] = lambda seat, pid: None
        self.on_lost: Callable[[], None] = lambda: None
        self.closed = False

    @classmethod
    def connect(
        cls, state_dir: Path, *, start: bool = True, timeout: float = CONNECT_TIMEOUT
    ) -> HolderClient:
        """Connect to ``state_dir``'s holder, starting one if none answers; waits (up to
        ``timeout``) while a previous agent's connection is still being torn down."""
        deadline = time.monotonic() + timeout
        started = 0.0
        while True:
            try:
                sock = _connect(state_dir)
                client = cls(sock)
                client._check_not_busy()
                return client
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                if not start:
                    raise HolderUnavailable(errno.ENOENT, "no terminal holder is running") from exc
                # Again after a second: a holder that was exiting (idle) may have kept the
                # lock from the one we started, which then gave way.
                if time.monotonic() - started > START_RETRY:
                    start_holder(state_dir)
                    started = time.monotonic()
            except _Busy:
                pass
            if time.monotonic() >= deadline:
                raise HolderUnavailable(errno.ETIMEDOUT, "the terminal holder did not answer")
            time.sleep(0.05)  # poll interval of a deadline-bounded connect

    def _check_not_busy(self) -> None:
        """The holder greets an accepted agent with ``welcome``; a refused one gets ``busy``
        (another agent is still connected) or nothing but EOF."""
        try:
            message, fds = wire.recv(self._sock)
        except (OSError, ValueError) as exc:
            self._sock.close()
            raise _Busy from exc
        wire.close_all(fds)
        if message is None or message["op"] != "welcome":
            self._sock.close()
            raise _Busy(str(message))

    # -- requests --------------------------------------------------------------------------
    def adopt(self) -> list[HeldFds]:
        """Every live shell the holder holds (the holder stopped draining them)."""
        wire.send(self._sock, {"op": "adopt"})
        shells: list[HeldFds] = []
        while True:
            message, fds = self._receive()
            if message["op"] == "adopted":
                return shells
            shells.append(self._held(message, fds))

    def spawn(self, seat: int, command: Command, cols: int, rows: int, ring_bytes: int) -> HeldFds:
        request = {
            "op": "spawn",
            "seat": seat,
            "argv": command.argv,
            "env": command.env,
            "cwd": command.cwd,
            "cols": cols,
            "rows": rows,
            "ring_bytes": ring_bytes,
        }
        wire.send(self._sock, request)
        message, fds = self._receive()
        if message["op"] == "error":
            raise OSError(errno.EIO, f"the terminal holder could not start the shell: "
                          f"{message.get('message')}")  # fmt: skip
        return self._held(message, fds)

    def terminate(self) -> None:
        wire.send(self._sock, {"op": "terminate"})
        self._receive()

    def _receive(self) -> tuple[dict[str, Any], list[int]]:
        """The next reply; ``exited`` notices on the way are dispatched on the loop."""
        self._sock.settimeout(REQUEST_TIMEOUT)
        try:
            while True:
                try:
                    message, fds = wire.recv(self._sock)
                except TimeoutError as exc:
                    raise HolderUnavailable(errno.ETIMEDOUT, "the terminal holder hung") from exc
                if message is None:
                    raise HolderUnavailable(errno.EPIPE, "the terminal holder went away")
                if message["op"] == "exited":
                    wire.close_all(fds)
                    self._notify(message)
                    continue
                return message, fds
        finally:
            if self._loop is not None:
                self._sock.setblocking(False)

    @staticmethod
    def _held(message: dict[str, Any], fds: list[int]) -> HeldFds:
        seat, pid = message.get("seat"), message.get("pid")
        if len(fds) != 2 or not isinstance(seat, int) or not isinstance(pid, int):
            wire.close_all(fds)
            raise HolderUnavailable(errno.EPROTO, f"unexpected holder reply {message.get('op')!r}")
        return HeldFds(seat, pid, fds[0], fds[1])

    def _notify(self, message: dict[str, Any]) -> None:
        seat, pid = message.get("seat"), message.get("pid")
        if isinstance(seat, int) and isinstance(pid, int):
            if self._loop is not None:
                self._loop.call_soon(self.on_exited, seat, pid)
            else:
                self.on_exited(seat, pid)

    # -- idle notices ----------------------------------------------------------------------
    def watch(self) -> None:
        """Receive ``exited`` notices (and notice a lost holder) on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._sock.setblocking(False)
        self._loop.add_reader(self._sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        while not self.closed:
            try:
                message, fds = wire.recv(self._sock)
            except BlockingIOError:
                return
            except (OSError, ValueError):
                message, fds = None, []
            wire.close_all(fds)
            if message is None:
                self.close()
                self.on_lost()
                return
            if message["op"] == "exited":
                self._notify(message)

    def close(self) -> None:
        """Disconnect: the holder keeps every shell and drains their output until the next
        agent connects."""
        if self.closed:
            return
        self.closed = True
        if self._loop is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(self._sock.fileno())
        self._sock.close()


class _Busy(Exception):
    pass


def stop_holder(state_dir: Path, timeout: float = 10.0) -> bool:
    """The final stop of a host's terminals: the holder hangs up every shell and exits.
    Returns False if no holder was running."""
    try:
        client = HolderClient.connect(state_dir, start=False, timeout=timeout)
    except (HolderUnavailable, OSError):
        return False
    try:
        client.terminate()
        client._sock.settimeout(timeout)
        with contextlib.suppress(OSError, ValueError):
            while wire.recv(client._sock)[0] is not None:  # EOF once the holder has exited
                pass
    finally:
        client.close()
    return True
