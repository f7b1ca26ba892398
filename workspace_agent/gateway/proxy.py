"""The reverse proxy: ``/seats/{seat}/model/{tail}`` -> the Anthropic API, with the workshop key.

Per request, in this order, all before anything reaches the upstream:
allow-listed method and path (else 404) -> served seat (404) -> that seat's gateway token
(401) -> declared body size (413) -> body read with the size cap (413) -> workshop ended or
paused (429) -> requested model allowed and priced (429) -> budgets with the request's
reservation, rate (429) -> key available (503).

``HEAD``/``GET`` on the seat's base URL (``/seats/{seat}/model``, what Claude Code probes at
start, without credentials) answer 200 with no body for a served seat.

The client's credentials are never forwarded; ``x-api-key`` is set from the workshop key, and
only an allow-list of headers passes in either direction. Streamed (SSE) responses are written
to the client chunk by chunk as they arrive, while ``SseUsageParser`` reads the usage out of
the same chunks. If the client goes away mid-stream the upstream request is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from workspace_agent.gateway.config import GatewayConfig
from workspace_agent.gateway.errors import error_response, is_anthropic_error, sse_error_event
from workspace_agent.gateway.limits import Governor, Refusal, Reservation
from workspace_agent.gateway.seat_tokens import SeatTokens
from workspace_agent.gateway.usage import (
    ResponseUsage,
    UsageLedger,
    estimate_cost,
    highest_price,
    price_for,
)
from workspace_agent.gateway.usage_parser import SseUsageParser, usage_from_json
from workspace_agent.logs import log_event
from workspace_agent.seat_paths import parse_seat

log = logging.getLogger("workspace_agent.gateway")

ROUTE = "/seats/{seat}/model/{tail:.*}"
BASE_ROUTE = "/seats/{seat}/model"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: re.Pattern[str]
    #: Messages calls: the only ones that use tokens and count as requests in the usage totals.
    billable: bool


ENDPOINTS = (
    Endpoint("POST", re.compile(r"v1/messages"), billable=True),
    Endpoint("POST", re.compile(r"v1/messages/count_tokens"), billable=False),
    Endpoint("GET", re.compile(r"v1/models"), billable=False),
    # A model id: starts with a letter or digit, so "." and ".." can never reach the upstream.
    Endpoint("GET", re.compile(r"v1/models/[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}"), billable=False),
)

#: Request headers passed upstream (plus the SDKs' ``x-stainless-*`` telemetry headers).
FORWARDED_REQUEST_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "accept",
        "anthropic-version",
        "anthropic-beta",
        "user-agent",
        # Claude Code's own: which client, and which session a request belongs to (a random
        # id per conversation, no personal data). Anthropic uses them for support and
        # abuse handling, as it would if the learner called the API directly.
        "x-app",
        "x-claude-code-session-id",
    }
)
#: Response headers passed back (plus ``anthropic-ratelimit-*``).
FORWARDED_RESPONSE_HEADERS = frozenset(
    {"content-type", "request-id", "retry-after", "x-should-retry", "cache-control"}
)
#: How often a silent stream checks whether its client is still connected.
DISCONNECT_POLL_SECONDS = 0.25
_READ_CHUNK = 64 * 1024


class ApiKey:
    """The workshop's Anthropic key. ``repr``/``str`` never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "ApiKey(***)"

    __str__ = __repr__


def match_endpoint(method: str, tail: str) -> Endpoint | None:
    return next((e for e in ENDPOINTS if e.method == method and e.path.fullmatch(tail)), None)


def presented_token(request: web.Request) -> str | None:
    """The gateway token from ``x-api-key`` or ``Authorization: Bearer`` (Claude Code's
    ``ANTHROPIC_AUTH_TOKEN``)."""
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _upstream_headers(request: web.Request, key: ApiKey) -> dict[str, str]:
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() in FORWARDED_REQUEST_HEADERS or name.lower().startswith("x-stainless-")
    }
    headers["x-api-key"] = key.reveal()
    return headers


def _client_headers(upstream: aiohttp.ClientResponse) -> dict[str, str]:
    return {
        name: value
        for name, value in upstream.headers.items()
        if name.lower() in FORWARDED_RESPONSE_HEADERS
        or name.lower().startswith("anthropic-ratelimit-")
    }


class _BodyTooLarge(Exception):
    pass


async def _read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await stream.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        parts.append(chunk)
    return b"".join(parts)


async def _client_gone(request: web.Request) -> None:
    """Return once the client's connection is closed (aiohttp drops the transport then).

    aiohttp does not cancel handlers on disconnect by default, and a stream whose upstream is
    silent never writes, so it would not notice; this poll bounds that blind spot.
    """
    while request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(DISCONNECT_POLL_SECONDS)


class ModelProxy:
    """The request handler. Its collaborators are injected so tests can drive each one."""

    def __init__(
        self,
        config: GatewayConfig,
        tokens: SeatTokens,
        governor: Governor,
        ledger: UsageLedger,
        session: Callable[[], aiohttp.ClientSession],
        api_key: Callable[[], ApiKey | None],
    ) -> None:
        self._config = config
        self._tokens = tokens
        self._governor = governor
        self._ledger = ledger
        self._session = session
        self._api_key = api_key
        self._base = config.upstream.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=config.connect_timeout, sock_read=config.read_timeout
        )

    async def base(self, request: web.Request) -> web.Response:
        """``HEAD``/``GET`` of the seat's base URL: Claude Code's reachability probe."""
        seat = parse_seat(request.match_info.get("seat", ""))
        if seat is None or not self._config.serves(seat):
            return web.Response(status=404)
        return web.Response(status=200)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = match_endpoint(request.method, request.match_info.get("tail", ""))
        if endpoint is None:
            return error_response("not_found_error", "Not an allowed model API path.")
        seat = parse_seat(request.match_info.get("seat", ""))
        if seat is None or not self._config.serves(seat):
            return error_response("not_found_error", "No such seat on this host.")
        if not self._tokens.matches(seat, presented_token(request)):
            return error_response("authentication_error", "Invalid gateway token for this seat.")
        if (request.content_length or 0) > self._config.max_body_bytes:
            return _too_large(self._config.max_body_bytes)
        try:
            body = await _read_capped(request.content, self._config.max_body_bytes)
        except _BodyTooLarge:
            return _too_large(self._config.max_body_bytes)
        params = _json_object(body) if endpoint.method == "POST" else {}
        requested = params.get("model")
        refusal = self._governor.access_refusal(seat)
        if refusal is None and endpoint.method == "POST":
            refusal = self._model_refusal(requested)
        reservation = self._reservation(params, len(body)) if endpoint.billable else None
        if refusal is None:
            refusal = self._governor.admit(seat, reservation)
        if refusal is not None:
            log_event(log, "model_request_refused", seat=seat, reason=refusal.kind)
            self._ledger.count_refusal(seat, refusal.reason)
            return error_response(
                refusal.kind, refusal.message, retry=refusal.retry, retry_after=refusal.retry_after
            )
        try:
            key = self._api_key()
            if key is None:
                self._ledger.count_error(seat, "key_refused")
                return error_response(
                    "api_error",
                    "The workshop's model API key is not available on this host.",
                    status=503,
                    retry=False,
                )
            model = requested if isinstance(requested, str) else ""
            return await self._forward(request, endpoint, seat, key, body, model)
        finally:
            if reservation is not None:
                self._governor.release(seat, reservation)

    def _model_refusal(self, model: object) -> Refusal | None:
        """A request for a model the workshop does not allow (or cannot price)."""
        message = self._governor.policy.model_refusal(model)
        if message is None:
            return None
        return Refusal("rate_limit_error", message, False)

    def _reservation(self, params: dict[str, object], body_size: int) -> Reservation:
        """The most this request can use: every prompt token is at least one byte of the
        body, and the model writes at most ``max_tokens``; priced at the model's dearest
        input rate (fresh input or cache write)."""
        max_tokens = params.get("max_tokens")
        output = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 0
        prompt = body_size
        prices = self._governor.policy.prices
        model = params.get("model")
        price = (price_for(model, prices) if isinstance(model, str) else None) or highest_price(
            prices
        )
        cost = 0.0
        if price is not None:
            cost = (prompt * max(price.input, price.cache_write) + output * price.output) / 1e6
        return Reservation(prompt_tokens=prompt, output_tokens=output, cost_usd=cost)

    async def _forward(
        self,
        request: web.Request,
        endpoint: Endpoint,
        seat: int,
        key: ApiKey,
        body: bytes,
        requested: str,
    ) -> web.StreamResponse:
        url = f"{self._base}/{request.match_info['tail']}"
        if request.query_string:
            url = f"{url}?{request.query_string}"
        try:
            async with self._session().request(
                request.method,
                url,
                data=body if body else None,
                headers=_upstream_headers(request, key),
                timeout=self._timeout,
                allow_redirects=False,
            ) as upstream:
                billable = requested if endpoint.billable else None
                if upstream.status == 200 and upstream.content_type == "text/event-stream":
                    return await self._stream(request, upstream, seat, billable)
                return await self._relay_whole(upstream, seat, billable)
        except TimeoutError:
            log_event(log, "model_upstream_timeout", level=logging.WARNING, seat=seat)
            self._ledger.count_error(seat, "upstream_unreachable")
            return error_response("timeout_error", "The model API did not answer in time.")
        except aiohttp.ClientError as exc:
            # Only the class name: exception text could carry request details.
            log_event(
                log,
                "model_upstream_unreachable",
                level=logging.WARNING,
                seat=seat,
                error=type(exc).__name__,
            )
            self._ledger.count_error(seat, "upstream_unreachable")
            return error_response("api_error", "The model API could not be reached.")

    async def _relay_whole(
        self, upstream: aiohttp.ClientResponse, seat: int, billable: str | None
    ) -> web.Response:
        """A non-streamed response (JSON result or error): small, read whole, then relayed.
        ``billable`` is the requested model of a billable call, else ``None``."""
        try:
            body = await _read_capped(upstream.content, self._config.max_response_bytes)
        except _BodyTooLarge:
            return error_response("api_error", "The model API response was too large.")
        if upstream.status >= 500 and not is_anthropic_error(body):
            log_event(
                log,
                "model_upstream_failed",
                level=logging.WARNING,
                seat=seat,
                status=upstream.status,
            )
            return error_response(
                "api_error", f"The model API failed (HTTP {upstream.status}). Try again shortly."
            )
        if upstream.status in (401, 403):
            # The workshop key was refused: the instructor must see it, not only the log.
            log_event(log, "model_key_refused", level=logging.WARNING, seat=seat,
                      status=upstream.status)  # fmt: skip
            self._ledger.count_error(seat, "key_refused")
        if billable is not None and upstream.status == 200:
            self._record(seat, usage_from_json(body), billable)
        return web.Response(status=upstream.status, body=body, headers=_client_headers(upstream))

    async def _stream(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        seat: int,
        billable: str | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers=_client_headers(upstream))
        await response.prepare(request)
        parser = SseUsageParser()
        pump = asyncio.ensure_future(self._pump(upstream, response, parser))
        gone = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait((pump, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, gone):
                task.cancel()
            if not pump.done() or pump.cancelled():
                upstream.close()  # the client left: hang up on the upstream now
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            await asyncio.gather(gone, return_exceptions=True)
            if billable is not None and parser.usage.seen:
                self._record(seat, parser.usage, billable)
        return response

    async def _pump(
        self,
        upstream: aiohttp.ClientResponse,
        response: web.StreamResponse,
        parser: SseUsageParser,
    ) -> None:
        """Copy upstream chunks to the client as they arrive; end the stream cleanly."""
        failure: tuple[str, str] | None = None
        try:
            async for chunk in upstream.content.iter_any():
                parser.feed(chunk)
                await response.write(chunk)
        except ConnectionResetError:
            upstream.close()  # the client left while we were writing
            return
        except TimeoutError:
            failure = ("timeout_error", "The model API stopped responding mid-stream.")
        except aiohttp.ClientError as exc:
            log_event(
                log, "model_stream_interrupted", level=logging.WARNING, error=type(exc).__name__
            )
            failure = ("api_error", "The model API stream was interrupted.")
        with contextlib.suppress(ConnectionResetError):
            if failure is not None:
                await response.write(sse_error_event(*failure))
            await response.write_eof()

    def _record(self, seat: int, usage: ResponseUsage, requested: str) -> None:
        cost, exact = estimate_cost(usage, self._governor.policy.prices, requested=requested)
        self._ledger.record(seat, usage, cost)
        if not exact:
            log_event(log, "model_unpriced", level=logging.WARNING, seat=seat,
                      model=usage.model or "unknown", charged="highest known rate")  # fmt: skip
        log_event(
            log,
            "model_usage",
            seat=seat,
            model=usage.model or "unknown",
            prompt_tokens=usage.prompt_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=round(cost, 6),
        )


def _json_object(body: bytes) -> dict[str, object]:
    try:
        doc = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _too_large(limit: int) -> web.Response:
    return error_response(
        "request_too_large", f"Request body exceeds the gateway limit of {limit} bytes."
    )
