"""One WebSocket viewer of a seat: PTY output → binary frames, input/control ← the client.

Hot path (why it looks low-level): the PTY master is registered with ``loop.add_reader``;
each readiness callback does one ``os.read`` of up to 64 KiB and hands a complete WebSocket
binary frame to the transport in the same callback — no task, no coroutine, no JSON, no copy
into a queue. Server frames are unmasked and we never compress, so the frame is a 2-10 byte
header plus the bytes. Frames are whole ``transport.write`` calls on the loop thread, so they
never interleave with aiohttp's own frames (hello, pings, close).

Flow control (xterm.js model, docs/protocol.md §3): reading stops (``remove_reader``) while
``sent - acked > window`` or the transport's write buffer is above ``HIGH_WATER``; the PTY
then fills, tmux stops reading the pane, and the producer blocks in ``write``. Memory per
viewer is bounded by window + HIGH_WATER + one read, however slow the client.

State only moves forward: STARTING → LIVE → CLOSED.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import struct
from typing import Any

from aiohttp import web

from workspace_agent.terminal.pty import PtyProcess, clamp_size

READ_SIZE = 64 * 1024
HIGH_WATER = 256 * 1024  # transport bytes queued before we stop reading the PTY


class State(enum.Enum):
    STARTING = "starting"
    LIVE = "live"
    CLOSED = "closed"


def binary_frame(data: bytes) -> bytes:
    """An unmasked, final, binary WebSocket frame (RFC 6455 §5.2) carrying ``data``."""
    n = len(data)
    if n < 126:
        return bytes((0x82, n)) + data
    if n < 65536:
        return struct.pack("!BBH", 0x82, 126, n) + data
    return struct.pack("!BBQ", 0x82, 127, n) + data


class Viewer:
    """Pumps one PTY to one prepared WebSocket. Create, ``send_initial``, ``attach``, then
    feed client messages to ``on_binary``/``on_text``; ``close`` is idempotent."""

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        *,
        seat: int,
        readonly: bool,
        window: int,
    ) -> None:
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("client went away")
        self.seat = seat
        self.readonly = readonly
        self.window = window
        self.state = State.STARTING
        self.sent = 0
        self.acked = 0
        self._request = request
        self._ws = ws
        self._transport = transport
        # Make the protocol's pause/resume_writing (which _drain_helper waits on) fire exactly
        # at our bound, so "buffer above HIGH_WATER" always has a wake-up coming.
        transport.set_write_buffer_limits(high=HIGH_WATER, low=HIGH_WATER // 4)
        self._loop = asyncio.get_running_loop()
        self._pty: PtyProcess | None = None
        self._reading = False
        self._drain_task: asyncio.Task[None] | None = None
        self._input_drained: asyncio.Future[None] | None = None
        self._pending_input = b""
        self.exited = asyncio.Event()

    # -- output ----------------------------------------------------------------------------
    def send_output(self, data: bytes) -> None:
        """Frame ``data`` (counted against the window) straight onto the transport."""
        if not data or self._transport.is_closing():
            return
        for start in range(0, len(data), READ_SIZE):
            chunk = data[start : start + READ_SIZE]
            self.sent += len(chunk)
            self._transport.write(binary_frame(chunk))

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
        self.sent += len(data)
        self._transport.write(binary_frame(data))
        if self._over_window() or self._transport.get_write_buffer_size() > HIGH_WATER:
            self._pause()

    def _over_window(self) -> bool:
        return self.sent - self.acked > self.window

    def _pause(self) -> None:
        self._stop_reading()
        if self._transport.get_write_buffer_size() > HIGH_WATER and self._drain_task is None:
            # Only reached with the protocol paused (limits set in __init__): a wake-up comes.
            self._drain_task = asyncio.create_task(self._wait_drained())

    async def _wait_drained(self) -> None:
        try:
            # aiohttp's protocol resolves this when the transport calls resume_writing().
            await self._request.protocol._drain_helper()
        except (ConnectionResetError, RuntimeError):
            return
        finally:
            self._drain_task = None
        self._resume()

    def _resume(self) -> None:
        if self.state is not State.LIVE or self._reading or self._pty is None:
            return
        if self._over_window() or self._transport.get_write_buffer_size() > HIGH_WATER:
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

    def on_text(self, text: str) -> None:
        """Control messages; anything malformed is ignored without a reply."""
        try:
            message: Any = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "ack":
            n = message.get("bytes")
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                self.acked = min(self.sent, self.acked + n)
                self._resume()
        elif kind == "resize" and self._pty is not None:
            size = clamp_size(message.get("cols"), message.get("rows"))
            if size is not None:
                self._pty.resize(*size)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Detach this viewer; the seat's shell keeps running."""
        if self.state is State.CLOSED:
            return
        self._stop_reading()
        self.state = State.CLOSED
        if self._drain_task is not None:
            self._drain_task.cancel()
        if self._input_drained is not None and not self._input_drained.done():
            self._input_drained.set_result(None)
        if self._pty is not None:
            self._pty.close()
        self.exited.set()

    async def close_socket(self, code: int, message: str) -> None:
        """Tell the client why (error frame) and close with ``code``."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            if not self._ws.closed:
                error = {"type": "error", "code": message, "message": message}
                await self._ws.send_str(json.dumps(error))
                await self._ws.close(code=code, message=message.encode()[:120])
        self.close()
