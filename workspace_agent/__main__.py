"""``python -m workspace_agent``: run one agent with settings from the environment (§5).

Binds first (port 0 = a free port) so the public URL is known before the app starts, writes
``<state>/agent-endpoint`` and prints ``CLARATEACH_AGENT_LISTENING <url>`` once serving.
SIGTERM/SIGINT → graceful stop: terminals close with 1001, then every seat's shell is hung up
(``tmux`` backend, local runtime: every seat's tmux server is killed), so a stopped local
platform leaves no learner process behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import sys

from aiohttp import web

from workspace_agent.app import create_app
from workspace_agent.logs import configure, log_event, set_context
from workspace_agent.settings import AgentSettings

log = logging.getLogger("workspace_agent")


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.create_server((host, port), reuse_port=False)
    sock.setblocking(False)
    return sock


async def serve(settings: AgentSettings) -> None:
    sock = _bind(settings.bind, settings.port)
    port = sock.getsockname()[1]
    public_url = settings.public_url or f"http://127.0.0.1:{port}"
    settings = dataclasses.replace(settings, port=port, public_url=public_url)
    settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    runner = web.AppRunner(create_app(settings), handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        _announce(settings, public_url)
        log_event(log, "agent_listening", url=public_url, pid=os.getpid())
        await stop.wait()
        log_event(log, "agent_stopping")
    finally:
        await runner.cleanup()
        log_event(log, "agent_stopped")


def _announce(settings: AgentSettings, url: str) -> None:
    marker = settings.state_dir / "agent-endpoint"
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(url + "\n")
    tmp.replace(marker)
    print(f"CLARATEACH_AGENT_LISTENING {url}", flush=True)


def main() -> int:
    configure()
    try:
        settings = AgentSettings.from_env()
    except ValueError as exc:
        print(f"workspace_agent: configuration error: {exc}", file=sys.stderr)
        return 2
    set_context(workshop_id=settings.workshop_id, host=settings.host_index)
    if settings.event_loop == "uvloop":
        import uvloop

        uvloop.run(serve(settings))
    else:
        asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
