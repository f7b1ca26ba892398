"""Security checklist: learner JWT, seat binding, Origin and CORS on the agent."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt
import psutil
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization

from shared.auth.tokens import SigningKey, issue_token, jwks
from tests.agent.conftest import ISSUER, WEB_ORIGIN, WORKSHOP, AgentFactory, Tokens
from tests.agent.terminal_client import Terminal, subprotocols
from tests.support.wait import async_wait_for
from workspace_agent import auth as auth_module
from workspace_agent.auth import KeyStore

Client = TestClient[Any, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(seat: int = 1, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": f"clarateach:workshop:{WORKSHOP}",
        "sub": f"seat:{WORKSHOP}:1",
        "workshop_id": WORKSHOP,
        "role": "learner",
        "seat": seat,
        "host": 0,
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
    }
    claims.update(over)
    return claims


def alg_none(key: SigningKey) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": key.kid}).encode())
    return f"{header}.{_b64(json.dumps(_claims()).encode())}."


def edited_payload(key: SigningKey) -> str:
    header, _, signature = issue_token(
        key, issuer=ISSUER, workshop_id=WORKSHOP, host=0, seat=2
    ).split(".")
    return f"{header}.{_b64(json.dumps(_claims(seat=1)).encode())}.{signature}"


def hs256_with_public_key(key: SigningKey) -> str:
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
        + "."
        + _b64(json.dumps(_claims()).encode())
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def unknown_kid(key: SigningKey, other: SigningKey) -> str:
    return issue_token(other, issuer=ISSUER, workshop_id=WORKSHOP, host=0, seat=1)


def jku_header(key: SigningKey) -> str:
    return jwt.encode(
        _claims(),
        key.private_key,
        algorithm="RS256",
        headers={"kid": key.kid, "jku": "https://evil.test/jwks.json"},
    )


def expired(key: SigningKey) -> str:
    return issue_token(
        key,
        issuer=ISSUER,
        workshop_id=WORKSHOP,
        host=0,
        seat=1,
        now=int(time.time()) - 7200,
        ttl_seconds=3600,
    )


def wrong_audience(key: SigningKey) -> str:
    return issue_token(key, issuer=ISSUER, workshop_id="other-ws", host=0, seat=1)


def wrong_issuer(key: SigningKey) -> str:
    return issue_token(key, issuer="https://evil.test", workshop_id=WORKSHOP, host=0, seat=1)


FORGERIES: dict[str, Callable[[SigningKey, SigningKey], str]] = {
    "alg_none": lambda k, o: alg_none(k),
    "edited_payload": lambda k, o: edited_payload(k),
    "hs256_with_public_key": lambda k, o: hs256_with_public_key(k),
    "unknown_kid": unknown_kid,
    "jku_header": lambda k, o: jku_header(k),
    "expired": lambda k, o: expired(k),
    "wrong_audience": lambda k, o: wrong_audience(k),
    "wrong_issuer": lambda k, o: wrong_issuer(k),
    "garbage": lambda k, o: "not.a.jwt",
}


def children() -> set[int]:
    """Live processes the agent under test (running in this process) spawned directly: an
    attach would show up here. Grandchildren (the seats' login shells running their profile
    scripts) come and go on their own, so they are not counted."""
    alive = []
    for child in psutil.Process().children(recursive=False):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return set(alive)


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_forged_tokens_are_rejected_on_files_and_terminal(
    agent: Client, signing_key: SigningKey, other_key: SigningKey, forgery: str
) -> None:
    token = FORGERIES[forgery](signing_key, other_key)
    before = children()
    resp = await agent.get("/seats/1/files", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "invalid_token"
    assert token not in await resp.text()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await Terminal.open(agent, 1, token)
    assert refused.value.status == 401
    assert not children() - before  # refused before the upgrade: nothing spawned


async def test_missing_token_is_refused_before_upgrade(agent: Client) -> None:
    before = children()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await Terminal.open(agent, 1, None)
    assert refused.value.status == 401
    assert (await agent.get("/seats/1/files")).status == 401
    assert not children() - before


async def test_token_in_url_is_never_accepted(agent: Client, tokens: Tokens) -> None:
    token = tokens.learner(1)
    for name in ("token", "access_token", "jwt", "bearer"):
        resp = await agent.get(f"/seats/1/files?{name}={token}")
        assert resp.status == 401, name
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await agent.ws_connect(
                f"/seats/1/terminal?{name}={token}", protocols=subprotocols(None)
            )
        assert refused.value.status == 401


async def test_seat_in_path_must_match_the_token(agent: Client, tokens: Tokens) -> None:
    token = tokens.learner(1)
    before = children()
    resp = await agent.get("/seats/2/files", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "wrong_seat"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await Terminal.open(agent, 2, token)
    assert refused.value.status == 403
    assert not children() - before


async def test_unknown_seat_is_404(agent: Client, tokens: Tokens) -> None:
    for seat in ("3", "0", "-1", "01x", "9999999"):
        resp = await agent.get(
            f"/seats/{seat}/files", headers={"Authorization": f"Bearer {tokens.learner(1)}"}
        )
        assert resp.status == 404, seat


@pytest.mark.parametrize(
    "origin",
    ["http://evil.test", "null", WEB_ORIGIN + ".evil.test", WEB_ORIGIN.replace("http", "https")],
)
async def test_foreign_origin_is_refused_before_upgrade(
    agent: Client, tokens: Tokens, origin: str
) -> None:
    before = children()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await Terminal.open(agent, 1, tokens.learner(1), origin=origin)
    assert refused.value.status == 403
    assert not children() - before


async def test_allowed_origin_may_open_a_terminal(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1), origin=WEB_ORIGIN)
    assert term.hello["seat"] == 1
    await term.close()


async def test_instructor_reads_files_but_never_writes(agent: Client, tokens: Tokens) -> None:
    learner = {"Authorization": f"Bearer {tokens.learner(1)}"}
    teacher = {"Authorization": f"Bearer {tokens.instructor()}"}
    assert (
        await agent.put("/seats/1/files/content?path=a.txt", data=b"hi", headers=learner)
    ).status == 200
    read = await agent.get("/seats/1/files/content?path=a.txt", headers=teacher)
    assert read.status == 200 and await read.read() == b"hi"
    for method, url in [
        ("PUT", "/seats/1/files/content?path=b.txt"),
        ("POST", "/seats/1/files/mkdir?path=d"),
        ("DELETE", "/seats/1/files?path=a.txt"),
    ]:
        resp = await agent.request(method, url, data=b"x", headers=teacher)
        assert resp.status == 403, url
        assert (await resp.json())["error"]["code"] == "read_only"


async def test_cors_exact_allowlist(agent: Client, tokens: Tokens) -> None:
    preflight = {
        "Origin": WEB_ORIGIN,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    ok = await agent.options("/seats/1/files/content", headers=preflight)
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in ok.headers
    evil = await agent.options(
        "/seats/1/files/content", headers={**preflight, "Origin": "http://evil.test"}
    )
    assert evil.status == 403 and "Access-Control-Allow-Origin" not in evil.headers
    auth = {"Authorization": f"Bearer {tokens.learner(1)}"}
    got = await agent.get("/seats/1/files", headers={**auth, "Origin": WEB_ORIGIN})
    assert got.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    foreign = await agent.get("/seats/1/files", headers={**auth, "Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert "*" not in (got.headers.get("Access-Control-Allow-Origin"),)


async def _jwks_server(documents: list[dict[str, Any]], hits: list[int]) -> TestServer:
    async def handler(request: web.Request) -> web.Response:
        hits.append(1)
        return web.json_response(documents[-1])

    app = web.Application()
    app.router.add_get("/jwks.json", handler)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_keys_are_refetched_on_unknown_kid_rate_limited(
    signing_key: SigningKey, other_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents, hits = [jwks([signing_key])], []
    server = await _jwks_server(documents, hits)
    store = KeyStore(str(server.make_url("/jwks.json")))
    runner = store.run()
    await runner.__anext__()
    try:
        await async_wait_for(lambda: store.loaded, message="initial JWKS fetch")
        rotated = issue_token(other_key, issuer=ISSUER, workshop_id=WORKSHOP, host=0, seat=1)
        documents.append(jwks([signing_key, other_key]))  # the API rotated its key
        fetches = len(hits)
        with pytest.raises(auth_module.InvalidToken):  # just fetched: no refetch yet
            await store.verify(rotated, issuer=ISSUER, workshop_id=WORKSHOP, now=int(time.time()))
        assert len(hits) == fetches
        monkeypatch.setattr(auth_module, "REFETCH_MIN_INTERVAL", 0.0)
        claims = await store.verify(
            rotated, issuer=ISSUER, workshop_id=WORKSHOP, now=int(time.time())
        )
        assert claims.seat == 1 and len(hits) == fetches + 1
    finally:
        with pytest.raises(StopAsyncIteration):
            await runner.__anext__()
        await server.close()


async def test_agent_loads_keys_from_jwks_url(
    make_agent: AgentFactory, settings: Any, signing_key: SigningKey, tokens: Tokens
) -> None:
    server = await _jwks_server([jwks([signing_key])], [])
    try:
        client = await make_agent(
            dataclasses.replace(settings, jwks_url=str(server.make_url("/jwks.json"))), keys=None
        )

        async def ready() -> bool:
            return (await client.get("/readyz")).status == 200

        await async_wait_for(ready, message="keys loaded and seats ready")
        resp = await client.get(
            "/seats/1/files", headers={"Authorization": f"Bearer {tokens.learner(1)}"}
        )
        assert resp.status == 200
    finally:
        await server.close()
