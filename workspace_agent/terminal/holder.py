"""The terminal holder: a small per-host process that owns the seats' shells and outlives the
agent, so an agent restart (SIGTERM, SIGKILL, a crash, an upgrade) loses no terminal.

``python -m workspace_agent.terminal.holder [--exit-when-idle] <state_dir>`` (the agent
starts it on demand, detached, when none answers, with ``--exit-when-idle``: it exits once it
holds no shell and no agent is connected; on GCP hosts systemd runs it as its own unit, which
stays). It

* spawns each seat's shell on a PTY at the agent's request, as the shell's parent (so the
  sandbox's ``--die-with-parent`` ties shells to the holder, not to the agent), with a
  shared-memory output ring (``shared_ring.py``), and passes the PTY master and the ring's
  memfd to the agent (``SCM_RIGHTS``), keeping its own copies: the PTY never hangs up while
  the agent is away;
* does nothing on the data path while an agent is connected: the agent reads the PTY itself
  (one read into the ring and the sockets, as without a holder) and the holder sleeps in
  ``select``;
* drains every PTY into its ring while no agent is connected, so a shell never blocks on a
  full PTY during the gap and its output reaches the ring (up to the ring's size, like a seat
  nobody watches);
* hands every live shell back to the next agent (``adopt``) and tells the connected agent
  when a shell exits (``exited``);
* on SIGTERM/SIGINT or ``terminate`` hangs every shell up (SIGHUP to its process group,
  SIGKILL after a grace period) and exits: the final stop of a host.

Operations (agent → holder, one JSON packet each; ``holder_wire.py``):
``adopt`` → one ``seat`` packet ``{seat, pid}`` + ``[master, ring]`` per live shell, then
``adopted``; ``spawn {seat, argv, env, cwd, cols, rows, ring_bytes}`` → ``spawned {seat, pid}``
+ ``[master, ring]`` (the live shell if the seat already has one) or ``error {seat, message}``;
``terminate`` → ``terminated``, then the holder exits. Holder → agent: ``welcome`` on
connect, then at any time ``exited {seat, pid}``. One agent at a time: a second connection
gets ``busy`` and is closed (the new agent retries while the old one's socket is torn down).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workspace_agent.logs import configure, log_event
from workspace_agent.runtimes.base import Command
from workspace_agent.terminal import holder_wire as wire
from workspace_agent.terminal.pty import clamp_size, session_members, spawn_on_pty
from workspace_agent.terminal.shared_ring import SharedRing, create_ring_fd

log = logging.getLogger("workspace_agent.terminal.holder")

STOP_GRACE = 3.0
READ_SIZE = 64 * 1024  # as flow.READ_SIZE (not imported: the holder stays free of aiohttp)
MAX_RING = 64 * 1024 * 1024


@dataclass
class Held:
    seat: int
    proc: subprocess.Popen[bytes]
    master: int
    ring_fd: int
    ring: SharedRing
    pidfd: int
    draining: bool = False


class Holder:
    def __init__(
        self, state_dir: Path, grace: float = STOP_GRACE, *, exit_when_idle: bool = False
    ) -> None:
        self.directory = wire.holder_dir(state_dir)
        self.grace = grace
        self.exit_when_idle = exit_when_idle
        self.held: dict[int, Held] = {}
        self.agent: socket.socket | None = None
        self.done = False
        self._sel = selectors.DefaultSelector()

    # -- main loop -------------------------------------------------------------------------
    def serve(self) -> int:
        wire.ensure_private_dir(self.directory)
        lock = (self.directory / wire.LOCK_NAME).open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log_event(log, "holder_already_running")
            return 0
        dir_fd = wire.open_dir(self.directory)
        pid_file = self.directory / wire.PID_NAME
        pid_file.write_text(f"{os.getpid()}\n")  # for the local platform's final stop
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.directory / wire.SOCKET_NAME)  # a dead holder's (we hold the lock)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        old = os.umask(0o177)
        try:
            listener.bind(wire.address(dir_fd))
        finally:
            os.umask(old)
        listener.listen(8)
        listener.setblocking(False)
        self._sel.register(listener, selectors.EVENT_READ, lambda: self._accept(listener))
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self._sel.register(wake_r, selectors.EVENT_READ, lambda: self._on_signal(wake_r))
        log_event(log, "holder_listening", pid=os.getpid())
        while not self.done:
            for key, _ in self._sel.select():
                key.data()
                if self.done:
                    break
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.directory / wire.SOCKET_NAME)
        listener.close()
        pid_file.unlink(missing_ok=True)
        log_event(log, "holder_stopped")
        return 0

    def _on_signal(self, fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            signums = os.read(fd, 64)
            if any(s in (signal.SIGTERM, signal.SIGINT) for s in signums):
                self.terminate()

    # -- the agent -------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return
        if not wire.peer_allowed(conn):
            log_event(log, "holder_peer_refused", level=logging.WARNING)
            conn.close()
            return
        if self.agent is not None:
            with contextlib.suppress(OSError):
                wire.send(conn, {"op": "busy"})
            conn.close()
            return
        conn.setblocking(True)
        try:
            wire.send(conn, {"op": "welcome"})
        except OSError:
            conn.close()
            return
        self.agent = conn
        for held in self.held.values():
            self._set_draining(held, False)  # the agent reads the PTYs from now on
        self._sel.register(conn, selectors.EVENT_READ, self._on_agent)
        log_event(log, "agent_connected", shells=len(self.held))

    def _agent_gone(self) -> None:
        if self.agent is not None:
            self._sel.unregister(self.agent)
            self.agent.close()
            self.agent = None
        for held in self.held.values():
            self._set_draining(held, True)
        log_event(log, "agent_disconnected", shells=len(self.held))
        self._exit_if_idle()

    def _exit_if_idle(self) -> None:
        """Started on demand by an agent: nothing to keep (no shell, no agent) → exit; the
        next agent starts a holder again. (A systemd-managed holder stays.)"""
        if self.exit_when_idle and self.agent is None and not self.held:
            log_event(log, "holder_idle")
            self.done = True

    def _on_agent(self) -> None:
        conn = self.agent
        assert conn is not None
        try:
            message, fds = wire.recv(conn)
        except (OSError, ValueError):
            message, fds = None, []
        wire.close_all(fds)  # the agent never sends descriptors
        if message is None:
            self._agent_gone()
            return
        op = message["op"]
        try:
            if op == "adopt":
                for held in self.held.values():
                    self._send_shell("seat", held)
                wire.send(conn, {"op": "adopted"})
            elif op == "spawn":
                self._spawn(message)
            elif op == "terminate":
                self.terminate()
                wire.send(conn, {"op": "terminated"})
            else:
                wire.send(conn, {"op": "error", "message": f"unknown op {op!r}"})
        except OSError:
            self._agent_gone()

    def _send_shell(self, op: str, held: Held) -> None:
        assert self.agent is not None
        wire.send(self.agent, {"op": op, "seat": held.seat, "pid": held.proc.pid},
                  [held.master, held.ring_fd])  # fmt: skip

    # -- shells ----------------------------------------------------------------------------
    def _spawn(self, message: dict[str, Any]) -> None:
        assert self.agent is not None
        seat = message.get("seat")
        try:
            if not isinstance(seat, int) or isinstance(seat, bool):
                raise ValueError("seat must be an integer")
            existing = self.held.get(seat)
            if existing is not None:
                self._send_shell("spawned", existing)
                return
            held = self._start(seat, message)
        except (OSError, ValueError, TypeError) as exc:
            wire.send(self.agent, {"op": "error", "seat": seat, "message": str(exc)})
            return
        self.held[seat] = held
        self._sel.register(held.pidfd, selectors.EVENT_READ, lambda: self._on_exit(held))
        log_event(log, "shell_started", seat=seat, pid=held.proc.pid)
        self._send_shell("spawned", held)

    def _start(self, seat: int, message: dict[str, Any]) -> Held:
        argv, env, cwd = message.get("argv"), message.get("env"), message.get("cwd")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a non-empty list of strings")
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise ValueError("env must map strings to strings")
        if cwd is not None and not isinstance(cwd, str):
            raise ValueError("cwd must be a string")
        size = clamp_size(message.get("cols"), message.get("rows")) or (80, 24)
        ring_bytes = message.get("ring_bytes")
        if not isinstance(ring_bytes, int) or not 0 < ring_bytes <= MAX_RING:
            raise ValueError("ring_bytes out of range")
        ring_fd = create_ring_fd(ring_bytes, f"ct-ring-seat{seat}")
        try:
            ring = SharedRing(ring_fd)
            proc, master = spawn_on_pty(Command(argv, env, cwd), *size)
        except BaseException:
            os.close(ring_fd)
            raise
        return Held(seat, proc, master, ring_fd, ring, os.pidfd_open(proc.pid))

    def _set_draining(self, held: Held, on: bool) -> None:
        if on and not held.draining and held.master >= 0:
            self._sel.register(held.master, selectors.EVENT_READ, lambda: self._drain(held))
            held.draining = True
        elif not on and held.draining:
            self._sel.unregister(held.master)
            held.draining = False

    def _drain(self, held: Held) -> None:
        """No agent: keep the shell's output in the ring, as the agent would."""
        total = 0
        while total < READ_SIZE:
            try:
                data = os.read(held.master, READ_SIZE - total)
            except BlockingIOError:
                return
            except OSError:  # EIO: the shell's side hung up; its pidfd reports the exit
                data = b""
            if not data:
                self._set_draining(held, False)
                return
            held.ring.append(data)
            total += len(data)

    def _on_exit(self, held: Held) -> None:
        if held.draining:
            with contextlib.suppress(OSError):
                while data := os.read(held.master, READ_SIZE):
                    held.ring.append(data)
        self._forget(held)
        log_event(log, "shell_exited", seat=held.seat, pid=held.proc.pid)
        if self.agent is not None:
            try:
                wire.send(self.agent, {"op": "exited", "seat": held.seat, "pid": held.proc.pid})
            except OSError:
                self._agent_gone()
        else:
            self._exit_if_idle()

    def _forget(self, held: Held) -> None:
        self._set_draining(held, False)
        self._sel.unregister(held.pidfd)
        os.close(held.pidfd)
        held.proc.wait()  # exited (pidfd readable) or killed: reaps it
        if self.held.get(held.seat) is held:
            del self.held[held.seat]
        held.ring.close()
        for fd in (held.master, held.ring_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        held.master = -1

    def terminate(self) -> None:
        """Hang every shell's session up (the shell and whatever it left running, jobs
        included); SIGKILL what is left after the grace period; then stop."""
        shells = list(self.held.values())
        members: set[int] = set()
        for held in shells:
            self._set_draining(held, False)
            session = session_members(held.proc.pid)
            members.update(session)
            for pid in session:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGHUP)
            os.close(held.master)
            held.master = -1
        for held in shells:  # reap the shells as they go, so they do not count as alive
            with contextlib.suppress(ChildProcessError):
                held.proc.poll()
        _wait_until(lambda: not any(_alive(p) for p in members), self.grace)
        for pid in members:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for held in shells:
            held.proc.wait()
            with contextlib.suppress(OSError):
                self._sel.unregister(held.pidfd)
            os.close(held.pidfd)
            held.ring.close()
            os.close(held.ring_fd)
        self.held.clear()
        log_event(log, "holder_terminated", shells=len(shells))
        self.done = True


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has exited


def _wait_until(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)  # bounded wait for exiting processes at shutdown


def main(argv: list[str]) -> int:
    configure()
    idle = "--exit-when-idle" in argv
    args = [a for a in argv if a != "--exit-when-idle"]
    if len(args) != 1:
        print(
            "usage: python -m workspace_agent.terminal.holder [--exit-when-idle] <state dir>",
            file=sys.stderr,
        )
        return 2
    try:
        return Holder(Path(args[0]), exit_when_idle=idle).serve()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return 0
        log_event(log, "holder_failed", level=logging.ERROR, error=repr(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
