"""The agent's composition root: ``create_app(settings) -> web.Application``.

Every long-lived resource is owned by a ``cleanup_ctx`` (registered in start order, torn down
in reverse): the JWKS key store, the model gateway (when installed), the seat runtime with the
readiness/announcement task (and, with the buffered terminal backend, the seats' shells),
and the terminal viewers (closed with 1001 on shutdown).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.content import Pack
from shared.ports.event_bus import EventBus
from workspace_agent import files, health, terminal
from workspace_agent.activity import SeatActivity, notices_store
from workspace_agent.activity import routes as activity_routes
from workspace_agent.activity.room import RoomNotices
from workspace_agent.activity.room import routes as room_routes
from workspace_agent.auth import Authenticator, KeyStore
from workspace_agent.content.routes import routes as guide_routes
from workspace_agent.content.service import CONTENT, ContentSlot, SeatContent
from workspace_agent.content_fetch import fetch_content
from workspace_agent.context import CONTEXT, AgentContext
from workspace_agent.cors import cors_middleware, cors_on_prepare
from workspace_agent.errors import error_middleware
from workspace_agent.files.routes import routes as file_routes
from workspace_agent.health import routes as health_routes
from workspace_agent.logs import log_event
from workspace_agent.preview import PREVIEW, setup_preview
from workspace_agent.readiness import (
    Readiness,
    bring_up_seats,
    host_failed_event,
    host_ready_event,
    publish_until_acknowledged,
)
from workspace_agent.runtimes import SeatRuntime, runtime_for
from workspace_agent.schedule.routes import routes as schedule_routes
from workspace_agent.schedule.state import SCHEDULE, agent_schedule
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.registry import ViewerRegistry
from workspace_agent.terminal.routes import routes as terminal_routes
from workspace_agent.terminal.shell import SeatShells
from workspace_agent.watch.routes import setup_watch

log = logging.getLogger("workspace_agent")

GATEWAY_MODULE = "workspace_agent.gateway"
GATEWAY = web.AppKey("gateway", object)
BUS = web.AppKey("event_bus", object)
MAX_REQUEST_BODY = 64 * 1024  # JSON bodies; file bodies are streamed and limited separately

__all__ = ["CONTEXT", "create_app", "files", "health", "terminal"]


def create_app(
    settings: AgentSettings,
    *,
    runtime: SeatRuntime | None = None,
    keys: Mapping[str, rsa.RSAPublicKey] | None = None,
    clock: Callable[[], float] | None = None,
    bus: EventBus | None = None,
) -> web.Application:
    """Build the agent. ``keys`` replaces JWKS fetching, ``bus`` the configured event bus,
    ``runtime`` the one named in settings; ``clock`` (seconds since the epoch) drives token
    time checks."""
    settings.validate()
    now = clock or time.time
    key_store = KeyStore(settings.jwks_url, keys)
    seat_runtime = runtime or runtime_for(settings)
    activity = SeatActivity()
    buffered = settings.terminal_backend == "buffered"
    ctx = AgentContext(
        settings=settings,
        keys=key_store,
        auth=Authenticator(settings, key_store, now),
        runtime=seat_runtime,
        registry=ViewerRegistry(
            per_seat=settings.max_viewers_per_seat, per_host=settings.max_viewers_per_host
        ),
        readiness=Readiness(settings.seats),
        clock=now,
        shells=SeatShells(seat_runtime, activity=activity, clock=now) if buffered else None,
        activity=activity,
        notices=RoomNotices.stored_in(settings.state_dir / notices_store.FILE_NAME),
    )
    app = web.Application(client_max_size=MAX_REQUEST_BODY)
    # The app preview's Host dispatch runs first: a preview origin never reaches a route below.
    app.middlewares.extend(
        [setup_preview(app, ctx), cors_middleware(settings.allowed_origins), error_middleware]
    )
    app[CONTEXT] = ctx
    app[BUS] = bus
    previews = app[PREVIEW].origins
    app.on_response_prepare.append(
        cors_on_prepare(settings.allowed_origins, lambda r: previews.is_preview_host(r.host))
    )
    app.add_routes(health_routes)
    app.add_routes(terminal_routes)
    app.add_routes(file_routes)
    app[SCHEDULE] = agent_schedule(settings)
    app.add_routes(schedule_routes)
    setup_watch(app)
    app.add_routes(activity_routes)
    app.add_routes(room_routes)

    app.cleanup_ctx.append(_keys_ctx)
    gateway = _setup_gateway(app, settings, ctx.auth)
    app[GATEWAY] = gateway
    app[CONTENT] = ContentSlot()  # filled once the pack is fetched, before the seats start
    app.add_routes(guide_routes)
    app.cleanup_ctx.append(_seats_ctx)
    app.cleanup_ctx.append(_viewers_ctx)
    app.on_shutdown.append(close_terminals_on_shutdown)
    return app


def _setup_gateway(app: web.Application, settings: AgentSettings, auth: Authenticator) -> Any:
    """Mount the model gateway if enabled and installed (it is optional for this package).

    Its ``/control/*`` routes use this agent's instructor check; its ``seat_env(seat)`` feeds
    each seat's environment (``ANTHROPIC_BASE_URL``, ``ANTHROPIC_AUTH_TOKEN``)."""
    if not settings.gateway or importlib.util.find_spec(GATEWAY_MODULE) is None:
        return None
    module = importlib.import_module(GATEWAY_MODULE)
    return module.setup_gateway(app, settings, instructor_check=auth.instructor)


def _seat_content(app: web.Application, ctx: AgentContext, pack: Pack | None) -> SeatContent | None:
    """The seats' side of the workshop's content pack (starter files, guide, checks), if it
    has one; its progress rides along in the gateway's ``host.usage`` reports."""
    if pack is None:
        return None
    gateway = app[GATEWAY]

    def model_requests(seat: int) -> int:
        if gateway is None:
            return 0
        return int(gateway.ledger.totals(seat).requests)  # type: ignore[attr-defined]

    content = SeatContent(ctx.settings, pack, ctx.runtime, ctx.fs, model_requests)
    if gateway is not None:
        gateway.progress = content.progress  # type: ignore[attr-defined]
    return content


def _seat_env(app: web.Application) -> Callable[[int], Mapping[str, str]]:
    """Each seat's gateway environment; its Claude Code files are written on the way."""
    gateway = app[GATEWAY]
    if gateway is None:
        return lambda seat: {}
    settings = app[CONTEXT].settings

    def env(seat: int) -> Mapping[str, str]:
        gateway.prepare_seat(settings.workspace(seat), home=settings.runtime == "local")  # type: ignore[attr-defined]
        return gateway.seat_env(seat)  # type: ignore[attr-defined, no-any-return]

    return env


async def _keys_ctx(app: web.Application) -> AsyncIterator[None]:
    async for _ in app[CONTEXT].keys.run():
        yield


async def _seats_ctx(app: web.Application) -> AsyncIterator[None]:
    """Bring seats up and announce the host in the background; stop the runtime at exit."""
    ctx = app[CONTEXT]
    task = asyncio.create_task(_bring_up_and_announce(app), name="seats-and-host-ready")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if ctx.shells is not None:
            await ctx.shells.stop()
        await ctx.runtime.stop()
        bus = app[BUS]
        if bus is not None:
            await asyncio.get_running_loop().run_in_executor(None, bus.close)  # type: ignore[attr-defined]


async def _bring_up_and_announce(app: web.Application) -> None:
    ctx = app[CONTEXT]
    settings = ctx.settings
    if ctx.shells is not None and settings.shell_holder:
        try:
            await ctx.shells.connect_holder(settings.state_dir)
        except OSError as exc:  # terminals still work, as the agent's own children
            log_event(log, "holder_unavailable", level=logging.WARNING, error=str(exc))
    pack = await fetch_content(settings)  # before any seat: starter files come from the pack
    content = app[CONTENT].content = _seat_content(app, ctx, pack)
    ensure = (
        ctx.runtime.ensure_seat if content is None else content.wrap_ensure(ctx.runtime.ensure_seat)
    )
    await bring_up_seats(ctx.readiness, ensure, _seat_env(app))
    bus = app[BUS] if app[BUS] is not None else _bus_from_settings(settings)
    app[BUS] = bus
    if ctx.readiness.ready:
        log_event(log, "host_ready", timings=ctx.readiness.timings)
        endpoint = settings.public_url or f"http://127.0.0.1:{settings.port}"
        event = host_ready_event(
            settings.workshop_id,
            settings.host_index,
            endpoint,
            ctx.readiness.timings,
            attempt=settings.attempt,
        )
    else:
        log_event(log, "host_not_ready", level=logging.ERROR, seats=ctx.readiness.seats)
        event = host_failed_event(
            settings.workshop_id, settings.host_index, ctx.readiness.seats, settings.attempt
        )
    if bus is not None:
        await publish_until_acknowledged(bus, event)  # type: ignore[arg-type]
    ctx.readiness.announced.set()


def _bus_from_settings(settings: AgentSettings) -> EventBus | None:
    if not settings.events_url:
        return None
    try:
        from shared.adapters.urls import bus_from_url
    except ImportError:
        log_event(
            log,
            "events_unavailable",
            level=logging.WARNING,
            reason="shared.adapters.urls is not installed",
        )
        return None
    return bus_from_url(  # type: ignore[no-any-return]
        settings.events_url, token=settings.events_token or None
    )


async def _viewers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Safety net: viewers are normally closed by ``on_shutdown`` already."""
    yield
    await app[CONTEXT].registry.close_all()


async def close_terminals_on_shutdown(app: web.Application) -> None:
    """``on_shutdown``: WebSockets are closed with 1001 before cleanup starts."""
    await app[CONTEXT].registry.close_all()
