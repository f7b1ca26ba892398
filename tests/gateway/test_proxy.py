"""The proxy route: credentials, allow-list, streaming, usage, size cap and upstream failures."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from yarl import URL

from tests.gateway.conftest import GatewayFactory, RunningGateway
from tests.gateway.fake_upstream import FAKE_KEY, MODEL, FakeAnthropic
from tests.support.net import free_port
from tests.support.wait import async_wait_for
from workspace_agent.gateway.usage import ResponseUsage, estimate_cost
from workspace_agent.logs import JsonFormatter

BODY = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
VERSION = {"anthropic-version": "2023-06-01", "anthropic-beta": "prompt-caching-2024-07-31"}


async def post_messages(
    gateway: RunningGateway, seat: int = 1, *, stream: bool = False,
    headers: dict[str, str] | None = None,
) -> tuple[int, CIMultiDict[str], bytes]:  # fmt: skip
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            gateway.model_url(seat) + "?beta=true",
            json={**BODY, "stream": stream},
            headers={**VERSION, **(headers if headers is not None else gateway.bearer(seat))},
        ) as resp,
    ):
        return resp.status, CIMultiDict(resp.headers), await resp.read()


def error_type(body: bytes) -> str:
    doc = json.loads(body)
    assert doc["type"] == "error", doc
    return str(doc["error"]["type"])


# ------------------------------------------------------------------------ credentials
@pytest.mark.parametrize("stream", [False, True])
async def test_key_reaches_the_upstream_and_never_the_client(
    gateway: RunningGateway, fake: FakeAnthropic, stream: bool
) -> None:
    status, headers, body = await post_messages(gateway, stream=stream)

    assert status == 200, body
    sent = fake.requests[-1]
    assert sent.headers["x-api-key"] == FAKE_KEY
    assert "Authorization" not in sent.headers
    assert gateway.handle.tokens.token_for(1) not in json.dumps(dict(sent.headers))
    assert sent.headers["anthropic-version"] == VERSION["anthropic-version"]
    assert sent.headers["anthropic-beta"] == VERSION["anthropic-beta"]
    assert sent.query == "beta=true"
    assert FAKE_KEY not in body.decode() + repr(dict(headers))


async def test_the_seat_token_is_also_accepted_as_x_api_key(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    token = gateway.handle.tokens.token_for(2)
    status, _, body = await post_messages(gateway, 2, headers={"x-api-key": token})

    assert status == 200, body
    assert fake.requests[-1].headers["x-api-key"] == FAKE_KEY


async def test_a_seat_token_cannot_be_used_for_another_seat(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    status, _, body = await post_messages(gateway, 2, headers=gateway.bearer(1))

    assert status == 401
    assert error_type(body) == "authentication_error"
    assert fake.requests == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"x-api-key": FAKE_KEY}, {"Authorization": "Basic x"}],
    ids=["none", "wrong", "the-real-key", "basic"],
)
async def test_missing_or_wrong_tokens_are_refused(
    gateway: RunningGateway, fake: FakeAnthropic, headers: dict[str, str]
) -> None:
    status, _, body = await post_messages(gateway, headers=headers)

    assert status == 401
    assert error_type(body) == "authentication_error"
    assert fake.requests == []


@pytest.mark.parametrize(
    "seat",
    # Besides seats not served here: spellings of seat 1 itself (whose token is sent), which
    # Python's int() would accept; only canonical ASCII decimal reaches a seat.
    ["4", "0", "01x", "99999999", "01", "+1", "%EF%BC%91", "%D9%A1", "1_0", "%201"],
)
async def test_seats_this_host_does_not_serve_are_not_found(
    gateway: RunningGateway, fake: FakeAnthropic, seat: str
) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            URL(f"{gateway.url}/seats/{seat}/model/v1/messages", encoded=True),
            json=BODY,
            headers=gateway.bearer(1),
        ) as resp,
    ):
        assert resp.status == 404
        assert error_type(await resp.read()) == "not_found_error"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("method", "tail"),
    [
        ("GET", "v1/messages"),
        ("POST", "v1/complete"),
        ("DELETE", "v1/models"),
        ("POST", "v1/messages/batches"),
        ("GET", "v1/files"),
        ("POST", "v1/messages/../../admin"),
        ("GET", "v1/models/..%2F..%2Fadmin"),
        ("GET", "v1/models/.."),
        ("GET", "v1/models/%2E%2E"),
        ("GET", ""),
    ],
)
async def test_only_allow_listed_endpoints_are_forwarded(
    gateway: RunningGateway, fake: FakeAnthropic, method: str, tail: str
) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.request(
            method, gateway.model_url(1, tail), headers=gateway.bearer(1), json={}
        ) as resp,
    ):
        assert resp.status == 404
        assert error_type(await resp.read()) == "not_found_error"
    assert fake.requests == []


# -------------------------------------------------------------------------- streaming
async def test_stream_chunks_reach_the_client_before_the_upstream_finishes(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    fake.gate = asyncio.Event()
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            gateway.model_url(1),
            json={**BODY, "stream": True},
            headers={**VERSION, **gateway.bearer(1)},
        ) as resp,
    ):
        assert resp.status == 200
        assert resp.content_type == "text/event-stream"
        first = await resp.content.readuntil(b"\n\n")  # the fake is now held at the gate
        assert b"event: message_start" in first
        assert not fake.gate.is_set()
        fake.gate.set()
        rest = await resp.read()
    assert b"event: message_delta" in rest
    assert rest.rstrip().endswith(b'{"type": "message_stop"}')


async def test_client_disconnect_mid_stream_cancels_the_upstream_request(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    await _disconnect_mid_stream(await gateway_factory(), fake)


async def test_disconnect_also_cancels_upstream_when_aiohttp_cancels_handlers(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    await _disconnect_mid_stream(await gateway_factory(handler_cancellation=True), fake)


async def _disconnect_mid_stream(gateway: RunningGateway, fake: FakeAnthropic) -> None:
    fake.gate = asyncio.Event()  # never released: only a cancellation ends the fake's stream
    async with aiohttp.ClientSession() as client:
        resp = await client.post(
            gateway.model_url(1), json={**BODY, "stream": True}, headers=gateway.bearer(1)
        )
        await resp.content.readuntil(b"\n\n")
        resp.close()  # drop the connection mid-stream

    await asyncio.wait_for(fake.stream_cancelled.wait(), timeout=5)
    # What the upstream reported before the hang-up is still counted (it is billed).
    totals = await async_wait_for(
        lambda: gateway.handle.ledger.totals(1).requests == 1 and gateway.handle.ledger.totals(1),
        message="the partial stream's usage to be recorded",
    )
    assert totals.input_tokens == fake.usage["input_tokens"]
    assert totals.output_tokens == 1


async def test_upstream_dropping_a_stream_ends_it_with_an_sse_error_event(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    fake.mode = "break_stream"
    status, _, body = await post_messages(gateway, stream=True)

    assert status == 200  # the headers were already sent when the upstream broke
    assert b"event: message_start" in body
    tail = body.rstrip().split(b"\n")[-1]
    assert tail.startswith(b"data: ")
    assert error_type(tail[len(b"data: ") :]) == "api_error"


# ------------------------------------------------------------------------------ usage
async def test_usage_totals_equal_what_the_upstream_reported(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    reported: list[dict[str, int]] = []
    for i, stream in enumerate([True, False, True, True, False]):
        fake.usage = {
            "input_tokens": 10 + i,
            "output_tokens": 100 * (i + 1),
            "cache_creation_input_tokens": 7 * i,
            "cache_read_input_tokens": 1000 + i,
        }
        status, _, body = await post_messages(gateway, 2, stream=stream)
        assert status == 200, body
        reported.append(dict(fake.usage))

    totals = gateway.handle.ledger.totals(2)
    for name in reported[0]:
        assert getattr(totals, name) == sum(u[name] for u in reported), name
    assert totals.requests == 5
    expected_cost = sum(
        estimate_cost(ResponseUsage(model=MODEL, **u), gateway.handle.governor.policy.prices)[0]
        for u in reported
    )
    assert totals.cost_usd == pytest.approx(expected_cost)
    assert gateway.handle.ledger.totals(1).requests == 0


async def test_count_tokens_and_model_routes_are_forwarded_but_not_counted(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    async with aiohttp.ClientSession(headers={**VERSION, **gateway.bearer(1)}) as client:
        async with client.post(gateway.model_url(1, "v1/messages/count_tokens"), json=BODY) as r:
            assert r.status == 200
            assert await r.json() == {"input_tokens": 42}
        async with client.get(gateway.model_url(1, "v1/models") + "?limit=5") as r:
            assert r.status == 200
            assert (await r.json())["data"][0]["id"] == MODEL
        async with client.get(gateway.model_url(1, f"v1/models/{MODEL}")) as r:
            assert (await r.json())["id"] == MODEL

    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", "/v1/messages/count_tokens"), ("GET", "/v1/models"),
        ("GET", f"/v1/models/{MODEL}"),
    ]  # fmt: skip
    assert all(r.headers["x-api-key"] == FAKE_KEY for r in fake.requests)
    assert fake.requests[1].query == "limit=5"
    assert gateway.handle.ledger.totals(1).requests == 0


# ------------------------------------------------------------------------- body limit
async def test_bodies_over_the_cap_are_refused_before_the_upstream(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    gateway = await gateway_factory(max_body_bytes=1024)
    big = json.dumps({**BODY, "messages": [{"role": "user", "content": "x" * 2000}]}).encode()

    async def chunked() -> Any:
        for start in range(0, len(big), 256):
            yield big[start : start + 256]

    async with aiohttp.ClientSession(headers=gateway.bearer(1)) as client:
        for data in (big, chunked()):  # declared length, then chunked without a length
            async with client.post(gateway.model_url(1), data=data) as resp:
                assert resp.status == 413
                assert error_type(await resp.read()) == "request_too_large"
        async with client.post(gateway.model_url(1), json=BODY) as resp:
            assert resp.status == 200  # under the cap still works
    assert len(fake.requests) == 1


# ---------------------------------------------------------------------- upstream faults
async def test_an_upstream_html_500_becomes_a_clean_502(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    fake.mode = "html_500"
    status, headers, body = await post_messages(gateway)

    assert status == 502
    assert error_type(body) == "api_error"
    assert b"<html>" not in body
    assert headers["Content-Type"].startswith("application/json")


async def test_anthropic_errors_pass_through_with_their_status(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    fake.mode = "overloaded"
    status, _, body = await post_messages(gateway)

    assert status == 529  # Claude Code retries overloaded errors itself
    assert error_type(body) == "overloaded_error"
    assert gateway.handle.ledger.totals(1).requests == 0


async def test_a_silent_upstream_times_out_as_504(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    gateway = await gateway_factory(read_timeout=0.3)
    fake.mode = "hang"
    status, _, body = await post_messages(gateway)

    assert status == 504
    assert error_type(body) == "timeout_error"


async def test_an_unreachable_upstream_is_a_502(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(upstream=f"http://127.0.0.1:{free_port()}")
    status, _, body = await post_messages(gateway)

    assert status == 502
    assert error_type(body) == "api_error"


async def test_without_a_key_the_gateway_refuses_with_503(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    from tests.gateway.conftest import MemorySecrets

    gateway = await gateway_factory(secrets=MemorySecrets())
    status, _, body = await post_messages(gateway)

    assert status == 503
    assert error_type(body) == "api_error"
    assert fake.requests == []


async def test_the_key_never_appears_in_logs(
    gateway_factory: GatewayFactory, fake: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = await gateway_factory(read_timeout=0.3)
    for mode in ("ok", "html_500", "overloaded", "hang", "break_stream"):
        fake.mode = mode
        await post_messages(gateway, stream=mode == "break_stream")
    await post_messages(gateway, headers={"x-api-key": "wrong"})
    down = await gateway_factory(upstream=f"http://127.0.0.1:{free_port()}")
    await post_messages(down)
    await gateway.stop()

    assert len(caplog.records) > 5  # the failure paths did log
    formatted = [JsonFormatter().format(r) for r in caplog.records]  # the agent's log lines
    logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records) + "".join(formatted)
    assert any('"event": "model_upstream_timeout"' in line for line in formatted)
    assert FAKE_KEY not in logged
    assert gateway.handle.tokens.token_for(1) not in logged
    assert FAKE_KEY not in repr(gateway.handle)
    assert FAKE_KEY not in f"{gateway.handle.api_key!r} {gateway.handle.api_key}"
