"""Per-seat model pause (``PUT /control/model-access`` with a seat) and the per-seat model
error counters the gateway reports with its usage (docs/gateway.md, docs/cockpit.md)."""

from __future__ import annotations

import aiohttp
import pytest

from shared.auth.tokens import SigningKey
from shared.domain.model_policy import ModelPolicy, SeatLimits
from tests.gateway.conftest import (
    KEY_REF,
    GatewayFactory,
    MemorySecrets,
    RunningGateway,
    instructor_token,
    learner_token,
)
from tests.gateway.fake_upstream import FakeAnthropic
from tests.gateway.test_limits import put_access
from tests.gateway.test_proxy import error_type, post_messages
from tests.support.net import free_port


def counters(gateway: RunningGateway, seat: int) -> dict[str, int | float]:
    return gateway.handle.usage_snapshot()[str(seat)]


async def test_pausing_one_seat_refuses_only_that_seat(
    gateway: RunningGateway, fake: FakeAnthropic, signing_key: SigningKey
) -> None:
    token = instructor_token(signing_key)

    assert await put_access(gateway, token, {"paused": True, "seat": 2}) == (
        200,
        {"seat": 2, "paused": True},
    )

    status, headers, body = await post_messages(gateway, 2)
    assert status == 429 and headers["x-should-retry"] == "false"
    assert error_type(body) == "rate_limit_error"
    assert b"paused for your seat" in body
    assert (await post_messages(gateway, 1))[0] == 200
    assert (await post_messages(gateway, 3))[0] == 200
    assert len(fake.requests) == 2  # seat 2's request never reached the upstream
    assert counters(gateway, 2)["paused_refused"] == 1
    assert counters(gateway, 1)["paused_refused"] == 0

    assert await put_access(gateway, token, {"paused": False, "seat": 2}) == (
        200,
        {"seat": 2, "paused": False},
    )
    assert (await post_messages(gateway, 2))[0] == 200


async def test_resuming_every_seat_lifts_single_seat_pauses(
    gateway: RunningGateway, signing_key: SigningKey
) -> None:
    token = instructor_token(signing_key)
    await put_access(gateway, token, {"paused": True, "seat": 3})
    await put_access(gateway, token, {"paused": True})
    assert (await post_messages(gateway, 1))[0] == 429

    await put_access(gateway, token, {"paused": False})

    assert gateway.handle.paused_seats == []
    assert (await post_messages(gateway, 3))[0] == 200


async def test_a_seat_pause_survives_an_agent_restart(
    gateway_factory: GatewayFactory, signing_key: SigningKey
) -> None:
    first = await gateway_factory()
    await put_access(first, instructor_token(signing_key), {"paused": True, "seat": 1})
    await first.stop()

    second = await gateway_factory()

    assert second.handle.paused_seats == [1] and not second.handle.paused
    assert (await post_messages(second, 1))[0] == 429
    assert (await post_messages(second, 2))[0] == 200


async def test_seats_paused_in_the_configuration_start_paused(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(paused_seats=frozenset({3, 99}))  # 99: not this host's

    assert gateway.handle.paused_seats == [3]
    assert (await post_messages(gateway, 3))[0] == 429


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"paused": True, "seat": 9}, 404),
        ({"paused": True, "seat": "1"}, 400),
        ({"paused": True, "seat": True}, 400),
        ({"seat": 1}, 400),
    ],
)
async def test_bad_seat_pauses_are_refused(
    gateway: RunningGateway, signing_key: SigningKey, body: dict, status: int
) -> None:
    got, doc = await put_access(gateway, instructor_token(signing_key), body)

    assert got == status and set(doc["error"]) == {"code", "message"}
    assert gateway.handle.paused_seats == []


async def test_the_live_model_view_shows_pauses_and_errors(
    gateway: RunningGateway, signing_key: SigningKey
) -> None:
    await put_access(gateway, instructor_token(signing_key), {"paused": True, "seat": 2})
    await post_messages(gateway, 2)

    assert gateway.handle.model_view(2) == {
        "paused": True,
        "errors": {"upstream_unreachable": 0, "key_refused": 0, "budget_refused": 0,
                   "rate_refused": 0, "paused_refused": 1},
    }  # fmt: skip
    assert gateway.handle.model_view(1)["paused"] is False  # type: ignore[index]
    assert gateway.handle.model_view(9) is None  # not a seat of this host


# ------------------------------------------------------------------------ error counters
async def test_an_unreachable_upstream_is_counted_for_the_seat(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(upstream=f"http://127.0.0.1:{free_port()}")

    assert (await post_messages(gateway, 2))[0] == 502
    assert (await post_messages(gateway, 2))[0] == 502

    assert counters(gateway, 2)["upstream_unreachable"] == 2
    assert counters(gateway, 1)["upstream_unreachable"] == 0
    assert counters(gateway, 2)["requests"] == 0


async def test_a_key_refused_upstream_is_counted(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(secrets=MemorySecrets({KEY_REF: "sk-ant-api03-revoked"}))

    status, _, body = await post_messages(gateway, 1)

    assert status == 401 and error_type(body) == "authentication_error"  # relayed as is
    assert counters(gateway, 1)["key_refused"] == 1


async def test_a_missing_key_is_counted_as_refused(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(secrets=MemorySecrets())

    assert (await post_messages(gateway, 3))[0] == 503
    assert counters(gateway, 3)["key_refused"] == 1


async def test_budget_and_rate_refusals_are_counted_apart(
    gateway_factory: GatewayFactory,
) -> None:
    policy = ModelPolicy(
        defaults=SeatLimits(requests_per_minute=1),
        seat_overrides={"2": SeatLimits(max_output_tokens=0)},
    )
    gateway = await gateway_factory(policy=policy)

    assert (await post_messages(gateway, 1))[0] == 200
    assert (await post_messages(gateway, 1))[0] == 429  # rate
    assert (await post_messages(gateway, 2))[0] == 429  # budget (0 output tokens allowed)

    assert (counters(gateway, 1)["rate_refused"], counters(gateway, 1)["budget_refused"]) == (1, 0)
    assert (counters(gateway, 2)["rate_refused"], counters(gateway, 2)["budget_refused"]) == (0, 1)


async def test_error_counters_are_published_with_the_usage(
    gateway_factory: GatewayFactory,
) -> None:
    published: list = []
    gateway = await gateway_factory(
        upstream=f"http://127.0.0.1:{free_port()}", publish=published.append
    )
    await post_messages(gateway, 1)

    await gateway.handle.flush()

    assert published, "an error alone changes the totals, so it is reported"
    assert published[-1].data["seats"]["1"]["upstream_unreachable"] == 1


# ------------------------------------------------------------------------ policy change
async def put_policy(gateway: RunningGateway, token: str, body: object) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as client,
        client.put(
            f"{gateway.url}/control/model-policy",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_a_new_policy_applies_to_the_next_request_and_survives_a_restart(
    gateway_factory: GatewayFactory, signing_key: SigningKey
) -> None:
    first = await gateway_factory()
    assert (await post_messages(first, 1))[0] == 200
    strict = ModelPolicy(defaults=SeatLimits(requests_per_minute=1))

    status, body = await put_policy(
        first, instructor_token(signing_key), {"model_policy": strict.model_dump(mode="json")}
    )

    assert (status, body) == (200, {"applied": True})
    assert (await post_messages(first, 1))[0] == 200  # the rate window starts with the policy
    status, _, refused = await post_messages(first, 1)
    assert status == 429 and b"1 requests per minute" in refused
    await first.stop()

    second = await gateway_factory()  # its configuration still has the old, unlimited policy
    assert second.handle.governor.policy.defaults.requests_per_minute == 1
    assert second.handle.config.policy.defaults.requests_per_minute == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"model_policy": {"defaults": {"requests_per_minute": 0}}}, {"model_policy": "x"}, []],
)
async def test_a_bad_policy_is_refused_and_the_old_one_kept(
    gateway: RunningGateway, signing_key: SigningKey, body: object
) -> None:
    before = gateway.handle.governor.policy

    status, doc = await put_policy(gateway, instructor_token(signing_key), body)

    assert status == 400 and set(doc["error"]) == {"code", "message"}
    assert gateway.handle.governor.policy == before


async def test_only_the_instructor_may_change_the_policy(
    gateway: RunningGateway, signing_key: SigningKey
) -> None:
    status, _ = await put_policy(gateway, learner_token(signing_key, 1), {"model_policy": {}})
    assert status == 403
