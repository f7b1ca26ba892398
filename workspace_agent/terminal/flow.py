"""The WebSocket half of a terminal viewer, shared by both backends: frames, window, drain.

A ``ViewerSocket`` owns one prepared WebSocket and its flow-control state (docs/protocol.md
§3, the xterm.js model): ``sent``/``acked`` byte counters against ``window``, and the
transport's write buffer bounded by ``HIGH_WATER``. Output is written as whole binary frames
straight onto the transport from the loop thread (no task, no queue, no copy), so frames never
interleave with aiohttp's own (hello, pings, close).

Subclasses decide where output comes from and where input goes:
* ``_resume()`` — called when the client acks or the transport drains: produce more output if
  ``blocked()`` is now False;
* ``_on_resize(cols, rows)`` — a valid, clamped resize request;
* ``on_binary(data)`` — keystrokes (subclasses ignore them for read-only viewers);
* ``_detach()`` — release the source on ``close`` (never kills the seat's shell);
* ``output_paused`` — whether the PTY feeding this viewer is currently not being read.

State only moves forward: STARTING → LIVE → CLOSED.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import json
import struct
from collections.abc import Callable
from typing import Any

from aiohttp import web

from workspace_agent.terminal.pty import clamp_size

READ_SIZE = 64 * 1024
HIGH_WATER = 256 * 1024  # transport bytes queued before a viewer stops taking output


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


class ViewerSocket(abc.ABC):
    """One viewer's socket. ``close`` is idempotent; ``exited`` is set when the source ends."""

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
        self._drain_task: asyncio.Task[None] | None = None
        self.exited = asyncio.Event()
        #: Called on each live output read of a viewer that reads its own PTY (tmux backend:
        #: the cockpit's "last output"); set by the route. Replays are not output.
        self.on_output: Callable[[], None] | None = None

    # -- output ----------------------------------------------------------------------------
    def send_output(self, data: bytes) -> None:
        """Frame ``data`` (counted against the window) straight onto the transport."""
        if not data or self._transport.is_closing():
            return
        for start in range(0, len(data), READ_SIZE):
            chunk = data[start : start + READ_SIZE]
            self.sent += len(chunk)
            self._transport.write(binary_frame(chunk))

    def _over_window(self) -> bool:
        return self.sent - self.acked > self.window

    def blocked(self) -> bool:
        """True while this viewer must not be given more output (window or socket full)."""
        return self._over_window() or self._transport.get_write_buffer_size() > HIGH_WATER

    def _wait_for_drain(self) -> None:
        """If the socket (not the window) is what blocks, call ``_resume`` once it drains."""
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

    @property
    @abc.abstractmethod
    def output_paused(self) -> bool:
        """True while no output is being read for this viewer (tests and benchmarks)."""

    @abc.abstractmethod
    def _resume(self) -> None: ...

    # -- input -----------------------------------------------------------------------------
    @abc.abstractmethod
    async def on_binary(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def _on_resize(self, cols: int, rows: int) -> None: ...

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
        elif kind == "resize":
            size = clamp_size(message.get("cols"), message.get("rows"))
            if size is not None:
                self._on_resize(*size)

    # -- lifecycle -------------------------------------------------------------------------
    @abc.abstractmethod
    def _detach(self) -> None: ...

    def close(self) -> None:
        """Detach this viewer; the seat's shell keeps running."""
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        if self._drain_task is not None:
            self._drain_task.cancel()
        self._detach()
        self.exited.set()

    async def close_socket(self, code: int, message: str) -> None:
        """Tell the client why (error frame) and close with ``code``."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            if not self._ws.closed:
                error = {"type": "error", "code": message, "message": message}
                await self._ws.send_str(json.dumps(error))
                await self._ws.close(code=code, message=message.encode()[:120])
        self.close()
