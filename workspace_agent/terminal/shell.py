"""``buffered`` backend (the default): the agent owns each seat's shell PTY and fans it out.

The pattern of coder/coder's "buffered" reconnecting PTY, as an alternative to tmux in the
data path (which parses and re-renders every byte). Per seat, one ``SeatShell``:

* a login shell on a PTY the agent owns (the runtime's ``shell_command``: same clean
  environment, HOME, cwd and ``extra_env`` as the tmux backend; list argv; ``setsid --ctty``);
* an ``OutputRing`` of recent output (``RING_BYTES``) — what a (re)connecting viewer is
  replayed (terminal reset, then the ring) so its screen is restored;
* every attached ``FanoutViewer`` (learner tabs, read-only instructor) with a cursor into
  the ring. Input from any writable viewer goes to the one PTY; read-only input is dropped.

Flow control, several viewers (docs/protocol.md §3 and §5):
* each viewer keeps the §3 window/socket bound; a viewer that is ``blocked()`` simply stops
  advancing its cursor and later catches up from the ring;
* the PTY is read while *some* viewer can take live output, or while nobody is attached (the
  shell must keep running while the learner is away; the ring bounds memory). So the fastest
  viewer paces the shell: with one viewer this is exactly the tmux backend's behaviour
  (a stalled client stops PTY reads and the producer blocks), while a stalled tab among
  several never blocks the others;
* a viewer whose cursor falls out of the ring (more than ``RING_BYTES`` behind) is
  resynchronised: terminal reset, then the ring from a line boundary. Memory per seat is
  therefore bounded by the ring plus, per viewer, HIGH_WATER + one read.

Resize: last writable viewer wins (clamped by the caller); read-only viewers never resize.
Closing a socket never touches the shell. When the shell exits every viewer is closed
(1000 ``session_ended``) and the next attach starts a fresh shell with an empty ring.

Why it is the default: every output byte is read once, framed once and written once (tmux
parses and re-renders every byte, which alone costs more CPU than terminado's whole server;
see the README's terminal benchmark). The price: the shell is the agent's child, so an agent
restart (crash, upgrade) ends every seat's shell — the PTY master closes and the kernel hangs
the session up — whereas tmux sessions survive it (``CLARATEACH_AGENT_TERMINAL_BACKEND=tmux``).
Workspace files survive either way. ``stop`` hangs every shell up at graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import Protocol

from workspace_agent.runtimes.base import SeatRuntime
from workspace_agent.terminal.flow import READ_SIZE
from workspace_agent.terminal.pty import PtyProcess
from workspace_agent.terminal.ring import OutputRing

RING_BYTES = 512 * 1024
STOP_GRACE = 3.0  # seconds between SIGHUP and SIGKILL at shutdown


class FanoutTarget(Protocol):
    """What ``SeatShell`` needs from a viewer (implemented by ``fanout.FanoutViewer``)."""

    readonly: bool
    exited: asyncio.Event

    def start(self, shell: SeatShell) -> None:
        """Begin: replay the ring, then take live output."""

    def offer(self, offset: int, data: bytes) -> None:
        """Live output that starts at ring ``offset``; ignored unless caught up and able."""

    def wants_live(self) -> bool:
        """Caught up with the ring and able to take more right now."""


class SeatShell:
    """One seat's shell PTY, ring and viewers. ``on_ended`` runs once after the shell exits."""

    def __init__(
        self,
        pty_factory: Callable[[Callable[[], None]], PtyProcess],
        on_ended: Callable[[SeatShell], None],
        ring_bytes: int = RING_BYTES,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.ring = OutputRing(ring_bytes)
        self.viewers: list[FanoutTarget] = []
        self.alive = True
        self._on_ended = on_ended
        self._reading = False
        self._pending_input = b""
        self._input_drained: asyncio.Future[None] | None = None
        self.ended = asyncio.Event()
        self._pty = pty_factory(self._on_exit)
        self.update_reading()

    @property
    def pid(self) -> int:
        return self._pty.pid

    @property
    def pty_fd(self) -> int:
        """The PTY master (its foreground process group names what the learner runs)."""
        return self._pty.fd

    @property
    def reading(self) -> bool:
        return self._reading

    # -- viewers ---------------------------------------------------------------------------
    def attach(self, viewer: FanoutTarget) -> None:
        self.viewers.append(viewer)
        viewer.start(self)  # replays the ring, then takes live output
        self.update_reading()

    def detach(self, viewer: FanoutTarget) -> None:
        with contextlib.suppress(ValueError):
            self.viewers.remove(viewer)
        self.update_reading()

    def update_reading(self) -> None:
        """Read the PTY iff the shell is alive and nobody watches or someone can take more."""
        want = (
            self.alive
            and self._pty.fd >= 0  # not hung up by ``stop`` while the exit is pending
            and (not self.viewers or any(v.wants_live() for v in self.viewers))
        )
        if want and not self._reading:
            self._loop.add_reader(self._pty.fd, self._on_readable)
            self._reading = True
        elif not want and self._reading:
            self._stop_reading()

    def _stop_reading(self) -> None:
        if self._reading and self._pty.fd >= 0:
            self._loop.remove_reader(self._pty.fd)
        self._reading = False

    # -- output ----------------------------------------------------------------------------
    def _on_readable(self) -> None:
        # A PTY read returns at most ~4 KiB (the line discipline's buffer), so drain what is
        # already there (up to READ_SIZE) and publish it as one frame: bulk output costs one
        # socket write and one fan-out per 64 KiB instead of per 4 KiB. Interactive echo pays
        # one extra (EAGAIN) read.
        chunks: list[bytes] = []
        total = 0
        hung_up = False
        while total < READ_SIZE:
            try:
                data = os.read(self._pty.fd, READ_SIZE - total)
            except BlockingIOError:
                break
            except OSError:  # EIO: the shell's side hung up; the pidfd reports the exit
                data = b""
            if not data:
                hung_up = True
                break
            chunks.append(data)
            total += len(data)
        if chunks:
            self._publish(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if hung_up:
            self._stop_reading()
            return
        self.update_reading()

    def _publish(self, data: bytes) -> None:
        offset = self.ring.end
        self.ring.append(data)
        for viewer in self.viewers:
            viewer.offer(offset, data)

    # -- input -----------------------------------------------------------------------------
    async def write(self, data: bytes) -> None:
        """Queue keystrokes for the PTY; waits while the PTY cannot take more (so the caller
        stops reading its socket). Shared by all writable viewers, in arrival order."""
        if not self.alive:
            return
        self._pending_input += data
        self._flush_input()
        while self._pending_input and self.alive:
            if self._input_drained is None:
                self._input_drained = self._loop.create_future()
                self._loop.add_writer(self._pty.fd, self._flush_input)
            await asyncio.shield(self._input_drained)

    def _flush_input(self) -> None:
        if self.alive and self._pty.fd >= 0:
            try:
                written = os.write(self._pty.fd, self._pending_input)
                self._pending_input = self._pending_input[written:]
            except BlockingIOError:
                return
            except OSError:
                self._pending_input = b""
        else:
            self._pending_input = b""
        if not self._pending_input:
            self._input_done()

    def _input_done(self) -> None:
        if self._input_drained is not None:
            if self._pty.fd >= 0:
                self._loop.remove_writer(self._pty.fd)
            if not self._input_drained.done():
                self._input_drained.set_result(None)
            self._input_drained = None

    def resize(self, cols: int, rows: int) -> None:
        if self.alive:
            self._pty.resize(cols, rows)

    # -- lifecycle -------------------------------------------------------------------------
    def _on_exit(self) -> None:
        """The shell exited: deliver what it wrote last, close every viewer, forget it."""
        with contextlib.suppress(OSError):
            while self._pty.fd >= 0 and (data := os.read(self._pty.fd, READ_SIZE)):
                self._publish(data)
        self.alive = False
        self._stop_reading()
        self._pending_input = b""
        self._input_done()
        self._pty.close()
        for viewer in list(self.viewers):
            viewer.exited.set()  # the route closes the socket with 1000 session_ended
        self.ended.set()
        self._on_ended(self)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Hang the shell's session up; SIGKILL the process group after ``grace``."""
        if not self.alive:
            return
        pid = self._pty.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGHUP)  # setsid: the shell leads its own process group
        self._pty.close()
        try:
            await asyncio.wait_for(self.ended.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            await self.ended.wait()


class SeatShells:
    """The host's ``SeatShell``s, spawned on first attach and after a shell exits."""

    def __init__(self, runtime: SeatRuntime, ring_bytes: int = RING_BYTES) -> None:
        self._runtime = runtime
        self._ring_bytes = ring_bytes
        self._shells: dict[int, SeatShell] = {}

    def get(self, seat: int) -> SeatShell | None:
        return self._shells.get(seat)

    def attach(self, seat: int, viewer: FanoutTarget, cols: int, rows: int) -> SeatShell:
        """Attach ``viewer`` to ``seat``'s shell (started at ``cols`` x ``rows`` if needed;
        a writable viewer's size otherwise wins). Raises ``OSError`` if the shell cannot
        start."""
        shell = self._shells.get(seat)
        if shell is None or not shell.alive:
            command = self._runtime.shell_command(seat)
            shell = SeatShell(
                lambda on_exit: PtyProcess(command, cols, rows, on_exit=on_exit),
                self._forget,
                self._ring_bytes,
            )
            self._shells[seat] = shell
        elif not viewer.readonly:
            shell.resize(cols, rows)
        shell.attach(viewer)
        return shell

    def _forget(self, shell: SeatShell) -> None:
        for seat, known in list(self._shells.items()):
            if known is shell:
                del self._shells[seat]

    async def stop(self) -> None:
        """Hang up every shell (agent shutdown); returns once all have exited."""
        await asyncio.gather(*(s.stop() for s in list(self._shells.values())))
