"""Fixtures: one private local platform (``clarateach local up`` as a child process, the
loadtest's own ``LocalPlatformProcess``) per module, with the fake Anthropic upstream on a
background event loop as its hosts' model upstream."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from clarateach.api_client import ApiClient
from clarateach.loadtest.local_target import FakeUpstream, LocalPlatformProcess


class BackgroundLoop:
    """An event loop in a daemon thread, for servers that sync tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def background() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def upstream(background: BackgroundLoop) -> Iterator[FakeUpstream]:
    fake = background.run(FakeUpstream().start())
    yield fake
    background.run(fake.stop())


@pytest.fixture(scope="module")
def platform(upstream: FakeUpstream) -> Iterator[LocalPlatformProcess]:
    process = LocalPlatformProcess(upstream.url)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def instructor(platform: LocalPlatformProcess) -> Iterator[ApiClient]:
    with ApiClient(platform.url, platform.token) as client:
        yield client
