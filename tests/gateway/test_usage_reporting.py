"""Usage reporting: the control endpoint, persistence across restarts, ``host.usage`` events,
and the private files the gateway keeps."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import aiohttp

from shared.auth.tokens import SigningKey
from shared.domain.events import HOST_USAGE, Event
from tests.gateway.conftest import WORKSHOP, GatewayFactory, instructor_token
from tests.gateway.fake_upstream import FAKE_KEY, FakeAnthropic
from tests.gateway.test_proxy import post_messages
from tests.support.wait import async_wait_for
from workspace_agent.content.progress import ProgressStore


async def test_control_usage_reports_per_seat_totals(
    gateway_factory: GatewayFactory, fake: FakeAnthropic, signing_key: SigningKey
) -> None:
    gateway = await gateway_factory()
    await post_messages(gateway, 3, stream=True)

    async with (
        aiohttp.ClientSession() as client,
        client.get(
            f"{gateway.url}/control/usage",
            headers={"Authorization": f"Bearer {instructor_token(signing_key)}"},
        ) as resp,
    ):
        assert resp.status == 200
        seats = (await resp.json())["seats"]

    assert set(seats) == {"1", "2", "3"}
    assert seats["3"]["requests"] == 1
    assert seats["3"]["output_tokens"] == fake.usage["output_tokens"]
    assert seats["3"]["cache_read_input_tokens"] == fake.usage["cache_read_input_tokens"]
    assert seats["3"]["cost_usd"] > 0
    assert seats["1"]["requests"] == 0


async def test_control_usage_needs_an_instructor(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory()
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{gateway.url}/control/usage", headers=gateway.bearer(1)) as resp,
    ):
        assert resp.status == 401


async def test_totals_survive_an_agent_restart(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    first = await gateway_factory()
    for _ in range(3):
        await post_messages(first, 2)
    before = first.handle.usage_snapshot()
    await first.stop()  # the shutdown flush writes the totals

    second = await gateway_factory()
    await post_messages(second, 2)

    assert second.handle.usage_snapshot()["2"]["requests"] == 4
    assert before["2"]["requests"] == 3
    assert second.handle.tokens.token_for(2) == first.handle.tokens.token_for(2)


async def test_usage_is_published_as_host_usage_events(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    published: list[Event] = []
    gateway = await gateway_factory(publish=published.append, flush_interval=0.05, host_index=4)
    await post_messages(gateway, 1)

    await async_wait_for(lambda: published, message="a host.usage event")
    event = published[-1]
    assert event.type == HOST_USAGE
    assert event.workshop_id == WORKSHOP
    assert event.data["host_index"] == 4
    assert event.data["seats"]["1"]["requests"] == 1
    assert event.data["seats"]["1"]["input_tokens"] == fake.usage["input_tokens"]
    Event.from_message(event.to_message()[0])  # a valid wire event

    # Nothing changed since: an idle gateway publishes nothing more.
    count = len(published)
    await gateway.handle.flush()
    assert len(published) == count


async def test_a_failed_publish_is_retried_at_the_next_flush(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    attempts: list[Event] = []

    async def flaky(event: Event) -> None:
        attempts.append(event)
        if len(attempts) == 1:
            raise ConnectionError("bus down")

    gateway = await gateway_factory(publish=flaky, flush_interval=3600)
    await post_messages(gateway, 1)
    await gateway.handle.flush()
    await gateway.handle.flush()

    assert len(attempts) == 2
    assert attempts[1].data["seats"]["1"]["requests"] == 1


async def test_gateway_files_are_private_and_hold_no_key(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    gateway = await gateway_factory()
    await post_messages(gateway, 1)
    await gateway.stop()
    directory = gateway.handle.config.gateway_dir

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["seat-tokens.json", "usage.json"]
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert FAKE_KEY not in path.read_text()
    tokens = json.loads((directory / "seat-tokens.json").read_text())
    assert set(tokens) == {"1", "2", "3"}
    assert len(set(tokens.values())) == 3


async def test_concurrent_streams_on_many_seats_are_counted_exactly(
    gateway_factory: GatewayFactory, fake: FakeAnthropic
) -> None:
    gateway = await gateway_factory()
    results = await asyncio.gather(
        *(post_messages(gateway, seat, stream=True) for seat in (1, 2, 3) for _ in range(5))
    )

    assert all(status == 200 for status, _, _ in results)
    snapshot = gateway.handle.usage_snapshot()
    for seat in ("1", "2", "3"):
        assert snapshot[seat]["requests"] == 5
        assert snapshot[seat]["output_tokens"] == 5 * fake.usage["output_tokens"]


async def test_guide_progress_rides_along_in_host_usage(
    gateway_factory: GatewayFactory, fake: FakeAnthropic, tmp_path: Path
) -> None:
    """A content pack's per-seat progress (docs/content-packs.md) is sent with the usage,
    also when only the progress changed."""
    published: list[Event] = []
    gateway = await gateway_factory(publish=published.append, flush_interval=0.05)
    progress = ProgressStore(tmp_path / "guide", [1, 2, 3], ["a", "b", "c"])
    gateway.handle.progress = progress
    await progress.set_step(2, 1)
    await progress.record_pass(2, "b")
    await progress.record_pass(2, "a")

    def reported() -> dict[str, object] | None:
        seats = published[-1].data["seats"] if published else {}
        return seats.get("2", {}).get("progress")  # type: ignore[no-any-return]

    await async_wait_for(
        lambda: reported() == {"step": 1, "checks_passed": ["a", "b"]}, message="progress"
    )
    assert published[-1].data["seats"]["2"]["requests"] == 0
    assert published[-1].data["seats"]["1"]["progress"] == {"step": 0, "checks_passed": []}
    Event.from_message(published[-1].to_message()[0])
    count = len(published)
    await gateway.handle.flush()
    assert len(published) == count  # unchanged: nothing more
