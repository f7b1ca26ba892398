"""Run one step's check script in a seat, bounded in time and output.

The script's bytes come from the pack the agent loaded (never from the learner-writable
workspace) and reach the interpreter on its stdin (``sh /dev/stdin``, or the interpreter of
its ``#!`` line), so nothing a learner writes in the seat changes what runs. The command is
the runtime's ``exec_command``: as the learner, inside the sandbox or container, cwd = the
workspace. It runs under ``timeout -s KILL`` inside the seat (which kills the check's process
group there, also in a container the agent cannot signal) and in a process group of its own
here, killed at the deadline and again once the script exits (nothing it started lingers).

Output (stdout and stderr together) is read in chunks and only the last ``OUTPUT_LIMIT``
bytes are kept: a check printing megabytes costs the agent no more than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

from workspace_agent.runtimes.base import Command

OUTPUT_LIMIT = 16 * 1024
#: Extra seconds the agent waits past the check's own timeout before it kills it here.
KILL_GRACE = 2.0
#: How long the output is still drained after the script exited or was killed.
DRAIN_SECONDS = 1.0
DEFAULT_INTERPRETER = ("/bin/sh",)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str
    exit_code: int | None
    timed_out: bool
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "message": self.message,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "truncated": self.truncated,
        }


class Tail:
    """The last ``limit`` bytes of a stream, and whether anything was dropped."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess


def interpreter(script: bytes) -> list[str]:
    """The ``#!`` line's interpreter and argument, else ``/bin/sh``."""
    if not script.startswith(b"#!"):
        return list(DEFAULT_INTERPRETER)
    line = script[2:].split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    try:
        argv = shlex.split(line)
    except ValueError:
        argv = []
    return argv[:2] if argv and argv[0].startswith("/") else list(DEFAULT_INTERPRETER)


def check_argv(script: bytes, timeout_s: int) -> list[str]:
    """What runs in the seat: the interpreter reading the script from stdin, under timeout."""
    return ["timeout", "-s", "KILL", str(timeout_s), *interpreter(script), "/dev/stdin"]


def clean_message(tail: Tail) -> str:
    """Printable text of the kept output: escape sequences and control characters removed
    (the page shows it as text; this keeps it readable)."""
    text = tail.data.decode("utf-8", errors="replace")
    return _CONTROL.sub("", text).strip()


async def run_check(command: Command, script: bytes, timeout_s: int) -> CheckResult:
    """Run ``command`` (from ``check_argv`` through the runtime) with ``script`` on stdin.

    stdin is an OS pipe made here, not the event loop's ``PIPE``: uvloop (the agent's loop)
    gives a child a socketpair there, and ``/dev/stdin`` cannot be opened on a socket
    (ENXIO), so ``sh /dev/stdin`` would fail before the script ran.
    """
    read_end, write_end = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *command.argv,
            env=command.env,
            cwd=command.cwd,
            stdin=read_end,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as one
        )
    except OSError as exc:  # e.g. the docker CLI is gone: a failed check, not a 500
        os.close(write_end)
        message = f"The check could not start in this seat ({type(exc).__name__})."
        return CheckResult(False, message, None, timed_out=False, truncated=False)
    finally:
        os.close(read_end)  # the child has its copy
    loop = asyncio.get_running_loop()
    started = loop.time()
    tail = Tail()
    reader = asyncio.create_task(_read(proc, tail))
    feeder = asyncio.create_task(_feed(write_end, script))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout=timeout_s + KILL_GRACE)
        except TimeoutError:
            timed_out = True
    finally:
        _kill_group(proc.pid)  # the script's leftovers, or the script itself at the deadline
        await proc.wait()
        feeder.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), timeout=DRAIN_SECONDS)
        reader.cancel()
        await asyncio.gather(reader, feeder, return_exceptions=True)
    code = proc.returncode
    # timeout(1) exits 137 when it killed the script (KILL): the seat-side deadline.
    late = loop.time() - started >= timeout_s * 0.9  # timeout(1) and this clock differ a little
    timed_out = timed_out or (late and code in (137, -signal.SIGKILL))
    message = clean_message(tail)
    if timed_out:
        message = (message + "\n" if message else "") + f"The check timed out after {timeout_s} s."
    return CheckResult(
        passed=code == 0 and not timed_out,
        message=message,
        exit_code=None if timed_out else code,
        timed_out=timed_out,
        truncated=tail.dropped > 0,
    )


async def _read(proc: asyncio.subprocess.Process, tail: Tail) -> None:
    assert proc.stdout is not None
    while chunk := await proc.stdout.read(64 * 1024):
        tail.add(chunk)


async def _feed(fd: int, script: bytes) -> None:
    """Write ``script`` into the check's stdin pipe without blocking the loop, then close it
    (also when cancelled, or when the script exits without reading it all)."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    view = memoryview(script)
    try:
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                writable: asyncio.Future[None] = loop.create_future()
                loop.add_writer(fd, _settle, writable)
                try:
                    await writable
                finally:
                    loop.remove_writer(fd)
    except OSError:  # BrokenPipeError: the script is gone
        pass
    finally:
        os.close(fd)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
