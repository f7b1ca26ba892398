"""A real API server for CLI tests: the local platform's aiohttp app on a free port, in a thread.

The HTTP layer, router, services, SQLite store and secrets are the production ones. Only the
provisioner is stood in for by ``ScriptedProvisionerBus``, which applies what the real
provisioner would decide (``running`` with every host ready, or ``failed`` with a reason) so
CLI tests do not spawn agents.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web

from clarateach.local_app import create_app
from shared.bootstrap import Platform, bootstrap
from shared.domain.events import WORKSHOP_START_REQUESTED, WORKSHOP_STOP_REQUESTED, Event
from shared.domain.model import HostStatus, Workshop, WorkshopStatus
from shared.ports.event_bus import EventBus
from shared.settings import Settings
from tests.support.fakes import MemorySecrets, NullCompute
from tests.support.net import free_port

S = WorkshopStatus


class ScriptedProvisionerBus(EventBus):
    """Plays the provisioner: a start makes the workshop ``running`` (or ``failed`` with
    ``fail_reason``), a stop makes it ``stopped``. Runs in a thread, like a push delivery."""

    def __init__(self, fail_reason: str | None = None) -> None:
        self.fail_reason = fail_reason
        self.platform: Platform | None = None
        self.published: list[Event] = []
        self._threads: list[threading.Thread] = []

    def publish(self, event: Event) -> str:
        self.published.append(event)
        thread = threading.Thread(target=self._apply, args=(event,), daemon=True)
        self._threads.append(thread)
        thread.start()
        return event.id

    def _apply(self, event: Event) -> None:
        assert self.platform is not None
        store = self.platform.store
        if event.type == WORKSHOP_START_REQUESTED:
            if self.fail_reason:
                store.transition(
                    event.workshop_id, S.PROVISIONING, S.FAILED, error=self.fail_reason
                )
            else:
                store.update_workshop(event.workshop_id, _all_ready)
        elif event.type == WORKSHOP_STOP_REQUESTED:
            store.transition(event.workshop_id, S.STOPPING, S.STOPPED)

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=5)


def _all_ready(current: Workshop) -> Workshop:
    hosts = tuple(
        replace(h, status=HostStatus.READY, endpoint=f"http://127.0.0.1:{9000 + h.index}")
        for h in current.hosts
    )
    return replace(current, status=S.RUNNING, hosts=hosts)


@dataclass(frozen=True)
class ApiServer:
    url: str
    token: str
    state_dir: Path
    platform: Platform


@contextmanager
def run_api_server(state_dir: Path, bus: ScriptedProvisionerBus) -> Iterator[ApiServer]:
    """Serve ``create_app(platform)`` on ``127.0.0.1:<free port>`` until the block exits."""
    from shared.auth.instructor import ensure_admin_token

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(mode="local", state_dir=state_dir, public_api_url=url)
    platform = bootstrap(settings, bus=bus, compute=NullCompute(), secrets=MemorySecrets())
    bus.platform = platform
    token = ensure_admin_token(settings)
    started = threading.Event()
    loop = asyncio.new_event_loop()
    web_dir = state_dir.parent / "web"
    web_dir.mkdir(exist_ok=True)
    (web_dir / "index.html").write_text("<!doctype html><title>ClaraTeach</title>")
    runner = web.AppRunner(create_app(platform, web_dir), access_log=None)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="api-server", daemon=True)
    thread.start()
    if not started.wait(timeout=10):
        raise RuntimeError("API server did not start")
    try:
        yield ApiServer(url, token, state_dir, platform)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        platform.close()
