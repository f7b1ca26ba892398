"""Budgets, rate limits and the kill switch: refused before the upstream, in Anthropic shape."""

from __future__ import annotations

import aiohttp
import pytest

from shared.auth.tokens import SigningKey
from shared.domain.model_policy import ModelPolicy, ModelPrice, SeatLimits
from tests.gateway.conftest import GatewayFactory, RunningGateway, instructor_token, learner_token
from tests.gateway.fake_upstream import MODEL, FakeAnthropic
from tests.gateway.test_proxy import error_type, post_messages
from workspace_agent.gateway.limits import Governor
from workspace_agent.gateway.usage import ResponseUsage, UsageLedger


def policy(**defaults: object) -> ModelPolicy:
    return ModelPolicy(defaults=SeatLimits(**defaults))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- budgets
async def test_output_budget_cuts_off_at_the_first_request_after_the_limit(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    # 30 output tokens per response, limit 100: requests 1-4 pass (120 used), the 5th is refused.
    gateway = await gateway_factory(policy=policy(max_output_tokens=100))
    statuses = [(await post_messages(gateway, stream=True))[0] for _ in range(4)]
    status, headers, body = await post_messages(gateway)

    assert statuses == [200, 200, 200, 200]
    assert status == 429
    assert error_type(body) == "rate_limit_error"
    assert b"Seat budget reached (120 of 100 output tokens used)" in body
    assert headers["x-should-retry"] == "false"
    assert len(fake.requests) == 4
    assert (await post_messages(gateway, 2))[0] == 200  # budgets are per seat


async def test_input_limit_counts_cache_reads_and_writes(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    # Each response reads 12 + 100 + 2000 = 2112 prompt tokens; limit 4000 -> two requests.
    gateway = await gateway_factory(policy=policy(max_input_tokens=4000))
    results = [(await post_messages(gateway))[0] for _ in range(3)]

    assert results == [200, 200, 429]
    assert len(fake.requests) == 2


async def test_usd_budget_uses_the_price_table(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    fake.usage = {"input_tokens": 1_000_000, "output_tokens": 0,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}  # fmt: skip
    prices = {MODEL: ModelPrice(input=1, output=1)}  # $1 per request
    gateway = await gateway_factory(
        policy=ModelPolicy(defaults=SeatLimits(budget_usd=2.5), prices=prices)
    )
    results = [(await post_messages(gateway))[0] for _ in range(4)]

    assert results == [200, 200, 200, 429]
    assert gateway.handle.ledger.totals(1).cost_usd == pytest.approx(3.0)


async def test_seat_overrides_replace_the_defaults(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    gateway = await gateway_factory(
        policy=ModelPolicy(
            defaults=SeatLimits(max_output_tokens=1000),
            seat_overrides={"2": SeatLimits(max_output_tokens=30)},
        )
    )
    assert [(await post_messages(gateway, 2))[0] for _ in range(2)] == [200, 429]
    assert [(await post_messages(gateway, 1))[0] for _ in range(2)] == [200, 200]


async def test_rate_limit_refuses_with_retry_after(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    gateway = await gateway_factory(policy=policy(requests_per_minute=2))
    first, second = (await post_messages(gateway))[0], (await post_messages(gateway))[0]
    status, headers, body = await post_messages(gateway)

    assert (first, second, status) == (200, 200, 429)
    assert error_type(body) == "rate_limit_error"
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-should-retry"] == "true"
    assert len(fake.requests) == 2


def test_the_rate_window_slides() -> None:
    now = [1000.0]
    governor = Governor(policy(requests_per_minute=3), UsageLedger(), clock=lambda: now[0])
    admitted = []
    for t in (0, 10, 20, 30, 59.9, 60.1, 70.1):
        now[0] = 1000.0 + t
        admitted.append(governor.admit(1) is None)

    # 3 in the first minute; at 60.1 the t=0 request has left the window, at 70.1 the t=10 one.
    assert admitted == [True, True, True, False, False, True, True]
    assert governor.admit(2) is None  # windows are per seat


def test_budget_refusal_happens_before_the_rate_window_counts_it() -> None:
    ledger = UsageLedger()
    governor = Governor(policy(requests_per_minute=1, max_output_tokens=10), ledger)
    ledger.record(1, ResponseUsage(output_tokens=10, seen=True), 0.0)

    refusal = governor.admit(1)

    assert refusal is not None and refusal.kind == "rate_limit_error" and not refusal.retry


# ------------------------------------------------------------------------ kill switch
async def put_access(gateway: RunningGateway, token: str | None, body: object) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as client,
        client.put(f"{gateway.url}/control/model-access", json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_the_kill_switch_pauses_and_resumes_every_seat(
    gateway: RunningGateway, fake: FakeAnthropic, signing_key: SigningKey
) -> None:
    token = instructor_token(signing_key)
    assert await put_access(gateway, token, {"paused": True}) == (200, {"paused": True})

    for seat in (1, 2, 3):
        status, headers, body = await post_messages(gateway, seat, stream=True)
        # 429, not 403: Claude Code shows a 403 as a login problem ("Please run /login").
        assert status == 429
        assert error_type(body) == "rate_limit_error"
        assert b"paused by the instructor" in body
        assert headers["x-should-retry"] == "false"
    assert fake.requests == []

    assert await put_access(gateway, token, {"paused": False}) == (200, {"paused": False})
    assert (await post_messages(gateway))[0] == 200


async def test_the_pause_survives_an_agent_restart(
    gateway_factory: GatewayFactory, fake: FakeAnthropic, signing_key: SigningKey
) -> None:
    first = await gateway_factory()
    await put_access(first, instructor_token(signing_key), {"paused": True})
    await first.stop()

    second = await gateway_factory(paused=False)  # the boot-time setting is older than the PUT

    assert second.handle.paused
    assert (await post_messages(second))[0] == 429


@pytest.mark.parametrize(
    ("who", "status"), [("nobody", 401), ("learner", 403), ("other-workshop", 401)]
)
async def test_only_this_workshops_instructor_may_use_the_kill_switch(
    gateway: RunningGateway, signing_key: SigningKey, who: str, status: int
) -> None:
    token = {
        "nobody": None,
        "learner": learner_token(signing_key, 1),
        "other-workshop": instructor_token(signing_key, "another"),
    }[who]
    got, body = await put_access(gateway, token, {"paused": True})

    assert got == status
    assert set(body["error"]) == {"code", "message"}
    assert not gateway.handle.paused


@pytest.mark.parametrize("body", [{}, {"paused": "yes"}, {"paused": 1}, [True], "x" * 5000])
async def test_bad_kill_switch_bodies_are_400(
    gateway: RunningGateway, signing_key: SigningKey, body: object
) -> None:
    status, doc = await put_access(gateway, instructor_token(signing_key), body)

    assert status in (400, 413)
    assert "code" in doc["error"]
    assert not gateway.handle.paused


async def test_a_stopped_workshop_refuses_model_requests(
    gateway: RunningGateway, fake: FakeAnthropic
) -> None:
    gateway.handle.stop_workshop()
    status, _, body = await post_messages(gateway)

    assert status == 429
    assert b"ended" in body
    assert fake.requests == []


def test_seats_without_a_rate_limit_keep_no_request_window() -> None:
    governor = Governor(policy(), UsageLedger())
    for _ in range(1000):
        assert governor.admit(1) is None

    assert governor._recent == {}
