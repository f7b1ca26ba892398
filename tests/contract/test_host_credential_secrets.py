"""``HostCredentialSecrets`` against a fake GCE metadata server and the real ``join`` function
served over loopback: a VM gets its own workshop's key, and only that."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.host_credentials import HostCredentialSecrets
from shared.adapters.urls import secrets_from_url
from shared.domain.errors import PermanentError, TransientError
from shared.domain.model import WorkshopStatus
from shared.services.errors import Unavailable
from tests.support.host_identity import CredentialsApi, credentials_api, fake_metadata_server
from tests.support.net import free_port

KEY = "sk-ant-api03-hostcred-contract-" + "x" * 20


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialsApi]:
    with credentials_api(tmp_path / "state", KEY, monkeypatch) as served:
        yield served


def adapter(api: CredentialsApi, metadata_url: str, waits: list[float] | None = None) -> Any:
    return HostCredentialSecrets(
        api.url, metadata_base=metadata_url, sleep=(waits if waits is not None else []).append
    )


def test_a_host_gets_its_workshops_key_once_and_keeps_it_in_memory(api: CredentialsApi) -> None:
    with fake_metadata_server(api.tokens, api.instance(1)) as metadata:
        secrets = adapter(api, metadata.url)
        assert secrets.access(api.workshop.api_key_ref or "") == KEY
        assert secrets.access(api.workshop.api_key_ref or "") == KEY  # cached

    assert metadata.requests == [
        {
            "path": "/computeMetadata/v1/instance/service-accounts/default/identity",
            "query": {"audience": api.url, "format": "full"},
            "flavor": "Google",
        }
    ]
    assert len(api.tokens.verified) == 1
    assert KEY not in repr(secrets)


def test_the_url_scheme_and_gce_metadata_host_select_it(
    api: CredentialsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_metadata_server(api.tokens, api.instance(0)) as metadata:
        monkeypatch.setenv("GCE_METADATA_HOST", metadata.url.removeprefix("http://"))
        secrets = secrets_from_url(f"hostcred:{api.url}")
        assert isinstance(secrets, HostCredentialSecrets)
        assert secrets.access("any-ref") == KEY


def test_a_vm_outside_the_plan_gets_no_key(api: CredentialsApi) -> None:
    with fake_metadata_server(api.tokens, api.instance(7)) as metadata:
        assert adapter(api, metadata.url).access("ref") is None


def test_a_stopped_workshops_host_gets_no_key(api: CredentialsApi) -> None:
    api.platform.store.transition(api.workshop.id, WorkshopStatus.RUNNING, WorkshopStatus.STOPPING)
    with fake_metadata_server(api.tokens, api.instance(0)) as metadata:
        assert adapter(api, metadata.url).access("ref") is None


def test_a_vm_that_is_not_a_host_is_refused_permanently_without_quoting_anything(
    api: CredentialsApi,
) -> None:
    waits: list[float] = []
    with (
        fake_metadata_server(api.tokens, "build-runner-7") as metadata,
        pytest.raises(PermanentError) as refused,
    ):
        adapter(api, metadata.url, waits).access("ref")
    assert str(refused.value) == "the API refused (HTTP 403)"
    assert waits == [], "a refusal is not retried"
    for token in api.tokens.claims:
        assert token not in str(refused.value)


def test_an_api_outage_is_retried_then_succeeds(
    api: CredentialsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api.tokens.verify
    outages = [Unavailable("cannot reach Google"), Unavailable("cannot reach Google")]

    def flaky(token: str, audience: str) -> Mapping[str, Any]:
        if outages:
            raise outages.pop()
        return real(token, audience)

    monkeypatch.setattr("shared.auth.host.google_id_token_verifier", lambda: flaky)
    waits: list[float] = []
    with fake_metadata_server(api.tokens, api.instance(0)) as metadata:
        assert adapter(api, metadata.url, waits).access("ref") == KEY
    assert waits == [0.5, 1.0]


def test_an_unreachable_metadata_server_is_transient_after_bounded_retries(
    api: CredentialsApi,
) -> None:
    waits: list[float] = []
    secrets = adapter(api, f"http://127.0.0.1:{free_port()}", waits)
    with pytest.raises(TransientError, match="metadata server"):
        secrets.access("ref")
    assert waits == [0.5, 1.0, 2.0, 4.0]


def test_hosts_cannot_write_or_delete_secrets(api: CredentialsApi) -> None:
    secrets = HostCredentialSecrets(api.url)
    with pytest.raises(PermanentError):
        secrets.put("workshop-x", "value")
    with pytest.raises(PermanentError):
        secrets.delete("workshop-x")


@pytest.mark.parametrize(
    "url",
    ["", "api.example.com", "ftp://api.example.com", "https://", "http://api.example.com"],
)
def test_the_api_url_must_be_https_or_loopback_http(url: str) -> None:
    with pytest.raises(ValueError):
        HostCredentialSecrets(url)
