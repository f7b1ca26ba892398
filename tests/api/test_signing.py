"""The signing key: created once through the secrets port, shared by every instance, cached."""

from __future__ import annotations

import json
from pathlib import Path

from shared.adapters.local_secrets import LocalSecrets
from shared.auth import signing
from shared.auth.tokens import issue_token, public_keys_from_jwks, verify_token
from tests.support.fakes import MemorySecrets

NAME = "clarateach-jwt-signing-key"


def test_the_key_is_created_on_first_use_and_then_reused() -> None:
    secrets = MemorySecrets()
    first = signing.signing_key(secrets, NAME)

    assert json.loads(secrets.values[secrets.ref_for(NAME)])["kid"] == first.kid
    assert signing.signing_key(secrets, NAME) is first  # cached


def test_a_second_instance_adopts_the_stored_key() -> None:
    secrets = MemorySecrets()
    first = signing.signing_key(secrets, NAME)
    signing.forget_cached_keys()

    assert signing.signing_key(secrets, NAME).kid == first.kid


def test_jwks_verifies_tokens_signed_with_the_key() -> None:
    secrets = MemorySecrets()
    key = signing.signing_key(secrets, NAME)
    token = issue_token(key, issuer="i", workshop_id="w1", host=0, seat=2)

    keys = public_keys_from_jwks(signing.public_jwks(secrets, NAME))

    assert verify_token(token, keys=keys, issuer="i", workshop_id="w1").seat == 2


def test_derived_secrets_differ_by_purpose_and_are_stable() -> None:
    secrets = MemorySecrets()
    a = signing.derived_secret(secrets, NAME, "a")
    assert (
        a
        == signing.derived_secret(secrets, NAME, "a")
        != signing.derived_secret(secrets, NAME, "b")
    )
    assert len(a) == 32


def test_works_with_the_local_secrets_adapter(tmp_path: Path) -> None:
    secrets = LocalSecrets(tmp_path / "secrets")
    key = signing.signing_key(secrets, NAME)
    signing.forget_cached_keys()
    assert signing.signing_key(LocalSecrets(tmp_path / "secrets"), NAME).kid == key.kid
