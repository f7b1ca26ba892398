"""Learner JWTs: the security checklist's "Learner JWT" section, item by item."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from shared.auth.tokens import (
    MAX_LIFETIME_SECONDS,
    InvalidToken,
    SigningKey,
    audience_for,
    issue_token,
    jwks,
    public_keys_from_jwks,
    verify_token,
)

ISSUER = "clarateach-test"
WORKSHOP = "wabcdefghjk"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def keys(key):
    return public_keys_from_jwks(jwks([key]))


def verify(token, keys, **kw):
    return verify_token(token, keys=keys, issuer=ISSUER, workshop_id=WORKSHOP, **kw)


def learner(key, **kw):
    return issue_token(key, issuer=ISSUER, workshop_id=WORKSHOP, host=0, seat=3, **kw)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(**overrides):
    """A complete, valid learner claim set; ``overrides`` replace claims, ``None`` drops one."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": audience_for(WORKSHOP),
        "sub": "s",
        "workshop_id": WORKSHOP,
        "role": "learner",
        "seat": 1,
        "host": 0,
        "iat": now,
        "exp": now + 60,
        "jti": "j",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(key, claims):
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def test_valid_learner_token_gives_the_seat_from_the_claims(key, keys):
    claims = verify(learner(key), keys)
    assert (claims.seat, claims.host, claims.role) == (3, 0, "learner")
    assert claims.subject == f"seat:{WORKSHOP}:3"


def test_instructor_token_has_no_seat(key, keys):
    token = issue_token(
        key,
        issuer=ISSUER,
        workshop_id=WORKSHOP,
        host=None,
        seat=None,
        role="instructor",
        subject="instructor:a@example.com",
    )
    claims = verify(token, keys)
    assert claims.is_instructor and claims.seat is None


def test_alg_none_is_rejected(key, keys):
    good = learner(key)
    header = {"alg": "none", "typ": "JWT", "kid": key.kid}
    payload = good.split(".")[1]
    with pytest.raises(InvalidToken):
        verify(f"{b64(header)}.{payload}.", keys)


def test_edited_payload_is_rejected(key, keys):
    head, payload, sig = learner(key).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["seat"] = 4
    with pytest.raises(InvalidToken):
        verify(f"{head}.{b64(claims)}.{sig}", keys)


def test_hs256_signed_with_the_public_key_is_rejected(key, keys):
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = claims_for(seat=3, sub="x")
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{b64(header)}.{b64(claims)}".encode()
    sig = base64.urlsafe_b64encode(hmac.new(pem, signing_input, hashlib.sha256).digest())
    forged = signing_input.decode() + "." + sig.rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        verify(forged, keys)


def test_unknown_kid_is_rejected(keys):
    other = SigningKey.generate()
    with pytest.raises(InvalidToken, match="unknown key id"):
        verify(learner(other), keys)


@pytest.mark.parametrize("header", ["jku", "jwk", "x5u"])
def test_key_location_headers_are_rejected(key, keys, header):
    value = "https://evil.example/keys" if header != "jwk" else {"kty": "RSA"}
    token = jwt.encode(
        {"x": 1}, key.private_key, algorithm="RS256", headers={"kid": key.kid, header: value}
    )
    with pytest.raises(InvalidToken):
        verify(token, keys)


def test_wrong_audience_and_issuer_are_rejected(key, keys):
    with pytest.raises(InvalidToken):
        verify_token(learner(key), keys=keys, issuer=ISSUER, workshop_id="wotherwork")
    with pytest.raises(InvalidToken):
        verify_token(learner(key), keys=keys, issuer="someone-else", workshop_id=WORKSHOP)


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud", "sub", "jti"])
def test_every_required_claim_is_required(key, keys, missing):
    token = sign(key, claims_for(**{missing: None}))
    with pytest.raises(InvalidToken):
        verify(token, keys)


def test_small_clock_skew_is_tolerated_and_large_is_not(key, keys):
    issued = int(time.time())
    token = learner(key, ttl_seconds=600, now=issued)
    # 30 s after expiry: inside the 60 s leeway.
    assert verify(token, keys, now=issued + 630).seat == 3
    with pytest.raises(InvalidToken, match="expired"):
        verify(token, keys, now=issued + 600 + 120)
    # Issued 30 s "in the future" (client clock behind): fine; 5 minutes: not.
    assert verify(token, keys, now=issued - 30).seat == 3
    with pytest.raises(InvalidToken, match="future"):
        verify(token, keys, now=issued - 300)


def test_lifetime_is_capped_when_issuing_and_when_verifying(key, keys):
    token = learner(key, ttl_seconds=10 * MAX_LIFETIME_SECONDS)
    claims = verify(token, keys)
    assert claims.expires_at - claims.issued_at == MAX_LIFETIME_SECONDS
    now = int(time.time())
    long_lived = sign(key, claims_for(iat=now, exp=now + MAX_LIFETIME_SECONDS + 3600))
    with pytest.raises(InvalidToken, match="lifetime"):
        verify(long_lived, keys)


@pytest.mark.parametrize("seat", [0, -1, "3", True, None])
def test_learner_token_needs_a_real_seat(key, keys, seat):
    token = sign(key, claims_for(seat=seat))
    with pytest.raises(InvalidToken):
        verify(token, keys)


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "x" * 9000, None])
def test_garbage_is_rejected_not_crashing(keys, garbage):
    with pytest.raises(InvalidToken):
        verify(garbage, keys)


def test_jwks_round_trip_keeps_kid_and_only_rsa_signing_keys(key):
    document = jwks([key])
    assert document["keys"][0]["kid"] == key.kid and document["keys"][0]["alg"] == "RS256"
    assert "d" not in document["keys"][0], "private exponent must never be published"
    document["keys"].append({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"})
    assert set(public_keys_from_jwks(document)) == {key.kid}


def test_signing_key_serialises_without_leaking_in_repr(key):
    restored = SigningKey.deserialize(key.serialize())
    assert restored.kid == key.kid
    assert "PRIVATE" not in repr(restored)
