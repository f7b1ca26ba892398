"""Who may do what on this host: token verification, seat binding and the Origin allowlist.

* HTTP takes ``Authorization: Bearer <JWT>``; the terminal WebSocket takes the token as the
  subprotocol ``bearer.<JWT>`` next to ``clarateach.terminal.v1``. Tokens in URLs are never
  read (there is no code path that looks at the query string).
* Verification is ``shared.auth.tokens.verify_token`` (RS256 only, required claims, audience
  = this workshop). ``KeyStore`` holds the public keys: fetched from the JWKS URL at start
  (retrying with backoff) and refetched, rate-limited, when a token names an unknown ``kid``.
* The seat comes only from the verified claims. A learner may act on their own seat; an
  instructor may shadow any seat's terminal read-only and read (never write) its files.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth.tokens import InvalidToken, TokenClaims, public_keys_from_jwks, verify_token
from workspace_agent.errors import ApiError
from workspace_agent.logs import log_event
from workspace_agent.seat_paths import parse_seat
from workspace_agent.settings import AgentSettings

log = logging.getLogger("workspace_agent.auth")

TERMINAL_SUBPROTOCOL = "clarateach.terminal.v1"
BEARER_SUBPROTOCOL_PREFIX = "bearer."
REFETCH_MIN_INTERVAL = 30.0  # unknown-kid refetches at most this often (no JWKS hammering)

Clock = Callable[[], float]


class KeyStore:
    """The workshop's token public keys, by ``kid``.

    ``static`` keys never change (tests, or a key given out of band). Otherwise ``run``
    fetches the JWKS until it succeeds (backoff 0.5 s → 30 s) and ``verify`` refetches once,
    at most every ``REFETCH_MIN_INTERVAL`` seconds, when a token names a kid it does not know
    (key rotation).
    """

    def __init__(
        self, jwks_url: str = "", keys: Mapping[str, rsa.RSAPublicKey] | None = None
    ) -> None:
        self._url = jwks_url
        self._keys: dict[str, rsa.RSAPublicKey] = dict(keys or {})
        self._static = keys is not None
        self._session: aiohttp.ClientSession | None = None
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return bool(self._keys)

    def keys(self) -> Mapping[str, rsa.RSAPublicKey]:
        return self._keys

    async def run(self) -> AsyncIterator[None]:
        """cleanup_ctx body: an HTTP session plus the initial fetch loop."""
        if self._static or not self._url:
            yield
            return
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        task = asyncio.create_task(self._initial_fetch(), name="jwks-initial-fetch")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self._session.close()

    async def _initial_fetch(self) -> None:
        delay = 0.5
        while not await self.refresh():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def refresh(self) -> bool:
        """Fetch the JWKS now; keep the old keys on failure. True when keys were loaded."""
        if self._session is None:
            return False
        async with self._lock:
            self._last_fetch = time.monotonic()
            try:
                async with self._session.get(self._url) as resp:
                    resp.raise_for_status()
                    document = await resp.json(content_type=None)
                keys = public_keys_from_jwks(document)
            except (TimeoutError, aiohttp.ClientError, ValueError, TypeError) as exc:
                log_event(log, "jwks_fetch_failed", level=logging.WARNING, error=repr(exc))
                return False
            if keys:
                self._keys = keys
                log_event(log, "jwks_loaded", kids=sorted(keys))
            return bool(keys)

    async def verify(self, token: str, *, issuer: str, workshop_id: str, now: int) -> TokenClaims:
        try:
            return verify_token(
                token, keys=self._keys, issuer=issuer, workshop_id=workshop_id, now=now
            )
        except InvalidToken as exc:
            stale = time.monotonic() - self._last_fetch >= REFETCH_MIN_INTERVAL
            if exc.reason != "unknown key id" or self._static or not stale:
                raise
        await self.refresh()
        return verify_token(token, keys=self._keys, issuer=issuer, workshop_id=workshop_id, now=now)


@dataclass(frozen=True)
class Principal:
    """A verified caller acting on one seat."""

    claims: TokenClaims
    seat: int

    @property
    def readonly(self) -> bool:
        """Instructors shadow; they never type into or write to a learner's seat."""
        return self.claims.is_instructor


class Authenticator:
    """Turns a request into a ``Principal`` for the seat in its path, or raises ``ApiError``."""

    def __init__(self, settings: AgentSettings, keys: KeyStore, clock: Clock) -> None:
        self._settings = settings
        self._keys = keys
        self._clock = clock
        #: Seat -> learner tokens issued at or before this second are refused (the instructor
        #: released the seat: ``workspace_agent.activity.room``).
        self.released_at: dict[int, int] = {}

    def now(self) -> float:
        return self._clock()

    def seat_from_path(self, request: web.Request) -> int:
        seat = parse_seat(request.match_info.get("seat", ""))
        if seat is None or seat not in self._settings.seats:
            raise ApiError(404, "unknown_seat", "this host does not serve that seat")
        return seat

    async def principal(self, request: web.Request, token: str | None) -> Principal:
        seat = self.seat_from_path(request)
        if not token:
            raise ApiError(401, "unauthorized", "a bearer token is required")
        try:
            claims = await self._keys.verify(
                token,
                issuer=self._settings.issuer,
                workshop_id=self._settings.workshop_id,
                now=int(self._clock()),
            )
        except InvalidToken as exc:
            log_event(log, "token_rejected", level=logging.WARNING, seat=seat, reason=exc.reason)
            raise ApiError(
                401, "invalid_token", "the token is not valid for this workshop"
            ) from None
        if not claims.is_instructor and claims.seat != seat:
            raise ApiError(403, "wrong_seat", "the token is for another seat")
        if not claims.is_instructor and claims.issued_at <= self.released_at.get(seat, -1):
            raise ApiError(401, "seat_released", "the instructor released this seat; join again")
        return Principal(claims=claims, seat=seat)

    async def http_principal(self, request: web.Request) -> Principal:
        return await self.principal(request, bearer_from_header(request))

    async def instructor(self, request: web.Request) -> TokenClaims:
        """Control endpoints: an instructor-role token for this workshop (no seat)."""
        token = bearer_from_header(request)
        if not token:
            raise ApiError(401, "unauthorized", "a bearer token is required")
        try:
            claims = await self._keys.verify(
                token,
                issuer=self._settings.issuer,
                workshop_id=self._settings.workshop_id,
                now=int(self._clock()),
            )
        except InvalidToken:
            raise ApiError(
                401, "invalid_token", "the token is not valid for this workshop"
            ) from None
        if not claims.is_instructor:
            raise ApiError(403, "forbidden", "instructor role required")
        return claims


def bearer_from_header(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def offered_subprotocols(request: web.Request) -> list[str]:
    raw = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def bearer_from_subprotocols(
    request: web.Request, protocol: str = TERMINAL_SUBPROTOCOL
) -> str | None:
    """The token from ``bearer.<JWT>``, offered next to ``protocol`` (exactly one)."""
    offered = offered_subprotocols(request)
    if protocol not in offered:
        return None
    tokens = [p[len(BEARER_SUBPROTOCOL_PREFIX) :] for p in offered if p.startswith("bearer.")]
    return tokens[0] if len(tokens) == 1 else None


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Exact-match allowlist. A request without ``Origin`` is not from a browser page (browsers
    always send it on WebSocket handshakes and cross-origin fetches), so the token alone decides;
    any present value, including ``null``, must match exactly."""
    origin = request.headers.get("Origin")
    return origin is None or origin in allowed
