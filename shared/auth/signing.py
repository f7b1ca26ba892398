"""The platform's learner-token signing keys: loaded (or created once) through the secrets port.

The keys live in the secret named ``settings.jwt_key_secret`` (Secret Manager on GCP, a 0600
file locally), one key per enabled version. Every instance **signs with the oldest enabled
version** and **publishes every enabled version** in the JWKS, so instances converge without
talking to each other:

* Terraform creates the secret with no version. Each cold instance that finds none adds a key
  and then re-lists the versions; however many raced, all of them then see the same oldest
  version and sign with it, and every key that was added is published, so any token issued
  during the race verifies on an agent.
* Rotation: add a version (``gcloud secrets versions add``); it is published at once (agents
  learn it) but not used. Disabling the old version makes the next-oldest the signer; tokens
  the old key signed stop verifying then, so disable it between workshops (or learners rejoin
  with their reconnect code). Loaded keys are cached per secrets adapter for
  ``KEY_CACHE_SECONDS``, so a rotation reaches every instance within that time and a request
  never pays for a secret read.

The secret is found with ``Secrets.ref_for(name)`` (the port's name-to-reference mapping).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.auth.tokens import SigningKey, issue_token, jwks
from shared.ports.secrets import Secrets
from shared.settings import Settings

#: How long an instance keeps the keys it loaded before listing the versions again.
KEY_CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class KeyRing:
    """The enabled keys, oldest first: ``signer`` is the first, all are published."""

    keys: tuple[SigningKey, ...]
    loaded_at: float

    @property
    def signer(self) -> SigningKey:
        return self.keys[0]


@dataclass
class _AdapterCache:
    lock: threading.Lock
    rings: dict[str, KeyRing]


_cache: weakref.WeakKeyDictionary[Secrets, _AdapterCache] = weakref.WeakKeyDictionary()
_lock = threading.Lock()  # guards _cache itself; loading holds the adapter's own lock
_clock: Callable[[], float] = time.monotonic


def key_ring(secrets: Secrets, secret_name: str) -> KeyRing:
    """The keys stored under ``secret_name`` (creating the first on first use), cached."""
    with _lock:
        cached = _cache.get(secrets)
        if cached is None:
            cached = _cache[secrets] = _AdapterCache(threading.Lock(), {})
    with cached.lock:
        ring = cached.rings.get(secret_name)
        now = _clock()
        if ring is None or now - ring.loaded_at >= KEY_CACHE_SECONDS:
            ring = cached.rings[secret_name] = _load_or_create(secrets, secret_name, now)
        return ring


def signing_key(secrets: Secrets, secret_name: str) -> SigningKey:
    """The key to sign with: the oldest enabled version."""
    return key_ring(secrets, secret_name).signer


def _load_or_create(secrets: Secrets, secret_name: str, now: float) -> KeyRing:
    ref = secrets.ref_for(secret_name)
    stored = secrets.versions(ref)
    if not stored:
        ref = secrets.put(secret_name, SigningKey.generate().serialize(), {"clarateach": "jwt-key"})
        stored = secrets.versions(ref)  # whoever raced us: the oldest version wins everywhere
        if not stored:
            raise RuntimeError(f"signing key secret {secret_name!r} is not readable after writing")
    return KeyRing(tuple(SigningKey.deserialize(value) for value in stored), now)


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
    """The JWKS document agents fetch to verify learner tokens: every enabled key."""
    return jwks(key_ring(secrets, secret_name).keys)


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
