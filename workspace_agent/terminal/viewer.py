"""tmux backend: one viewer = one WebSocket + its own ``tmux attach`` client on its own PTY.

Hot path (why it looks low-level): the PTY master is registered with ``loop.add_reader``;
each readiness callback does one ``os.read`` of up to 64 KiB and hands a complete WebSocket
binary frame to the transport in the same callback (see ``flow.ViewerSocket``).

Flow control (docs/protocol.md §3): reading stops (``remove_reader``) while the viewer is
``blocked()`` (window or socket full); the PTY then fills, tmux stops reading the pane, and
the producer blocks in ``write``. Memory per viewer is bounded by window + HIGH_WATER + one
read, however slow the client.
"""

from __future__ import annotations

import asyncio
import os

from aiohttp import web

from workspace_agent.terminal.flow import (
    HIGH_WATER,
    READ_SIZE,
    State,
    ViewerSocket,
    binary_frame,
)
from workspace_agent.terminal.pty import PtyProcess

__all__ = ["HIGH_WATER", "READ_SIZE", "State", "Viewer", "binary_frame"]


class Viewer(ViewerSocket):
    """Pumps one attach PTY to one prepared WebSocket. Create, ``send_output`` the scrollback,
    ``attach``, then feed client messages to ``on_binary``/``on_text``."""

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
        self._pty: PtyProcess | None = None
        self._reading = False
        self._input_drained: asyncio.Future[None] | None = None
        self._pending_input = b""

    @property
    def output_paused(self) -> bool:
        """True while no output is being read for this viewer (tests and benchmarks)."""
        return not self._reading

    # -- output ----------------------------------------------------------------------------
    def attach(self, pty: PtyProcess) -> None:
        self._pty = pty
        self.state = State.LIVE
        self._resume()

    def _on_readable(self) -> None:
        pty = self._pty
        if pty is None:
            return
        try:
            data = os.read(pty.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: the attach process is gone (session ended or hung up)
            data = b""
        if not data:
            self._stop_reading()
            self.exited.set()
            return
        if self._transport.is_closing():
            self._stop_reading()
            return
        if self.on_output is not None:
            self.on_output()
        self.sent += len(data)
        self._transport.write(binary_frame(data))
        if self.blocked():
            self._stop_reading()
            self._wait_for_drain()

    def _resume(self) -> None:
        if self.state is not State.LIVE or self._reading or self._pty is None:
            return
        if self.blocked():
            return
        self._loop.add_reader(self._pty.fd, self._on_readable)
        self._reading = True

    def _stop_reading(self) -> None:
        if self._reading and self._pty is not None and self._pty.fd >= 0:
            self._loop.remove_reader(self._pty.fd)
        self._reading = False

    # -- input -----------------------------------------------------------------------------
    async def on_binary(self, data: bytes) -> None:
        """Keystrokes. Ignored for read-only viewers. Waits (so the socket stops being read)
        while the PTY cannot take more input: a pasted flood is held to one message (≤ 64 KiB)
        plus what the kernel buffers."""
        if self.readonly or self._pty is None or self.state is not State.LIVE:
            return
        self._pending_input += data
        self._flush_input()
        while self._pending_input and self.state is State.LIVE and self._pty.fd >= 0:
            self._input_drained = self._loop.create_future()
            self._loop.add_writer(self._pty.fd, self._flush_input)
            try:
                await self._input_drained
            finally:
                self._input_drained = None

    def _flush_input(self) -> None:
        pty = self._pty
        if pty is None or pty.fd < 0:
            self._pending_input = b""
        else:
            try:
                written = os.write(pty.fd, self._pending_input)
                self._pending_input = self._pending_input[written:]
            except BlockingIOError:
                return
            except OSError:
                self._pending_input = b""
        if not self._pending_input:
            if pty is not None and pty.fd >= 0:
                self._loop.remove_writer(pty.fd)
            if self._input_drained is not None and not self._input_drained.done():
                self._input_drained.set_result(None)

    def _on_resize(self, cols: int, rows: int) -> None:
        # Each viewer owns its attach client; tmux applies the size (ignore-size for shadows).
        if self._pty is not None:
            self._pty.resize(cols, rows)

    # -- lifecycle -------------------------------------------------------------------------
    def _detach(self) -> None:
        self._stop_reading()
        if self._input_drained is not None and not self._input_drained.done():
            self._input_drained.set_result(None)
        if self._pty is not None:
            self._pty.close()
