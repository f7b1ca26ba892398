"""``buffered`` backend: one viewer of a ``SeatShell``, reading the shell's ring by cursor.

Live path: ``SeatShell`` reads the PTY once and ``offer``s the bytes to every viewer; a viewer
that is caught up (cursor at the offer's offset) and not ``blocked()`` frames them straight
onto its transport. Anything else leaves the cursor behind, and ``_resume`` (ack or socket
drain) catches up from the ring with frames of at most ``READ_SIZE``. A cursor the ring has
already overwritten is resynchronised: ``RESET`` (RIS, so xterm.js drops a half-drawn screen
and modes), then the ring from ``replay_start()``. A new viewer starts exactly like that,
which is how a reconnect restores the screen.
"""

from __future__ import annotations

from aiohttp import web

from workspace_agent.terminal.flow import READ_SIZE, State, ViewerSocket, binary_frame
from workspace_agent.terminal.shell import SeatShell

RESET = b"\x1bc"  # RIS: full terminal reset before a replay


class FanoutViewer(ViewerSocket):
    """Create, ``SeatShells.attach`` it (which calls ``start``), feed client messages."""

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        *,
        seat: int,
        readonly: bool,
        window: int,
    ) -> None:
        super().__init__(request, ws, seat=seat, readonly=readonly, window=window)
        self._shell: SeatShell | None = None
        self.cursor = 0
        self.resyncs = 0  # times this viewer fell out of the ring (tests, logs)

    @property
    def output_paused(self) -> bool:
        """True while the shell's PTY is not being read (tests and benchmarks)."""
        return self._shell is None or not self._shell.reading

    # -- output ----------------------------------------------------------------------------
    def start(self, shell: SeatShell) -> None:
        self._shell = shell
        self.state = State.LIVE
        self.cursor = shell.ring.replay_start()
        if len(shell.ring):
            self.send_output(RESET)
        self._catch_up()

    def offer(self, offset: int, data: bytes) -> None:
        if self.state is not State.LIVE or self.cursor != offset or self.blocked():
            return
        if self._transport.is_closing():
            return
        self.cursor += len(data)
        self.sent += len(data)
        self._transport.write(binary_frame(data))
        if self.blocked():
            self._wait_for_drain()

    def wants_live(self) -> bool:
        shell = self._shell
        return (
            self.state is State.LIVE
            and shell is not None
            and self.cursor == shell.ring.end
            and not self.blocked()
        )

    def _catch_up(self) -> None:
        """Send ring bytes from the cursor while the window and socket allow."""
        shell = self._shell
        if shell is None:
            return
        ring = shell.ring
        while self.state is State.LIVE and self.cursor < ring.end and not self.blocked():
            if self._transport.is_closing():
                return
            if self.cursor < ring.start:  # overwritten while we were blocked: resync
                self.resyncs += 1
                self.send_output(RESET)
                self.cursor = ring.replay_start()
                continue
            chunk = ring.read(self.cursor, READ_SIZE)
            self.cursor += len(chunk)
            self.sent += len(chunk)
            self._transport.write(binary_frame(chunk))
        if self.blocked():
            self._wait_for_drain()

    def _resume(self) -> None:
        if self.state is not State.LIVE or self._shell is None:
            return
        self._catch_up()
        self._shell.update_reading()

    # -- input -----------------------------------------------------------------------------
    async def on_binary(self, data: bytes) -> None:
        """Keystrokes to the shared PTY; dropped for read-only viewers."""
        if self.readonly or self._shell is None or self.state is not State.LIVE:
            return
        await self._shell.write(data)

    def _on_resize(self, cols: int, rows: int) -> None:
        if not self.readonly and self._shell is not None:
            self._shell.resize(cols, rows)  # last writer wins

    # -- lifecycle -------------------------------------------------------------------------
    def _detach(self) -> None:
        if self._shell is not None:
            self._shell.detach(self)
