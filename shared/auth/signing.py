"""The platform's learner-token signing key: loaded (or created once) through the secrets port.

The key lives in the secret named ``settings.jwt_key_secret`` (Secret Manager on GCP, a 0600
file locally). The first process that finds no key generates one, stores it, then *re-reads*
the secret and uses whatever is newest: if two cold instances race, both adopt the same
(last written) key, so every instance signs with, and publishes, one key.

The secret is found with ``Secrets.ref_for(name)`` (the port's name-to-reference mapping).
Loaded keys are cached per secrets adapter instance, so a request never pays for a secret read.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import weakref
from typing import Any

from shared.auth.tokens import SigningKey, issue_token, jwks
from shared.ports.secrets import Secrets
from shared.settings import Settings

_cache: weakref.WeakKeyDictionary[Secrets, dict[str, SigningKey]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def signing_key(secrets: Secrets, secret_name: str) -> SigningKey:
    """The signing key stored under ``secret_name``, creating it on first use."""
    with _lock:
        per_adapter = _cache.setdefault(secrets, {})
        key = per_adapter.get(secret_name)
        if key is None:
            key = per_adapter[secret_name] = _load_or_create(secrets, secret_name)
        return key


def _load_or_create(secrets: Secrets, secret_name: str) -> SigningKey:
    ref = secrets.ref_for(secret_name)
    stored = secrets.access(ref)
    if stored is None:
        ref = secrets.put(secret_name, SigningKey.generate().serialize(), {"clarateach": "jwt-key"})
        stored = secrets.access(ref)
        if stored is None:
            raise RuntimeError(f"signing key secret {secret_name!r} is not readable after writing")
    return SigningKey.deserialize(stored)


def instructor_token(
    secrets: Secrets, settings: Settings, *, workshop_id: str, owner: str, ttl_seconds: int
) -> str:
    """An instructor-role token for one workshop (read-only shadowing, agent control calls)."""
    return issue_token(
        signing_key(secrets, settings.jwt_key_secret),
        issuer=settings.jwt_issuer,
        workshop_id=workshop_id,
        host=None,
        seat=None,
        role="instructor",
        subject=f"instructor:{owner}",
        ttl_seconds=ttl_seconds,
    )


def public_jwks(secrets: Secrets, secret_name: str) -> dict[str, Any]:
    """The JWKS document agents fetch to verify learner tokens."""
    return jwks([signing_key(secrets, secret_name)])


def derived_secret(secrets: Secrets, secret_name: str, purpose: str) -> bytes:
    """A 32-byte server-side secret for ``purpose``, derived from the signing key.

    Used where the API must recompute a value it never stored (e.g. the reconnect code of a
    seat re-requested with the same client nonce). Never leaves the process.
    """
    key = signing_key(secrets, secret_name)
    numbers = key.private_key.private_numbers()
    material = f"{numbers.p}:{numbers.q}".encode()
    return hmac.new(material, purpose.encode(), hashlib.sha256).digest()


def forget_cached_keys() -> None:
    """Drop every cached key (tests that rotate the secret underneath)."""
    with _lock:
        _cache.clear()
