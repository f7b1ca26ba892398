"""Learner-token signing keys over Secret Manager: cold instances converge (issue 12 item 4).

Terraform creates the signing-key secret with no version, so every cold function instance that
starts during a join rush finds none and adds a key. Each instance here is its own
``SecretManagerSecrets`` (the real google-cloud-secret-manager client, REST transport) against
``tests.support.fake_secret_manager``, which behaves as Secret Manager does
(https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions):
versions are numbered in creation order, ``latest`` is the newest whatever its state, listing
returns newest first and honours ``filter=state:ENABLED``, a disabled version cannot be
accessed (FAILED_PRECONDITION). Every token any instance issues must verify against the JWKS
any instance publishes, with the agents' own token helpers.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager

from shared.adapters.secret_manager import SecretManagerSecrets
from shared.auth import signing
from shared.auth.tokens import issue_token, public_keys_from_jwks, verify_token
from tests.support.fake_secret_manager import FakeSecretManager, running_fake_secret_manager

NAME = "clarateach-jwt-signing-key"
SECRET = f"projects/proj/secrets/{NAME}"
INSTANCES = 8


@pytest.fixture
def fake() -> Iterator[FakeSecretManager]:
    with running_fake_secret_manager() as server:
        # What Terraform leaves: the secret, no version.
        server.handle("POST", f"/v1/projects/proj/secrets?secretId={NAME}", {"labels": {}})
        yield server
    signing.forget_cached_keys()


def _client(fake: FakeSecretManager) -> secretmanager.SecretManagerServiceClient:
    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        client_options={"api_endpoint": fake.url},
        credentials=AnonymousCredentials(),
    )


class ColdInstance(SecretManagerSecrets):
    """One function instance. ``put`` waits until every instance has looked and found no key,
    then each instance's write and its re-read run back to back, one instance after another:
    the interleaving in which "re-read the newest" gives every instance its own key."""

    def __init__(self, fake: FakeSecretManager, all_looked: threading.Barrier,
                 turn: threading.Lock) -> None:  # fmt: skip
        super().__init__("proj", client=_client(fake))
        self._all_looked = all_looked
        self._turn = turn
        self._holding = False

    def put(self, name: str, value: str, labels: dict[str, str] | None = None) -> str:
        self._all_looked.wait(timeout=10)
        self._turn.acquire()
        self._holding = True
        return super().put(name, value, labels)

    def _release_turn(self) -> None:
        if self._holding:
            self._holding = False
            self._turn.release()

    def access(self, ref: str) -> str | None:
        try:
            return super().access(ref)
        finally:
            self._release_turn()

    def versions(self, ref: str) -> list[str]:
        try:
            return super().versions(ref)
        finally:
            self._release_turn()


def _cold_start(instance: ColdInstance, seat: int) -> tuple[str, dict]:
    token = issue_token(
        signing.signing_key(instance, NAME), issuer="clarateach", workshop_id="w1", host=0,
        seat=seat,
    )  # fmt: skip
    return token, signing.public_jwks(instance, NAME)


def test_racing_cold_instances_issue_tokens_that_verify_on_every_agent(
    fake: FakeSecretManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before the fix: each instance adopted the newest version right after writing
    its own, so instances signed with different keys and each JWKS held only one of them.
    Each instance is its own process on Cloud Run: nothing in-process is shared between them,
    so the module's process-wide lock is taken out of the picture."""
    monkeypatch.setattr(signing, "_lock", contextlib.nullcontext())
    barrier, turn = threading.Barrier(INSTANCES), threading.Lock()
    instances = [ColdInstance(fake, barrier, turn) for _ in range(INSTANCES)]
    with ThreadPoolExecutor(INSTANCES) as pool:
        results = list(pool.map(_cold_start, instances, range(1, INSTANCES + 1)))

    assert len(fake.secrets[SECRET]["versions"]) == INSTANCES  # the race really happened
    for token, _ in results:
        for seat_jwks in (jwks for _, jwks in results):
            keys = public_keys_from_jwks(seat_jwks)
            assert verify_token(token, keys=keys, issuer="clarateach", workshop_id="w1")
    signers = {signing.signing_key(i, NAME).kid for i in instances}
    assert len(signers) == 1  # and it is the oldest version's key
    oldest = signing.key_ring(instances[0], NAME).keys[0]
    assert signers == {oldest.kid}


def test_a_new_version_is_published_before_it_signs_and_takes_over_when_the_old_is_disabled(
    fake: FakeSecretManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotation overlap: ``gcloud secrets versions add`` publishes the new key (agents learn
    it) while the old one keeps signing; ``gcloud secrets versions disable 1`` then moves
    signing to the new key on every instance within ``KEY_CACHE_SECONDS``."""
    now = [1000.0]
    monkeypatch.setattr(signing, "_clock", lambda: now[0])
    instance = SecretManagerSecrets("proj", client=_client(fake))
    old = signing.signing_key(instance, NAME)
    new = signing.SigningKey.generate()
    instance.put(NAME, new.serialize())

    now[0] += signing.KEY_CACHE_SECONDS
    published = set(public_keys_from_jwks(signing.public_jwks(instance, NAME)))
    assert published == {old.kid, new.kid}
    assert signing.signing_key(instance, NAME).kid == old.kid

    fake.disable(SECRET, 1)
    now[0] += signing.KEY_CACHE_SECONDS
    assert signing.signing_key(instance, NAME).kid == new.kid
    assert set(public_keys_from_jwks(signing.public_jwks(instance, NAME))) == {new.kid}


def test_versions_lists_enabled_versions_oldest_first_through_the_client(
    fake: FakeSecretManager,
) -> None:
    instance = SecretManagerSecrets("proj", client=_client(fake))
    for value in ("a", "b", "c"):
        instance.put(NAME, value)
    fake.disable(SECRET, 2)
    assert instance.versions(SECRET) == ["a", "c"]
    listing = [r for r in fake.requests if r.path.endswith("/versions") and r.method == "GET"]
    assert listing[-1].query["filter"] == ["state:ENABLED"]
    assert (
        SecretManagerSecrets("proj", client=_client(fake)).versions("projects/proj/secrets/missing")
        == []
    )
