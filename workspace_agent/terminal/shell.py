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
see the README's terminal benchmark).

Surviving agent restarts (``CLARATEACH_AGENT_SHELL_HOLDER``, on by default): the shells are
spawned by the host's terminal holder (``holder.py``), which keeps each PTY master and a
shared-memory ring (``shared_ring.py``) across agent restarts and passes both to the agent.
The agent still reads the PTY itself — one read into the (shared) ring and the sockets — so
the hot path is unchanged. A restarted agent adopts every live shell (same PID, job and
environment) with its ring, including what the holder drained while no agent was there.
At agent shutdown the shells are *released* (our descriptors closed; the holder keeps
them); the host's final stop is ``holder_client.stop_holder``. Without a holder (setting off
or the holder unreachable) the shell is the agent's child and an agent restart ends it;
``stop`` then hangs every shell up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from workspace_agent.activity import SeatActivity
from workspace_agent.logs import log_event
from workspace_agent.runtimes.base import SeatRuntime
from workspace_agent.terminal.flow import READ_SIZE
from workspace_agent.terminal.holder_client import HeldFds, HeldPty, HolderClient
from workspace_agent.terminal.pty import PtyProcess, session_members
from workspace_agent.terminal.ring import OutputRing, Ring
from workspace_agent.terminal.shared_ring import SharedRing

log = logging.getLogger("workspace_agent.terminal.shell")

RING_BYTES = 512 * 1024
#: A read shorter than this emptied the PTY (its buffer is larger): don't read again.
SHORT_READ = 1024
STOP_GRACE = 3.0  # seconds between SIGHUP and SIGKILL at shutdown


class ShellPty(Protocol):
    """``PtyProcess`` (the agent's own child) or ``HeldPty`` (held by the holder)."""

    fd: int

    @property
    def pid(self) -> int: ...

    def resize(self, cols: int, rows: int) -> None: ...

    def close(self) -> None: ...


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
        pty_factory: Callable[[Callable[[], None]], ShellPty],
        on_ended: Callable[[SeatShell], None],
        ring_bytes: int = RING_BYTES,
        ring: Ring | None = None,
        *,
        seat: int = 0,
        output_times: dict[int, float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        #: ``output_times[seat]`` is set to ``clock()`` on every PTY read (the cockpit's "last
        #: output", ``SeatActivity.last_output``): one store on the hot path, viewers or not.
        self._seat = seat
        self._output_times: dict[int, float] = {} if output_times is None else output_times
        self._clock = clock
        self.ring: Ring = ring if ring is not None else OutputRing(ring_bytes)
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
            if len(data) < SHORT_READ:  # echo, a prompt: the PTY is empty, skip the EAGAIN
                break
        if chunks:
            self._publish(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if hung_up:
            self._stop_reading()
            return
        self.update_reading()

    def _publish(self, data: bytes) -> None:
        self._output_times[self._seat] = self._clock()
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

    def release(self) -> None:
        """Agent shutdown with a holder: stop using the PTY; the shell keeps running there."""
        if not self.alive:
            return
        self.alive = False
        self._stop_reading()
        self._pending_input = b""
        self._input_done()
        self._pty.close()
        self.ended.set()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Agent shutdown: a held shell is released to the holder (it keeps running); the
        agent's own child is hung up (``hangup``)."""
        if not self.alive:
            return
        if isinstance(self._pty, HeldPty):
            self.release()
            return
        await self.hangup(grace)

    async def hangup(self, grace: float = STOP_GRACE) -> None:
        """End the shell itself, held or not (a seat reset, or shutdown without a holder):
        SIGHUP its whole session (the shell and the jobs it left running in other process
        groups), SIGKILL what is left after ``grace``; returns once the shell has exited. A
        held shell's exit comes back from the holder (``exited``), which ends its viewers as
        any exit does."""
        if not self.alive:
            return
        pid = self._pty.pid
        session = await asyncio.to_thread(session_members, pid)  # setsid: pid is the leader
        _signal_all(session, signal.SIGHUP)
        if not isinstance(self._pty, HeldPty):
            self._pty.close()
        try:
            await asyncio.wait_for(self.ended.wait(), grace)
        except TimeoutError:
            _signal_all(session, signal.SIGKILL)
            await self.ended.wait()
        left = await asyncio.to_thread(_still_alive, session - {pid}, grace)
        _signal_all(left, signal.SIGKILL)  # jobs that ignored the hang-up


class SeatShells:
    """The host's ``SeatShell``s, spawned on first attach and after a shell exits — by the
    terminal holder once ``connect_holder`` succeeded, else as the agent's children."""

    def __init__(
        self,
        runtime: SeatRuntime,
        ring_bytes: int = RING_BYTES,
        *,
        activity: SeatActivity | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``activity.last_output`` is kept current by every shell's PTY reads."""
        self._runtime = runtime
        self._ring_bytes = ring_bytes
        self._output_times: dict[int, float] = {} if activity is None else activity.last_output
        self._clock = clock
        self._shells: dict[int, SeatShell] = {}
        self._holder: HolderClient | None = None
        self._state_dir: Path | None = None

    @property
    def holder(self) -> HolderClient | None:
        return self._holder

    def get(self, seat: int) -> SeatShell | None:
        return self._shells.get(seat)

    async def connect_holder(self, state_dir: Path) -> int:
        """Connect to (or start) the host's terminal holder and adopt the shells it holds;
        returns how many. Raises ``OSError`` if no holder can be reached (the shells are then
        the agent's children for this agent's lifetime)."""
        holder = await asyncio.to_thread(HolderClient.connect, state_dir)
        try:
            adopted = holder.adopt()
        except BaseException:
            holder.close()
            raise
        self._holder = holder
        self._state_dir = state_dir  # from now on a lost holder is started again on demand
        holder.on_exited = self._on_held_exit
        holder.on_lost = self._on_holder_lost
        holder.watch()
        for held in adopted:
            self._shells[held.seat] = self._held_shell(held)
        log_event(log, "shells_adopted", count=len(adopted), pids=[h.pid for h in adopted])
        return len(adopted)

    def _held_shell(self, held: HeldFds) -> SeatShell:
        try:
            ring = SharedRing(held.ring_fd)
        except (OSError, ValueError):
            os.close(held.master)
            os.close(held.ring_fd)
            raise
        return SeatShell(
            lambda on_exit: HeldPty(held, on_exit),
            self._forget,
            ring=ring,
            **self._activity_args(held.seat),
        )

    def _activity_args(self, seat: int) -> dict[str, Any]:
        return {"seat": seat, "output_times": self._output_times, "clock": self._clock}

    def _on_held_exit(self, seat: int, pid: int) -> None:
        shell = self._shells.get(seat)
        if shell is not None and shell.pid == pid and isinstance(shell._pty, HeldPty):
            shell._pty.exited()

    def _on_holder_lost(self) -> None:
        """The holder died: so did (or will) its shells; end ours. The next attach starts a
        new holder."""
        log_event(log, "holder_lost", level=logging.ERROR)
        self._holder = None
        for shell in list(self._shells.values()):
            if isinstance(shell._pty, HeldPty):
                shell._pty.exited()

    def _spawn_held(self, seat: int, cols: int, rows: int) -> SeatShell | None:
        if self._holder is None and self._state_dir is not None:
            with contextlib.suppress(OSError):
                self._holder = HolderClient.connect(self._state_dir, timeout=5.0)
                self._holder.on_exited = self._on_held_exit
                self._holder.on_lost = self._on_holder_lost
                self._holder.adopt()  # nothing to adopt: a new holder
                self._holder.watch()
        if self._holder is None:
            return None
        command = self._runtime.shell_command(seat)
        try:
            held = self._holder.spawn(seat, command, cols, rows, self._ring_bytes)
        except OSError as exc:
            if self._holder is not None and not isinstance(exc, FileNotFoundError):
                log_event(log, "holder_spawn_failed", level=logging.ERROR, error=str(exc))
            raise
        return self._held_shell(held)

    def attach(self, seat: int, viewer: FanoutTarget, cols: int, rows: int) -> SeatShell:
        """Attach ``viewer`` to ``seat``'s shell (started at ``cols`` x ``rows`` if needed;
        a writable viewer's size otherwise wins). Raises ``OSError`` if the shell cannot
        start."""
        shell = self._shells.get(seat)
        if shell is None or not shell.alive:
            held = self._spawn_held(seat, cols, rows) if self._state_dir is not None else None
            if held is not None:
                shell = held
            else:
                command = self._runtime.shell_command(seat)
                shell = SeatShell(
                    lambda on_exit: PtyProcess(command, cols, rows, on_exit=on_exit),
                    self._forget,
                    self._ring_bytes,
                    **self._activity_args(seat),
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
        """Agent shutdown. Held shells are released to the holder (they keep running and the
        next agent adopts them); the agent's own children are hung up (returns once all have
        exited)."""
        await asyncio.gather(*(s.stop() for s in list(self._shells.values())))
        self._shells.clear()
        if self._holder is not None:
            self._holder.close()
            self._holder = None


def _signal_all(pids: set[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _still_alive(pids: set[int], within: float) -> set[int]:
    """Those of ``pids`` still running (not zombies) after waiting up to ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        alive = {pid for pid in pids if _running(pid)}
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"
