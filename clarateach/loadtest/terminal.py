"""A learner's terminal WebSocket, spoken like the web client (web/src/terminal/connection.ts).

docs/protocol.md section 3: the learner JWT is offered as the ``bearer.<JWT>`` subprotocol
next to ``clarateach.terminal.v1`` (never in the URL), the page's ``Origin`` is sent, the
first text frame is the ``hello``, binary frames are output, and output is acknowledged with
``{"type": "ack", "bytes": N}`` in batches (every 16 KiB, or 20 ms after the first unacked
byte, like ``AckBatcher``), so the agent's flow-control window keeps moving.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp

SUBPROTOCOL = "clarateach.terminal.v1"
ACK_BYTES = 16 * 1024
ACK_DELAY_S = 0.02
#: Output kept for pattern matching (prompts and markers are short and recent).
TAIL_BYTES = 8 * 1024
#: ANSI escape sequences (CSI, OSC, two-byte ESC x), stripped before matching.
ANSI_RE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


class TerminalRefused(Exception):
    """The upgrade was refused (``status``) or the agent could not be reached (``status=0``)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class TerminalClosed(Exception):
    """The socket closed while we waited for output."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"terminal closed ({code})")
        self.code = code


OutputHook = Callable[[bytes, float], None]


class Terminal:
    """One open terminal: a reader task collects (and acks) output; ``wait_for`` matches it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, hello: dict[str, Any]) -> None:
        self.ws = ws
        self.hello = hello
        self.first_output_at: float | None = None
        self.received = 0
        self.on_output: OutputHook | None = None
        self._tail = b""
        self._unacked = 0
        self._ack_timer: asyncio.TimerHandle | None = None
        self._changed = asyncio.Event()
        self._closed_code: int | None = None
        self._closed = False
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        endpoint: str,
        seat: int,
        token: str,
        origin: str,
        *,
        timeout: float,
        cols: int = 80,
        rows: int = 24,
    ) -> Terminal:
        url = f"{endpoint.rstrip('/')}/seats/{seat}/terminal?cols={cols}&rows={rows}"
        try:
            ws = await session.ws_connect(
                url,
                protocols=[SUBPROTOCOL, f"bearer.{token}"],
                headers={"Origin": origin},
                autoping=True,
                max_msg_size=0,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise TerminalRefused(exc.status, f"HTTP {exc.status}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise TerminalRefused(0, type(exc).__name__) from None
        try:
            first = await ws.receive(timeout=timeout)
        except TimeoutError:
            await ws.close()
            raise TerminalRefused(0, "no hello") from None
        if first.type is not aiohttp.WSMsgType.TEXT:
            await ws.close()
            raise TerminalClosed(ws.close_code)
        return cls(ws, json.loads(first.data))

    # ---------------------------------------------------------------- output
    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type is aiohttp.WSMsgType.BINARY:
                    self._output(message.data)
                elif message.type is aiohttp.WSMsgType.ERROR:
                    break
        finally:
            self._closed = True
            self._closed_code = self.ws.close_code
            self._changed.set()

    def _output(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.first_output_at is None:
            self.first_output_at = now
        self.received += len(data)
        self._tail = (self._tail + data)[-TAIL_BYTES:]
        if self.on_output is not None:
            self.on_output(data, now)
        self._unacked += len(data)
        if self._unacked >= ACK_BYTES:
            self._send_ack()
        elif self._ack_timer is None:
            self._ack_timer = asyncio.get_running_loop().call_later(ACK_DELAY_S, self._send_ack)
        self._changed.set()

    def _send_ack(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        if self._unacked and not self.ws.closed:
            bytes_, self._unacked = self._unacked, 0
            asyncio.get_running_loop().create_task(
                self.ws.send_str(json.dumps({"type": "ack", "bytes": bytes_}))
            )

    def mark(self) -> int:
        """Forget the output so far for matching; ``wait_for`` then sees only newer output."""
        self._tail = b""
        return self.received

    async def wait_for(self, pattern: re.Pattern[bytes], timeout: float) -> re.Match[bytes]:
        """The first match of ``pattern`` in the (ANSI-stripped) output since ``mark()``."""
        deadline = time.monotonic() + timeout
        while True:
            found = pattern.search(ANSI_RE.sub(b"", self._tail))
            if found:
                return found
            if self._closed:
                raise TerminalClosed(self._closed_code)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(pattern.pattern)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                continue

    async def wait_output(self, timeout: float) -> None:
        """Return once more output arrived, the socket closed, or ``timeout`` passed."""
        before = self.received
        self._changed.clear()
        if self.received != before or self._closed or timeout <= 0:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return

    # ----------------------------------------------------------------- input
    async def send(self, data: bytes) -> None:
        if self._closed:
            raise TerminalClosed(self._closed_code)
        await self.ws.send_bytes(data)

    async def close(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
        if not self.ws.closed:
            await self.ws.close(code=1000, message=b"loadtest done")
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
