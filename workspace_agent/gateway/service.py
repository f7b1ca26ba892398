"""Wire the gateway into the agent's aiohttp app and give the agent a handle on it.

``setup_gateway(app, settings)`` adds the model route and the control routes, loads (or
creates) the seat tokens and the saved usage totals, and registers a ``cleanup_ctx`` that
owns the upstream ``ClientSession``, reads the workshop key once through the secrets port
(retrying in the background if that failed transiently), and flushes usage (state file +
``host.usage`` event) every ``flush_interval`` while it changes, and once more at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from shared.domain.errors import TransientError
from shared.domain.events import HOST_USAGE, Event
from shared.domain.model_policy import ModelPolicy
from shared.ports.event_bus import EventBus
from shared.ports.secrets import Secrets
from workspace_agent.gateway.claude_code import PLATFORM_ENV, model_env, write_seat_files
from workspace_agent.gateway.config import GatewayConfig, InvalidPolicy
from workspace_agent.gateway.control import InstructorCheck, control_routes
from workspace_agent.gateway.files import ensure_private_dir, read_json, write_private_json
from workspace_agent.gateway.limits import Governor
from workspace_agent.gateway.proxy import BASE_ROUTE, ROUTE, ApiKey, ModelProxy
from workspace_agent.gateway.seat_tokens import SeatTokens
from workspace_agent.gateway.usage import ERROR_FIELDS, USAGE_FILE, UsageLedger
from workspace_agent.logs import log_event

log = logging.getLogger("workspace_agent.gateway")

ACCESS_FILE = "access.json"
#: The model policy last sent by the platform (``PUT /control/model-policy``); it outlives
#: restarts and wins over the (older) policy of the agent's configuration.
POLICY_FILE = "policy.json"
#: Publishes one event; may be sync (``EventBus.publish``, run in a thread) or async.
UsagePublisher = Callable[[Event], Any]


@dataclass
class GatewayHandle:
    """What the agent uses: seat environments, the kill switch, usage totals."""

    config: GatewayConfig
    tokens: SeatTokens
    ledger: UsageLedger
    governor: Governor
    publish: UsagePublisher | None = None
    api_key: ApiKey | None = field(default=None, repr=False)
    session: aiohttp.ClientSession | None = field(default=None, repr=False)
    agent_port: int = 0
    #: Each seat's guide progress (``workspace_agent.content.progress.ProgressStore``), sent
    #: beside its usage as ``seats[<n>].progress``; ``None`` without a content pack.
    progress: Any = None
    _saved_version: int = 0
    _published_version: tuple[int, int] = (0, 0)

    # ------------------------------------------------------------------ seats
    def set_agent_port(self, port: int) -> None:
        """Tell the gateway the agent's bound port (needed when it listens on port 0)."""
        self.agent_port = port

    def base_url(self, seat: int) -> str:
        if "{port}" in self.config.seat_agent_url and not self.agent_port:
            raise RuntimeError("agent port unknown: call set_agent_port() after binding")
        root = self.config.seat_agent_url.replace("{port}", str(self.agent_port)).rstrip("/")
        return f"{root}/seats/{seat}/model"

    def seat_env(self, seat: int) -> dict[str, str]:
        """Environment for a seat's processes: Claude Code talks to the gateway with the
        seat's own token, with the workshop's default model and nothing but the gateway
        (``claude_code.PLATFORM_ENV``). Never contains the workshop key. Pass it as
        environment only."""
        if not self.config.serves(seat):
            raise KeyError(f"seat {seat} is not served by this host")
        return {
            **PLATFORM_ENV,
            **model_env(self.config.policy.claude_code),
            "ANTHROPIC_BASE_URL": self.base_url(seat),
            "ANTHROPIC_AUTH_TOKEN": self.tokens.token_for(seat),
        }

    def prepare_seat(self, workspace: Path, *, home: bool) -> None:
        """Write the workshop's Claude Code files into a seat's workspace before its shell
        starts (``claude_code.write_seat_files``); ``home``: the workspace is its HOME."""
        write_seat_files(workspace, self.config.policy.claude_code, home=home)

    # ------------------------------------------------------------ kill switch
    @property
    def paused(self) -> bool:
        return self.governor.paused

    @property
    def paused_seats(self) -> list[int]:
        return sorted(self.governor.paused_seats)

    async def set_paused(self, paused: bool, seat: int | None = None) -> None:
        """Pause or resume model access: of every seat (``seat`` ``None``; resuming every
        seat also lifts single-seat pauses), or of one ``seat`` only. Remembered across
        agent restarts (``access.json``)."""
        if seat is None:
            self.governor.paused = paused
            if not paused:
                self.governor.paused_seats.clear()
        elif paused:
            self.governor.paused_seats.add(seat)
        else:
            self.governor.paused_seats.discard(seat)
        path = self.config.gateway_dir / ACCESS_FILE
        state = {"paused": self.governor.paused, "paused_seats": self.paused_seats}
        await asyncio.to_thread(write_private_json, path, state)
        log_event(log, "model_access_changed", paused=paused, seat=seat)

    # ----------------------------------------------------------------- policy
    async def set_policy(self, policy: ModelPolicy) -> None:
        """Apply the instructor's new model policy to the next model request; remembered
        across agent restarts. Claude Code's files follow at each seat's next shell start."""
        self.governor.policy = policy
        self.config = replace(self.config, policy=policy)
        path = self.config.gateway_dir / POLICY_FILE
        await asyncio.to_thread(write_private_json, path, policy.model_dump(mode="json"))
        log_event(log, "model_policy_changed")

    def stop_workshop(self) -> None:
        """The workshop ended: refuse every model request from now on."""
        self.governor.stopped = True

    # ------------------------------------------------------------------ usage
    def model_view(self, seat: int) -> dict[str, object] | None:
        """The seat's model state for the cockpit's live activity: its own pause (or the
        workshop-wide one) and its error counters; ``None`` for a seat this host lacks."""
        if not self.config.serves(seat):
            return None
        totals = self.ledger.totals(seat)
        return {
            "paused": self.governor.paused or seat in self.governor.paused_seats,
            "errors": {name: getattr(totals, name) for name in ERROR_FIELDS},
        }

    def usage_snapshot(self) -> dict[str, dict[str, int | float]]:
        return self.ledger.snapshot()

    async def flush(self) -> None:
        """Save and publish the totals if they changed since the last flush."""
        version = self.ledger.version
        snapshot = self.ledger.snapshot()
        if version != self._saved_version:
            # The snapshot is taken here, on the loop; only the file write runs in a thread.
            path = self.config.gateway_dir / USAGE_FILE
            await asyncio.to_thread(write_private_json, path, snapshot)
            self._saved_version = version
        published = (version, self.progress.version if self.progress is not None else 0)
        if self.publish is not None and published != self._published_version:
            seats: dict[str, dict[str, Any]] = {k: dict(v) for k, v in snapshot.items()}
            if self.progress is not None:
                for seat, progress in self.progress.report().items():
                    seats.setdefault(seat, {})["progress"] = progress
            event = Event(
                HOST_USAGE,
                self.config.workshop_id,
                {
                    "host_index": self.config.host_index,
                    "attempt": self.config.attempt,
                    "seats": seats,
                },
            )
            try:
                if inspect.iscoroutinefunction(self.publish):
                    await self.publish(event)
                else:
                    result = await asyncio.to_thread(self.publish, event)
                    if inspect.isawaitable(result):
                        await result
            except Exception as exc:  # retried at the next flush
                error = type(exc).__name__
                log_event(log, "usage_publish_failed", level=logging.WARNING, error=error)
                return
            self._published_version = published

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            try:
                await self.flush()
            except Exception as exc:  # keep flushing: a full disk may clear up
                log_event(log, "usage_save_failed", level=logging.WARNING, error=type(exc).__name__)


def _initial_paused(config: GatewayConfig) -> bool:
    """The last kill-switch state this host was told (it outlives restarts), else config."""
    stored = read_json(config.gateway_dir / ACCESS_FILE)
    if isinstance(stored, dict) and isinstance(stored.get("paused"), bool):
        return bool(stored["paused"])
    return config.paused


def _changed_policy(config: GatewayConfig) -> ModelPolicy | None:
    """The policy the platform sent this host last (``policy.json``), if any and valid."""
    stored = read_json(config.gateway_dir / POLICY_FILE)
    if not isinstance(stored, dict):
        return None
    try:
        return ModelPolicy.model_validate(stored)
    except ValueError:
        log_event(log, "model_policy_file_invalid", level=logging.WARNING)
        return None


def _initial_paused_seats(config: GatewayConfig) -> set[int]:
    """The seats last paused on their own on this host (outlives restarts), else config."""
    stored = read_json(config.gateway_dir / ACCESS_FILE)
    if isinstance(stored, dict) and isinstance(stored.get("paused_seats"), list):
        seats = stored["paused_seats"]
        return {n for n in seats if isinstance(n, int) and config.serves(n)}
    return {n for n in config.paused_seats if config.serves(n)}


class _BusPublisher:
    """Publishes through the event bus named by the agent's ``events_url`` (created lazily,
    on the first flush, so an agent without usage never builds a Pub/Sub client)."""

    def __init__(self, url: str, token: str = "") -> None:
        self._url = url
        self._token = token
        self._bus: EventBus | None = None

    def __call__(self, event: Event) -> str:
        if self._bus is None:
            from shared.adapters.urls import bus_from_url

            self._bus = bus_from_url(self._url, token=self._token or None)
        return self._bus.publish(event)

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()


def _once(factory: Callable[[], Secrets]) -> Callable[[], Secrets]:
    """Build the secrets adapter on first use and reuse it (it may cache the key)."""
    built: list[Secrets] = []

    def get() -> Secrets:
        if not built:
            built.append(factory())
        return built[0]

    return get


def _secrets_of(settings: Any) -> Secrets:
    from shared.adapters.urls import secrets_from_url

    return secrets_from_url(str(getattr(settings, "secrets_url", "")))


#: Waits between background attempts to read the key after a transient failure at start
#: (the last one repeats until it works or the agent stops). On GCE each attempt already
#: retries for ~8 s inside ``HostCredentialSecrets``.
KEY_RETRY_DELAYS: tuple[float, ...] = (15.0, 30.0, 60.0)


async def _load_key(
    config: GatewayConfig, secrets: Callable[[], Secrets]
) -> tuple[ApiKey | None, bool]:
    """The workshop key, or ``None`` (logged) if it cannot be read: the agent still serves
    terminals and files, and model requests get a clear 503 instead of a dead agent.
    The flag says whether the failure was transient (worth retrying in the background)."""
    if not config.api_key_ref:
        log_event(log, "model_key_unavailable", level=logging.ERROR, reason="no key reference")
        return None, False
    try:
        value = await asyncio.to_thread(secrets().access, config.api_key_ref)
    except Exception as exc:  # the agent must still serve terminals
        log_event(log, "model_key_unavailable", level=logging.ERROR, reason=type(exc).__name__)
        return None, isinstance(exc, TransientError)
    if not value:
        log_event(log, "model_key_unavailable", level=logging.ERROR, reason="secret missing")
        return None, False
    return ApiKey(value.strip()), False


async def _keep_loading_key(
    handle: GatewayHandle, config: GatewayConfig, secrets: Callable[[], Secrets]
) -> None:
    """Retry a key read that failed transiently at start (e.g. the API was cold or the VM's
    network not up yet) until it succeeds, fails permanently, or the agent stops."""
    attempt = 0
    while handle.api_key is None:
        await asyncio.sleep(KEY_RETRY_DELAYS[min(attempt, len(KEY_RETRY_DELAYS) - 1)])
        attempt += 1
        key, transient = await _load_key(config, secrets)
        if key is not None:
            handle.api_key = key
            log_event(log, "model_key_loaded", attempts=attempt + 1)
        elif not transient:
            return


def setup_gateway(
    app: web.Application,
    settings: Any = None,
    *,
    config: GatewayConfig | None = None,
    secrets: Secrets | None = None,
    publish: UsagePublisher | None = None,
    instructor_check: InstructorCheck | None = None,
    session: aiohttp.ClientSession | None = None,
) -> GatewayHandle:
    """Add the gateway to ``app``; return the handle the agent keeps.

    ``config`` defaults to ``GatewayConfig.from_agent_settings(settings)``; ``secrets`` to the
    adapter named by the agent's secrets URL; ``publish`` to a bus built from the agent's
    ``events_url`` (none if that is empty). ``session`` (shared, owned by the caller) is used
    if given, else the gateway owns one. Without ``instructor_check`` the control routes are
    not added (the agent must then route them itself through the handle).
    """
    policy_valid = True
    if config is None:
        config, policy_valid = _config_from(settings)
    directory = ensure_private_dir(config.gateway_dir)
    if (changed := _changed_policy(config)) is not None:
        config, policy_valid = replace(config, policy=changed), True
    ledger = UsageLedger.load(directory, config.seats)
    # An invalid policy keeps access paused even if an earlier run was resumed.
    paused = _initial_paused(config) or not policy_valid
    handle = GatewayHandle(
        config=config,
        tokens=SeatTokens.load_or_create(directory, config.seats),
        ledger=ledger,
        governor=Governor(
            config.policy, ledger, paused=paused, paused_seats=_initial_paused_seats(config)
        ),
        publish=publish or _default_publisher(settings),
        agent_port=config.agent_port,
    )
    proxy = ModelProxy(
        config,
        handle.tokens,
        handle.governor,
        ledger,
        session=lambda: _require(handle.session),
        api_key=lambda: handle.api_key,
    )
    app.router.add_get(BASE_ROUTE, proxy.base)  # and HEAD (aiohttp's allow_head)
    app.router.add_route("*", ROUTE, proxy.handle)
    if instructor_check is not None:
        app.router.add_routes(control_routes(handle, instructor_check))
    app.cleanup_ctx.append(_lifecycle(handle, settings, secrets, session))
    return handle


def _config_from(settings: Any) -> tuple[GatewayConfig, bool]:
    """The agent's gateway config, and whether its model policy was valid. An invalid policy
    fails *closed* for model access (the gateway starts paused and logs why) instead of
    taking the agent's terminals down with it."""
    try:
        return GatewayConfig.from_agent_settings(settings), True
    except InvalidPolicy as exc:
        log_event(log, "model_policy_invalid", level=logging.ERROR, error=str(exc))
        return GatewayConfig.from_agent_settings(settings, policy=ModelPolicy(), paused=True), False


def _default_publisher(settings: Any) -> UsagePublisher | None:
    url = str(getattr(settings, "events_url", "") or "")
    token = str(getattr(settings, "events_token", "") or "")
    return _BusPublisher(url, token) if url else None


def _require(session: aiohttp.ClientSession | None) -> aiohttp.ClientSession:
    if session is None:
        raise RuntimeError("gateway used before the app started")
    return session


def _lifecycle(
    handle: GatewayHandle,
    settings: Any,
    secrets: Secrets | None,
    shared_session: aiohttp.ClientSession | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def gateway_ctx(app: web.Application) -> AsyncIterator[None]:
        adapter = _once(lambda: secrets or _secrets_of(settings))
        handle.api_key, transient = await _load_key(handle.config, adapter)
        handle.session = shared_session or aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
        )
        flusher = asyncio.create_task(handle._flush_forever(), name="gateway-usage-flush")
        tasks = [flusher]
        if transient:
            tasks.append(
                asyncio.create_task(
                    _keep_loading_key(handle, handle.config, adapter), name="gateway-key-retry"
                )
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(OSError):
                await handle.flush()
            if isinstance(handle.publish, _BusPublisher):
                await asyncio.to_thread(handle.publish.close)
            if shared_session is None:
                await handle.session.close()
            handle.session = None

    return gateway_ctx
