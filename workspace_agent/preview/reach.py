"""How the agent reaches ``127.0.0.1:<port>`` of a seat without publishing that port.

* A seat on the agent's network (``host`` seat network, no sandbox): a plain connection.
* A seat in a network namespace of its own (local runtime with pasta, ``seat_network.py``;
  or a docker container): ``SeatRuntime.network_pid`` names a process in it. One helper per
  namespace (``netns_connect.py``) joins it and hands each connected socket back over a
  ``SOCK_SEQPACKET`` pair (``SCM_RIGHTS``). Nothing listens anywhere on the seat's behalf, so
  the isolation is unchanged: another seat still cannot reach this seat's servers, and the
  agent reaches only the one port a preview names.

The PID is checked against its start time on every use (a PID may be reused by any process,
say another seat's), and the namespace file is opened before that check, so a helper is
never started in the wrong namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from workspace_agent.logs import log_event
from workspace_agent.preview.ports import listening_ports
from workspace_agent.runtimes.base import SeatRuntime

log = logging.getLogger("workspace_agent.preview")

HELPER = Path(__file__).with_name("netns_connect.py")
HELPER_TIMEOUT = 10.0
OK, REFUSED, TIMEOUT = 0, 1, 2


class Unreachable(Exception):
    """The seat's port cannot be connected to; ``reason`` is ``no_listener``, ``no_shell``,
    ``timeout`` or ``failed``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def start_time(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()[19]


def _ns_inode(pid: int | str, kind: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


@dataclass
class _Helper:
    pid: int
    started: str
    process: subprocess.Popen[bytes]
    control: socket.socket
    lock: asyncio.Lock

    def ask(self, port: int) -> tuple[int, socket.socket | None]:
        """Blocking (run in a thread, under ``lock``): one connect through the helper."""
        self.control.send(struct.pack("!H", port))
        message, fds, _flags, _addr = socket.recv_fds(self.control, 1, 1)
        if not message:
            for fd in fds:
                os.close(fd)
            raise Unreachable("failed")
        sock = socket.socket(fileno=fds[0]) if fds else None
        return message[0], sock

    def close(self) -> None:
        self.control.close()  # the helper exits at EOF
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class SeatReach:
    """Connections to, and listening ports of, each seat's own loopback."""

    def __init__(self, runtime: SeatRuntime, agent_port: int) -> None:
        self._runtime = runtime
        self._exclude = frozenset({agent_port}) if agent_port else frozenset()
        self._helpers: dict[int, _Helper] = {}
        self._spawn_locks: dict[int, asyncio.Lock] = {}

    async def _pid(self, seat: int) -> int | None:
        """The seat's network PID (None: the agent's network); raises ``Unreachable``."""
        helper = self._helpers.get(seat)
        if helper is not None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                if start_time(helper.pid) == helper.started:
                    return helper.pid
        try:
            return await self._runtime.network_pid(seat)
        except LookupError:
            raise Unreachable("no_shell") from None

    async def listening(self, seat: int) -> list[int]:
        pid = await self._pid(seat)
        return await asyncio.to_thread(listening_ports, pid, self._exclude)

    async def connect(self, seat: int, port: int) -> socket.socket:
        """A connected, non-blocking socket to the seat's ``127.0.0.1:port`` (or ``::1``)."""
        if port in self._exclude:
            raise Unreachable("no_listener")
        pid = await self._pid(seat)
        if pid is None or _ns_inode(pid, "net") == _ns_inode("self", "net"):
            return await _connect_here(port)
        helper = await self._helper(seat, pid)
        async with helper.lock:
            try:
                status, sock = await asyncio.to_thread(helper.ask, port)
            except (OSError, Unreachable):
                self._drop(seat)
                raise Unreachable("failed") from None
        if sock is None:
            raise Unreachable({REFUSED: "no_listener", TIMEOUT: "timeout"}.get(status, "failed"))
        sock.setblocking(False)
        return sock

    async def _helper(self, seat: int, pid: int) -> _Helper:
        lock = self._spawn_locks.setdefault(seat, asyncio.Lock())
        async with lock:
            helper = self._helpers.get(seat)
            if helper is not None and helper.pid == pid and helper.process.poll() is None:
                return helper
            self._drop(seat)
            helper = await asyncio.to_thread(_spawn_helper, pid)
            self._helpers[seat] = helper
            log_event(log, "preview_netns_helper", seat=seat, helper_pid=helper.process.pid)
            return helper

    def _drop(self, seat: int) -> None:
        helper = self._helpers.pop(seat, None)
        if helper is not None:
            helper.close()

    async def close(self) -> None:
        for seat in list(self._helpers):
            await asyncio.to_thread(self._drop, seat)


def _spawn_helper(pid: int) -> _Helper:
    """Open the seat's namespaces, check the PID still names the same process, start the
    helper with them, wait for its "joined" byte."""
    started = start_time(pid)
    fds: list[int] = []
    try:
        fds.append(os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC))
        argv = [sys.executable, "-I", str(HELPER), "--netns", str(fds[0])]
        if os.geteuid() != 0 and _ns_inode(pid, "user") != _ns_inode("self", "user"):
            fds.append(os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC))
            argv += ["--userns", str(fds[1])]
        if start_time(pid) != started:
            raise Unreachable("no_shell")
    except OSError:
        for fd in fds:
            os.close(fd)
        raise Unreachable("no_shell") from None
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        argv += ["--control", str(child.fileno())]
        process = subprocess.Popen(
            argv,
            pass_fds=(child.fileno(), *fds),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={},
        )
    finally:
        child.close()
        for fd in fds:
            os.close(fd)
    parent.settimeout(HELPER_TIMEOUT)
    try:
        ready = parent.recv(1)
    except OSError:
        ready = b""
    if ready != b"\x00":
        parent.close()
        process.kill()
        process.wait()
        raise Unreachable("failed")
    return _Helper(pid, started, process, parent, asyncio.Lock())


async def _connect_here(port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    refused = True
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(3):
                await loop.sock_connect(sock, (address, port))
        except ConnectionRefusedError:
            sock.close()
            continue
        except (OSError, TimeoutError):
            sock.close()
            refused = False
            continue
        return sock
    raise Unreachable("no_listener" if refused else "failed")
