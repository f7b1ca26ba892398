"""``SlowAgent``: the named failure mode "every byte from the workspace agent arrives late".

A loopback TCP proxy in front of a real agent that holds each chunk the agent sends for
``delay`` seconds before passing it on (order kept; bytes towards the agent are not delayed).
It stands for an overloaded or far-away host: echo, first output and code → prompt must all
grow by the delay, and the loadtest verdict must fail. Use ``rewrite`` as the loadtest's
endpoint rewrite so learners reach the agent through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import urlsplit


class SlowAgent:
    def __init__(self, agent_endpoint: str, delay: float) -> None:
        parts = urlsplit(agent_endpoint)
        self.agent_host, self.agent_port = parts.hostname or "127.0.0.1", int(parts.port or 80)
        self.agent_endpoint = agent_endpoint.rstrip("/")
        self.delay = delay
        self.url = ""
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> SlowAgent:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def rewrite(self, url: str) -> str:
        """The agent's URL (or one under it) → the same URL through this proxy."""
        if url.rstrip("/").startswith(self.agent_endpoint):
            return self.url + url.rstrip("/")[len(self.agent_endpoint) :]
        return url

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.agent_host, self.agent_port)
        except OSError:
            writer.close()
            return
        tasks = [
            asyncio.create_task(_pipe(reader, up_writer, 0.0)),
            asyncio.create_task(_pipe(up_reader, writer, self.delay)),
        ]
        self._tasks.update(tasks)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.difference_update(tasks)
        for w in (writer, up_writer):
            w.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # the injected delay itself
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            chunk = await reader.read(65536)
            await queue.put((time.monotonic() + delay, chunk))
            if not chunk:
                break
        await sender
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
