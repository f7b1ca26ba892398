"""A test-side terminal client speaking docs/protocol.md §3 (acks like xterm.js)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from workspace_agent.auth import TERMINAL_SUBPROTOCOL

SCAN_OVERLAP = 4096  # bytes re-scanned by read_until: longer than any awaited pattern


def subprotocols(token: str | None) -> list[str]:
    return [TERMINAL_SUBPROTOCOL] + ([f"bearer.{token}"] if token else [])


class Terminal:
    """One viewer: collects output, acks it, and exposes the hello and close code."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.output = bytearray()
        self.hello: dict[str, Any] = {}
        self.controls: list[dict[str, Any]] = []
        self.ack_every = 16 * 1024
        self._unacked = 0

    @classmethod
    async def open(
        cls, client: TestClient[Any, Any], seat: int, token: str | None, **kw: Any
    ) -> Terminal:
        ws = await client.ws_connect(f"/seats/{seat}/terminal", protocols=subprotocols(token), **kw)
        return await cls._after_upgrade(ws)

    @classmethod
    async def open_url(
        cls, session: aiohttp.ClientSession, endpoint: str, seat: int, token: str
    ) -> Terminal:
        """A seat's terminal on a running agent at ``endpoint`` (its base URL)."""
        ws = await session.ws_connect(
            f"{endpoint}/seats/{seat}/terminal", protocols=subprotocols(token)
        )
        return await cls._after_upgrade(ws)

    @classmethod
    async def _after_upgrade(cls, ws: aiohttp.ClientWebSocketResponse) -> Terminal:
        term = cls(ws)
        message = await ws.receive(timeout=10)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        term.hello = json.loads(message.data)
        return term

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    async def type(self, text: str) -> None:
        await self.ws.send_bytes(text.encode())

    async def resize(self, cols: int, rows: int) -> None:
        await self.ws.send_str(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    async def pump(self, timeout: float) -> bool:
        """Receive one message; False once the socket is closed."""
        message = await self.ws.receive(timeout=timeout)
        if message.type is aiohttp.WSMsgType.BINARY:
            self.output += message.data
            self._unacked += len(message.data)
            if self._unacked >= self.ack_every:
                await self.ack()
            return True
        if message.type is aiohttp.WSMsgType.TEXT:
            self.controls.append(json.loads(message.data))
            return True
        return False

    async def ack(self) -> None:
        if self._unacked:
            await self.ws.send_str(json.dumps({"type": "ack", "bytes": self._unacked}))
            self._unacked = 0

    async def read_until(
        self, pattern: str, timeout: float = 10.0, since: int = 0
    ) -> re.Match[str]:
        """Pump (and ack) until ``pattern`` appears in the output after byte ``since``."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        scan_from = since
        while True:
            # Only new output (plus an overlap for a match split across frames) is decoded:
            # a raw multi-megabyte burst must not make this quadratic.
            found = regex.search(self.output[scan_from:].decode("utf-8", "replace"))
            if found:
                await self.ack()
                return found
            scan_from = max(since, len(self.output) - SCAN_OVERLAP)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; tail: {self.text[-800:]!r}")
            try:
                if not await self.pump(left):
                    raise AssertionError(f"closed before {pattern!r}; tail: {self.text[-800:]!r}")
            except TimeoutError:
                continue

    async def close(self) -> None:
        await self.ws.close()
