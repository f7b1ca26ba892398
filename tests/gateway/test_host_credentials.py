"""A gateway configured with ``hostcred:`` secrets, as on a GCE host: it proves its identity to
the real ``join`` function (fake metadata server, loopback API), receives its workshop's key
and injects it upstream; the seat never sees it. A key that was transiently unavailable at
start is loaded in the background; a permanent refusal is not retried."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from shared.adapters.urls import secrets_from_url
from shared.domain.errors import PermanentError, TransientError
from shared.ports.secrets import Secrets
from tests.gateway.conftest import GatewayConfig, GatewayFactory, start_gateway
from tests.gateway.fake_upstream import FAKE_KEY, MODEL, FakeAnthropic
from tests.support.host_identity import CredentialsApi, credentials_api, fake_metadata_server
from tests.support.wait import async_wait_for
from workspace_agent.gateway import service as gateway_service

BODY = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
VERSION = {"anthropic-version": "2023-06-01"}


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialsApi]:
    with credentials_api(tmp_path / "control", FAKE_KEY, monkeypatch) as served:
        yield served


async def test_a_gateway_with_hostcred_secrets_injects_its_workshops_key(
    api: CredentialsApi,
    base_config: GatewayConfig,
    fake: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fake_metadata_server(api.tokens, api.instance(1)) as metadata:
        monkeypatch.setenv("GCE_METADATA_HOST", metadata.url.removeprefix("http://"))
        config = replace(
            base_config,
            workshop_id=api.workshop.id,
            host_index=1,
            api_key_ref=api.workshop.api_key_ref or "",
        )
        gateway = await start_gateway(config, secrets=secrets_from_url(f"hostcred:{api.url}"))
        try:
            async with (
                aiohttp.ClientSession() as client,
                client.post(
                    gateway.model_url(1),
                    json={
                        "model": MODEL,
                        "max_tokens": 8,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                    headers={**gateway.bearer(1), "anthropic-version": "2023-06-01"},
                ) as response,
            ):
                status, body = response.status, await response.read()
        finally:
            await gateway.stop()

    assert status == 200, body
    assert FAKE_KEY.encode() not in body
    (upstream,) = fake.requests
    assert upstream.headers["x-api-key"] == FAKE_KEY
    assert gateway.handle.tokens.token_for(1) not in upstream.headers.values()
    assert len(metadata.requests) == 1 and len(api.tokens.verified) == 1


async def test_a_gateway_on_a_vm_the_api_refuses_serves_503_not_a_key(
    api: CredentialsApi,
    base_config: GatewayConfig,
    fake: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A VM outside the workshop's plan gets no key: model calls fail clearly, nothing leaks."""
    with fake_metadata_server(api.tokens, api.instance(9)) as metadata:
        monkeypatch.setenv("GCE_METADATA_HOST", metadata.url.removeprefix("http://"))
        gateway = await start_gateway(
            replace(base_config, workshop_id=api.workshop.id, host_index=9),
            secrets=secrets_from_url(f"hostcred:{api.url}"),
        )
        try:
            async with (
                aiohttp.ClientSession() as client,
                client.post(
                    gateway.model_url(1),
                    json={"model": MODEL, "max_tokens": 8, "messages": []},
                    headers={**gateway.bearer(1), "anthropic-version": "2023-06-01"},
                ) as response,
            ):
                status = response.status
        finally:
            await gateway.stop()

    assert status == 503
    assert fake.requests == []
    assert gateway.handle.api_key is None


class FlakySecrets(Secrets):
    """Fails ``failures`` times with ``error``, then returns the key."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def put(self, name: str, value: str, labels: dict[str, str] | None = None) -> str:
        raise PermanentError("read-only")

    def access(self, ref: str) -> str | None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return FAKE_KEY

    def delete(self, ref: str) -> None:
        raise PermanentError("read-only")


async def test_a_key_that_was_transiently_unavailable_at_start_is_loaded_later(
    gateway_factory: GatewayFactory, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_service, "KEY_RETRY_DELAYS", (0.01,))
    secrets = FlakySecrets(3, TransientError("the API is unavailable (HTTP 503)"))

    gateway = await gateway_factory(secrets=secrets)
    await async_wait_for(
        lambda: gateway.handle.api_key is not None, timeout=10, message="key loaded in background"
    )

    async with (
        aiohttp.ClientSession() as client,
        client.post(
            gateway.model_url(1), json=BODY, headers={**gateway.bearer(1), **VERSION}
        ) as response,
    ):
        assert response.status == 200
    assert secrets.calls == 4
    assert fake.requests[0].headers["x-api-key"] == FAKE_KEY


async def test_a_permanent_refusal_is_not_retried(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_service, "KEY_RETRY_DELAYS", (0.0,))
    secrets = FlakySecrets(1, PermanentError("the API refused (HTTP 403)"))

    gateway = await gateway_factory(secrets=secrets)

    assert gateway.handle.api_key is None
    assert [t.get_name() for t in asyncio.all_tasks()].count("gateway-key-retry") == 0
    assert secrets.calls == 1
