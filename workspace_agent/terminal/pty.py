"""A child process on a fresh pseudo-terminal, driven by the event loop.

The child becomes a session leader with the PTY as its controlling terminal (``setsid
--ctty``), so a ``TIOCSWINSZ`` on the master delivers SIGWINCH to it. Exit is noticed through
a pidfd registered with the loop: no thread per child, no polling, no zombies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import struct
import subprocess
import termios
from collections.abc import Callable
from pathlib import Path

from workspace_agent.runtimes.base import Command

MAX_COLS, MAX_ROWS = 500, 200
_SETSID = shutil.which("setsid")


def clamp_size(cols: object, rows: object) -> tuple[int, int] | None:
    """``(cols, rows)`` clamped to 1..500 x 1..200, or None if they are not integers."""
    if isinstance(cols, bool) or isinstance(rows, bool):
        return None
    if not isinstance(cols, int) or not isinstance(rows, int):
        return None
    return max(1, min(cols, MAX_COLS)), max(1, min(rows, MAX_ROWS))


def set_winsize(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _make_controlling_tty() -> None:  # pragma: no cover - fallback where setsid(1) is missing
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def spawn_on_pty(command: Command, cols: int, rows: int) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` as a session leader on a fresh PTY; return it and the (non-blocking,
    close-on-exec) master end."""
    master, slave = os.openpty()
    try:
        set_winsize(slave, cols, rows)
        argv = [_SETSID, "--ctty", *command.argv] if _SETSID else command.argv
        proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=command.env,
            cwd=command.cwd,
            close_fds=True,
            preexec_fn=None if _SETSID else _make_controlling_tty,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    return proc, master


class PtyProcess:
    """``command`` running on a PTY whose master end (non-blocking) we own.

    ``on_exit`` runs once, on the loop, after the child has exited and been reaped.
    ``close`` hangs the child up (SIGHUP + closing the master); it never blocks.
    """

    def __init__(self, command: Command, cols: int, rows: int, on_exit: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._proc, master = spawn_on_pty(command, cols, rows)
        self.fd: int = master
        self._on_exit = on_exit
        self._pidfd = os.pidfd_open(self._proc.pid)
        self._loop.add_reader(self._pidfd, self._reap)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def resize(self, cols: int, rows: int) -> None:
        if self.fd >= 0:
            set_winsize(self.fd, cols, rows)

    def close(self) -> None:
        """Hang up the child and release the master. Idempotent."""
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGHUP)
        if self.fd >= 0:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(self.fd)
                self._loop.remove_writer(self.fd)
            os.close(self.fd)
            self.fd = -1

    def _reap(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._proc.wait()  # already exited: returns at once
        self._on_exit()


def session_members(sid: int) -> set[int]:
    """Every process in session ``sid`` (the shell's: it is a session leader)."""
    found = {sid}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if len(fields) > 3 and fields[3] == str(sid):
            found.add(int(entry))
    return found
