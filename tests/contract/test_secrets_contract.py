"""One contract for the secrets port, run against both adapters.

``SecretManagerSecrets`` is exercised through the real google-cloud-secret-manager client (REST
transport) against ``tests.support.fake_secret_manager``; its exact requests are asserted in
the GCP-only tests at the end.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager

from shared.adapters.local_secrets import LocalSecrets
from shared.adapters.secret_manager import SecretManagerSecrets
from shared.domain.errors import PermanentError, TransientError
from shared.ports.secrets import Secrets
from tests.support.fake_secret_manager import FakeSecretManager, running_fake_secret_manager

KEY = "sk-ant-api03-contract-test-value"


@pytest.fixture
def fake_sm() -> Iterator[FakeSecretManager]:
    with running_fake_secret_manager() as fake:
        yield fake


def secret_manager(fake: FakeSecretManager) -> SecretManagerSecrets:
    client = secretmanager.SecretManagerServiceClient(
        transport="rest",
        client_options={"api_endpoint": fake.url},
        credentials=AnonymousCredentials(),
    )
    return SecretManagerSecrets(project="proj", client=client)


@pytest.fixture(params=["local", "secret_manager"])
def secrets(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Secrets]:
    if request.param == "local":
        yield LocalSecrets(tmp_path / "secrets")
        return
    with running_fake_secret_manager() as fake:
        yield secret_manager(fake)


# ---------------------------------------------------------------- contract
def test_put_then_access_returns_the_value(secrets: Secrets) -> None:
    ref = secrets.put("ws-abc-key", KEY, {"workshop": "abc"})
    assert secrets.access(ref) == KEY


def test_put_again_replaces_the_value_under_the_same_reference(secrets: Secrets) -> None:
    ref = secrets.put("ws-abc-key", "first")
    assert secrets.put("ws-abc-key", "second") == ref
    assert secrets.access(ref) == "second"


def test_delete_removes_and_is_idempotent(secrets: Secrets) -> None:
    ref = secrets.put("ws-abc-key", KEY)
    secrets.delete(ref)
    secrets.delete(ref)
    assert secrets.access(ref) is None


def test_access_of_a_missing_secret_is_none(secrets: Secrets) -> None:
    ref = secrets.put("exists", "x")
    missing = ref.replace("exists", "missing")
    assert secrets.access(missing) is None


def test_the_reference_never_contains_the_value(secrets: Secrets) -> None:
    ref = secrets.put("ws-abc-key", KEY)
    assert KEY not in ref and "ws-abc-key" in ref


@pytest.mark.parametrize("name", ["", "../etc/passwd", "a/b", "x" * 256, "white space", "é"])
def test_bad_names_are_refused(secrets: Secrets, name: str) -> None:
    with pytest.raises(ValueError):
        secrets.put(name, "x")


def test_foreign_references_are_refused(secrets: Secrets) -> None:
    for ref in ("local:../../etc/passwd", "projects/p/secrets/../../x", "gcp:whatever"):
        with pytest.raises(ValueError):
            secrets.access(ref)


# ----------------------------------------------------------------- local only
def test_local_files_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    local = LocalSecrets(tmp_path / "secrets")
    local.put("ws-abc-key", KEY)
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "secrets" / "ws-abc-key").stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["ws-abc-key"]  # no temp left


# ------------------------------------------------------------------ GCP only
def test_secret_manager_requests_are_exactly_as_expected(fake_sm: FakeSecretManager) -> None:
    sm = secret_manager(fake_sm)
    ref = sm.put("ws-abc-key", KEY, {"clarateach": "api-key", "workshop": "abc"})
    sm.access(ref)
    sm.delete(ref)

    calls = [(r.method, r.path, r.query.get("secretId"), r.body) for r in fake_sm.requests]
    assert calls == [
        (
            "POST",
            "/v1/projects/proj/secrets",
            ["ws-abc-key"],
            {
                "replication": {"automatic": {}},
                "labels": {"clarateach": "api-key", "workshop": "abc"},
            },
        ),
        (
            "POST",
            "/v1/projects/proj/secrets/ws-abc-key:addVersion",
            None,
            {"payload": {"data": "c2stYW50LWFwaTAzLWNvbnRyYWN0LXRlc3QtdmFsdWU="}},
        ),
        ("GET", "/v1/projects/proj/secrets/ws-abc-key/versions/latest:access", None, None),
        ("DELETE", "/v1/projects/proj/secrets/ws-abc-key", None, None),
    ]
    assert ref == "projects/proj/secrets/ws-abc-key"


def test_the_adapter_never_changes_iam(fake_sm: FakeSecretManager) -> None:
    """Hosts get their key from the API, so no secret's policy is ever read or written."""
    sm = secret_manager(fake_sm)
    ref = sm.put("ws-abc-key", KEY)
    sm.access(ref)
    sm.delete(ref)
    assert not hasattr(sm, "grant_access")
    assert not [r for r in fake_sm.requests if "IamPolicy" in r.path]


def test_secret_manager_outages_are_transient_and_quote_no_value(
    fake_sm: FakeSecretManager,
) -> None:
    sm = secret_manager(fake_sm)
    fake_sm.fail_next(503)
    with pytest.raises(TransientError) as caught:
        sm.put("ws-abc-key", KEY)
    assert KEY not in str(caught.value)


def test_add_version_makes_the_value_the_newest(secrets: Secrets) -> None:
    """Used for secrets Terraform creates (the deployment certificate, the ACME account)."""
    ref = secrets.put("clarateach-tls-certificate", "first")
    assert secrets.add_version("clarateach-tls-certificate", "second") == ref
    assert secrets.access(ref) == "second"


def test_add_version_never_creates_a_secret_in_secret_manager(fake_sm: FakeSecretManager) -> None:
    """``versions.add`` of a secret that does not exist is 404 NOT_FOUND
    (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/addVersion):
    the writer needs no ``secrets.create`` right, and a missing secret names itself."""
    sm = secret_manager(fake_sm)
    with pytest.raises(PermanentError, match="secret clarateach-acme-account does not exist"):
        sm.add_version("clarateach-acme-account", "pem")
    assert not [r for r in fake_sm.requests if r.path.endswith("/secrets")]
