"""The terminal hot path's cheap-by-construction rules (issue 22; numbers in the README's
terminal benchmark): one PTY read per keystroke echo, and the event loop the agent runs on."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvloop

import workspace_agent.__main__ as agent_main
from workspace_agent.terminal.shell import SHORT_READ, SeatShell


class PipePty:
    """A ``ShellPty`` over a non-blocking pipe: the test writes what the "shell" prints."""

    def __init__(self) -> None:
        self.fd, self.writer = os.pipe()
        os.set_blocking(self.fd, False)

    @property
    def pid(self) -> int:
        return os.getpid()

    def resize(self, cols: int, rows: int) -> None:
        pass

    def close(self) -> None:
        for fd in (self.fd, self.writer):
            os.close(fd)
        self.fd = -1


class Recorder:
    readonly = False

    def __init__(self) -> None:
        self.exited = asyncio.Event()
        self.offers: list[bytes] = []

    def start(self, shell: SeatShell) -> None:
        pass

    def offer(self, offset: int, data: bytes) -> None:
        self.offers.append(data)

    def wants_live(self) -> bool:
        return True


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The fds of every ``os.read`` made while the test runs."""
    calls: list[int] = []
    real = os.read

    def counting(fd: int, n: int) -> bytes:
        calls.append(fd)
        return real(fd, n)

    monkeypatch.setattr(os, "read", counting)
    yield calls


async def _shell_with(pty: PipePty) -> tuple[SeatShell, Recorder]:
    shell = SeatShell(lambda on_exit: pty, lambda s: None)
    viewer = Recorder()
    shell.attach(viewer)
    shell._stop_reading()  # the test calls the readiness callback itself
    return shell, viewer


async def test_an_echo_is_published_after_one_read(reads: list[int]) -> None:
    pty = PipePty()
    try:
        shell, viewer = await _shell_with(pty)
        os.write(pty.writer, b"x")
        shell._on_readable()
        assert viewer.offers == [b"x"]
        assert reads.count(pty.fd) == 1  # the old loop read again, only to get EAGAIN
    finally:
        shell._stop_reading()
        pty.close()


async def test_bulk_output_is_still_coalesced_into_one_frame(reads: list[int]) -> None:
    pty = PipePty()
    try:
        shell, viewer = await _shell_with(pty)
        first, second = b"a" * (SHORT_READ * 2), b"b" * 10

        real = os.read
        pieces = iter([first, second])

        def pty_like(fd: int, n: int) -> bytes:  # a PTY hands out at most ~4 KiB per read
            if fd == pty.fd:
                reads.append(fd)
                try:
                    return next(pieces)
                except StopIteration:
                    raise BlockingIOError from None
            return real(fd, n)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(os, "read", pty_like)
            shell._on_readable()
        assert viewer.offers == [first + second]  # a full read is followed by another
    finally:
        shell._stop_reading()
        pty.close()


def _agent_env(tmp_path: Path, loop: str) -> dict[str, str]:
    return {
        "CLARATEACH_AGENT_WORKSHOP_ID": "w1",
        "CLARATEACH_AGENT_SEATS": "1",
        "CLARATEACH_AGENT_STATE_DIR": str(tmp_path),
        "CLARATEACH_AGENT_EVENT_LOOP": loop,
    }


@pytest.mark.parametrize(
    ("name", "is_kind"),
    [
        ("uvloop", lambda loop: isinstance(loop, uvloop.Loop)),
        ("asyncio", lambda loop: not isinstance(loop, uvloop.Loop)),
    ],
)
def test_the_agent_runs_on_the_configured_event_loop(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    is_kind: Callable[[asyncio.AbstractEventLoop], bool],
) -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def serve(settings: object) -> None:
        seen.append(asyncio.get_running_loop())

    for key, value in _agent_env(tmp_path, name).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(agent_main, "serve", serve)
    assert agent_main.main() == 0
    assert len(seen) == 1 and is_kind(seen[0])


def test_uvloop_is_the_default() -> None:
    from workspace_agent.settings import AgentSettings

    assert AgentSettings.from_env({}).event_loop == "uvloop"
