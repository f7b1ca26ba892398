"""The preview proxy: a request on a preview origin, authenticated by its cookie, is passed
to the seat's server, streamed both ways (HTTP bodies chunk by chunk, never held whole;
WebSocket messages one by one, e.g. a dev server's hot reload).

The first load is ``/__clarateach/preview-auth?code=<one-time code>``: the code is exchanged
for the preview cookie (``HttpOnly; SameSite=Lax; Path=/``, no ``Domain``: host-only, so it
is sent to this preview origin alone; ``__Host-`` prefixed and ``Secure`` over HTTPS) and the
browser is redirected to ``/``, dropping the code from the address bar. Requests without a
valid cookie for this seat and port get 401. The cookie is removed from the request before it
reaches the seat's server. A URL carrying one of the workshop's tokens is refused (400).

Limits (``CLARATEACH_AGENT_PREVIEW_*``): requests plus WebSockets in flight per seat (503),
request body size (413), response body size (cut off), silence from the seat's server
mid-response (504 before the headers, a cut-off after) and WebSocket idle time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from aiohttp.client_proto import ResponseHandler
from multidict import CIMultiDict

from workspace_agent.auth import Authenticator, KeyStore
from workspace_agent.logs import log_event
from workspace_agent.preview import pages
from workspace_agent.preview.grants import PreviewGrants, Viewer
from workspace_agent.preview.origins import PreviewOrigins, PreviewTarget
from workspace_agent.preview.reach import SeatReach, Unreachable
from workspace_agent.settings import AgentSettings

log = logging.getLogger("workspace_agent.preview")

AUTH_PATH = "/__clarateach/preview-auth"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
WS_HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
CHUNK = 64 * 1024
CONNECT_TIMEOUT = 10.0


class SeatConnector(aiohttp.BaseConnector):
    """aiohttp connections to one seat's loopback (through ``SeatReach``); its pool is the
    seat's keep-alive pool."""

    def __init__(self, reach: SeatReach, seat: int, limit: int) -> None:
        super().__init__(limit=limit, keepalive_timeout=15.0)
        self._reach = reach
        self._seat = seat

    async def _create_connection(  # type: ignore[override]
        self, req: aiohttp.ClientRequest, traces: object, timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        sock = await self._reach.connect(self._seat, req.url.port or 80)
        try:
            _, proto = await self._loop.create_connection(self._factory, sock=sock)
        except BaseException:
            sock.close()
            raise
        return proto


def cookie_name(secure: bool) -> str:
    return "__Host-ct_preview" if secure else "ct_preview"


def _cookie_values(request: web.Request, name: str) -> list[str]:
    """Every value sent under ``name`` (a page of the same site may have added a second)."""
    values = []
    for header in request.headers.getall("Cookie", []):
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if key == name and value:
                values.append(value.strip().strip('"'))
    return values


def _without_cookie(header: str, name: str) -> str:
    kept = [p.strip() for p in header.split(";") if p.strip().partition("=")[0] != name]
    return "; ".join(p for p in kept if p)


class PreviewProxy:
    def __init__(
        self,
        settings: AgentSettings,
        origins: PreviewOrigins,
        grants: PreviewGrants,
        reach: SeatReach,
        auth: Authenticator,
        keys: KeyStore,
    ) -> None:
        self._settings = settings
        self._origins = origins
        self._grants = grants
        self._reach = reach
        self._auth = auth
        self._keys = keys
        self._sessions: dict[int, aiohttp.ClientSession] = {}
        self._in_flight: dict[int, int] = {}

    # -- entry point ---------------------------------------------------------------------
    async def handle(self, request: web.Request, target: PreviewTarget) -> web.StreamResponse:
        if self._origins.parse(request.host) != target:  # only ever reached on its own host
            return pages.not_found()
        seat, port = target.seat, target.port
        if seat not in self._settings.seats or port == self._settings.port:
            return pages.not_found()
        if self._token_in_url(request.raw_path):
            log_event(log, "preview_token_in_url", level=logging.WARNING, seat=seat, port=port)
            return pages.token_in_url()
        if request.path == AUTH_PATH:
            return self._exchange(request, seat, port)
        viewer = self._viewer(request, seat, port)
        if viewer is None:
            return pages.unauthorized()
        if not self._same_origin_or_safe(request):
            log_event(log, "preview_cross_origin", level=logging.WARNING, seat=seat, port=port)
            return pages.cross_origin()
        if self._in_flight.get(seat, 0) >= self._settings.preview_max_concurrency:
            return pages.busy()
        self._in_flight[seat] = self._in_flight.get(seat, 0) + 1
        try:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._websocket(request, seat, port)
            return await self._http(request, seat, port)
        finally:
            self._in_flight[seat] -= 1

    # -- auth ----------------------------------------------------------------------------
    def _token_in_url(self, raw_path: str) -> bool:
        """Whether the URL carries a token signed by one of this workshop's keys (by ``kid``:
        expired ones count too)."""
        keys = self._keys.keys()
        for match in _JWT.finditer(raw_path):
            head = match.group(0).split(".", 1)[0]
            try:
                header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
            except (ValueError, binascii.Error):
                continue
            if isinstance(header, dict) and header.get("kid") in keys:
                return True
        return False

    def _same_origin_or_safe(self, request: web.Request) -> bool:
        """WebSocket handshakes and state-changing methods from another page are refused.

        On GCP every preview of a host is *same-site* with the others (one registrable
        domain), so ``SameSite=Lax`` alone would let seat 2's preview page drive seat 1's
        server with seat 1's cookie (cross-site WebSocket hijacking, CSRF). A present
        ``Origin`` must be this preview's own; requests without one are not from a page's
        script (browsers always send it on these)."""
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if not websocket and request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        origin = request.headers.get("Origin")
        scheme = "https" if self._origins.secure else "http"
        return origin is None or origin.lower() == f"{scheme}://{request.host.lower()}"

    def _exchange(self, request: web.Request, seat: int, port: int) -> web.StreamResponse:
        viewer = self._grants.redeem(request.query.get("code", ""), seat, port)
        if viewer is None or not self._viewer_valid(viewer):
            log_event(log, "preview_code_refused", level=logging.WARNING, seat=seat, port=port)
            return pages.unauthorized()
        value = self._grants.start_session(viewer)
        response = web.HTTPSeeOther("/", headers=pages.HEADERS)
        secure = self._origins.secure
        response.set_cookie(
            cookie_name(secure), value, path="/", httponly=True, samesite="Lax", secure=secure
        )
        log_event(log, "preview_opened", seat=seat, port=port, instructor=viewer.instructor)
        return response

    def _viewer(self, request: web.Request, seat: int, port: int) -> Viewer | None:
        for value in _cookie_values(request, cookie_name(self._origins.secure)):
            viewer = self._grants.session(value, seat, port)
            if viewer is not None and self._viewer_valid(viewer):
                return viewer
        return None

    def _viewer_valid(self, viewer: Viewer) -> bool:
        """A learner's session ends with their seat's release, like their token."""
        return viewer.instructor or viewer.issued_at > self._auth.released_at.get(viewer.seat, -1)

    # -- upstream ------------------------------------------------------------------------
    def _session(self, seat: int) -> aiohttp.ClientSession:
        session = self._sessions.get(seat)
        if session is None or session.closed:
            connector = SeatConnector(self._reach, seat, self._settings.preview_max_concurrency)
            session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
            self._sessions[seat] = session
        return session

    def _upstream_headers(self, request: web.Request, *, websocket: bool) -> CIMultiDict[str]:
        skip = HOP_BY_HOP | (WS_HANDSHAKE if websocket else frozenset())
        name = cookie_name(self._origins.secure)
        headers: CIMultiDict[str] = CIMultiDict()
        for key, value in request.headers.items():
            lower = key.lower()
            if lower in skip or lower.startswith("x-forwarded-"):
                continue
            if lower == "cookie":
                value = _without_cookie(value, name)
                if not value:
                    continue
            headers.add(key, value)
        headers["Host"] = request.host
        headers["X-Forwarded-Host"] = request.host
        headers["X-Forwarded-Proto"] = "https" if self._origins.secure else "http"
        if request.remote:
            headers["X-Forwarded-For"] = request.remote
        return headers

    async def _body(self, request: web.Request) -> AsyncIterator[bytes]:
        limit, seen = self._settings.preview_max_request_bytes, 0
        async for chunk in request.content.iter_any():
            seen += len(chunk)
            if seen > limit:
                raise _TooLarge
            yield chunk

    async def _http(self, request: web.Request, seat: int, port: int) -> web.StreamResponse:
        limit = self._settings.preview_max_request_bytes
        if request.content_length is not None and request.content_length > limit:
            return pages.too_large()
        data = self._body(request) if request.body_exists else None
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=CONNECT_TIMEOUT, sock_read=self._settings.preview_idle_timeout
        )
        url = f"http://127.0.0.1:{port}{request.raw_path}"
        try:
            async with self._session(seat).request(
                request.method,
                url,
                headers=self._upstream_headers(request, websocket=False),
                data=data,
                allow_redirects=False,
                timeout=timeout,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            ) as upstream:
                return await self._relay(request, upstream, seat, port)
        except Unreachable as exc:
            return _unreachable_page(exc, port)
        except _TooLarge:
            return pages.too_large()
        except TimeoutError:
            return pages.timeout()
        except aiohttp.ClientError as exc:
            log_event(log, "preview_upstream_error", seat=seat, port=port, error=type(exc).__name__)
            return pages.bad_gateway()

    async def _relay(
        self, request: web.Request, upstream: aiohttp.ClientResponse, seat: int, port: int
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for key, value in upstream.headers.items():
            if key.lower() not in HOP_BY_HOP:
                response.headers.add(key, value)
        await response.prepare(request)
        limit, sent = self._settings.preview_max_response_bytes, 0
        try:
            async for chunk in upstream.content.iter_chunked(CHUNK):
                sent += len(chunk)
                if sent > limit:
                    log_event(log, "preview_response_cut", seat=seat, port=port, limit=limit)
                    _abort(request)
                    return response
                await response.write(chunk)
        except (TimeoutError, aiohttp.ClientError):
            _abort(request)  # the seat's server went quiet or away mid-body
            return response
        except (ConnectionResetError, ConnectionError):
            return response  # the browser went away
        await response.write_eof()
        return response

    async def _websocket(self, request: web.Request, seat: int, port: int) -> web.StreamResponse:
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        offered = [p for p in offered if p]
        max_msg = min(self._settings.preview_max_request_bytes, 64 * 1024 * 1024)
        try:
            upstream = await self._session(seat).ws_connect(
                f"http://127.0.0.1:{port}{request.raw_path}",
                headers=self._upstream_headers(request, websocket=True),
                protocols=offered,
                max_msg_size=max_msg,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                autoping=True,
            )
        except Unreachable as exc:
            return _unreachable_page(exc, port)
        except aiohttp.WSServerHandshakeError as exc:
            return web.Response(status=exc.status or 502, text="websocket refused by your server")
        except (TimeoutError, aiohttp.ClientError):
            return pages.bad_gateway()
        browser = web.WebSocketResponse(
            protocols=(upstream.protocol,) if upstream.protocol else (), max_msg_size=max_msg
        )
        try:
            await browser.prepare(request)
            await _pump_both(browser, upstream, float(self._settings.preview_ws_idle_timeout))
        finally:
            await upstream.close()
            await browser.close()
        return browser

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


class _TooLarge(Exception):
    pass


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _unreachable_page(exc: Unreachable, port: int) -> web.Response:
    if exc.reason == "no_listener":
        return pages.no_listener(port)
    if exc.reason == "no_shell":
        return pages.no_shell()
    if exc.reason == "timeout":
        return pages.timeout()
    return pages.bad_gateway()


async def _pump_both(
    browser: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse, idle: float
) -> None:
    loop = asyncio.get_running_loop()
    last = [loop.time()]

    async def pump(
        source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        while True:
            try:
                message = await source.receive(timeout=idle)
            except TimeoutError:
                if loop.time() - last[0] >= idle:
                    return
                continue
            last[0] = loop.time()
            if message.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            else:  # close, closing, closed, error
                return

    tasks = [
        asyncio.create_task(pump(browser, upstream)),
        asyncio.create_task(pump(upstream, browser)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = ["AUTH_PATH", "PreviewProxy"]
