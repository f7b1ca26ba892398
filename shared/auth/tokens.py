"""Learner (and instructor-shadow) tokens: RS256 JWTs, their signing keys and the JWKS.

Follows ../shared/security-checklist.md "Learner JWT":
* verification hard-codes ``algorithms=["RS256"]`` and uses public-key objects, never the
  algorithm or a key URL from the token header (``jku``/``jwk``/``x5u``/``x5c`` are refused);
* ``exp``, ``iat``, ``iss``, ``aud``, ``sub`` and ``jti`` are required, audience and issuer
  always checked; skew up to ``LEEWAY_SECONDS`` tolerated; lifetime capped at ``MAX_LIFETIME``;
* the seat comes only from the verified claims.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
LEEWAY_SECONDS = 60
MAX_LIFETIME_SECONDS = 12 * 3600
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "jti")
_FORBIDDEN_HEADERS = ("jku", "jwk", "x5u", "x5c")

Role = Literal["learner", "instructor"]


class InvalidToken(Exception):
    """The token must not be honoured. ``reason`` is safe to log; it never contains the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def audience_for(workshop_id: str) -> str:
    return f"clarateach:workshop:{workshop_id}"


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key with its key id. ``repr`` never shows key material."""

    kid: str
    private_key: rsa.RSAPrivateKey

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=secrets.token_hex(8), private_key=key)

    def serialize(self) -> str:
        """JSON text holding kid and PEM; store it only through the secrets port."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return json.dumps({"kid": self.kid, "pem": pem})

    @classmethod
    def deserialize(cls, text: str) -> SigningKey:
        data = json.loads(text)
        key = serialization.load_pem_private_key(data["pem"].encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("signing key is not RSA")
        return cls(kid=str(data["kid"]), private_key=key)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


@dataclass(frozen=True)
class TokenClaims:
    workshop_id: str
    role: Role
    subject: str
    host: int | None
    seat: int | None
    issued_at: int
    expires_at: int
    token_id: str

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"


def issue_token(
    key: SigningKey,
    *,
    issuer: str,
    workshop_id: str,
    host: int | None,
    seat: int | None,
    role: Role = "learner",
    subject: str | None = None,
    ttl_seconds: int = MAX_LIFETIME_SECONDS,
    now: int | None = None,
) -> str:
    """Sign a token for one seat (learner) or for shadowing a workshop (instructor)."""
    if role == "learner" and (seat is None or seat < 1):
        raise ValueError("a learner token needs a seat")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience_for(workshop_id),
        "sub": subject or f"seat:{workshop_id}:{seat}",
        "workshop_id": workshop_id,
        "role": role,
        "host": host,
        "iat": issued,
        "exp": issued + min(ttl_seconds, MAX_LIFETIME_SECONDS),
        "jti": secrets.token_urlsafe(12),
    }
    if seat is not None:
        claims["seat"] = seat
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def jwks(keys: Iterable[SigningKey | tuple[str, rsa.RSAPublicKey]]) -> dict[str, Any]:
    """The public JWKS document (``{"keys": [...]}``) for the given keys."""
    out = []
    for item in keys:
        kid, public = (item.kid, item.public_key) if isinstance(item, SigningKey) else item
        jwk = json.loads(RSAAlgorithm.to_jwk(public))
        jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
        out.append(jwk)
    return {"keys": out}


def public_keys_from_jwks(document: Mapping[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    """Parse a JWKS into ``{kid: public key}``, keeping only RSA signing keys for RS256."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in document.get("keys", []):
        if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM or "kid" not in jwk:
            continue
        public = RSAAlgorithm.from_jwk(json.dumps(jwk))
        if isinstance(public, rsa.RSAPublicKey):
            keys[str(jwk["kid"])] = public
    return keys


def verify_token(
    token: str,
    *,
    keys: Mapping[str, rsa.RSAPublicKey],
    issuer: str,
    workshop_id: str,
    leeway: int = LEEWAY_SECONDS,
    now: int | None = None,
) -> TokenClaims:
    """Verify ``token`` for ``workshop_id``; return its claims or raise ``InvalidToken``."""
    if not isinstance(token, str) or not token or len(token) > 8192:
        raise InvalidToken("malformed token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("unsupported algorithm")
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise InvalidToken("key-location headers are not accepted")
    public = keys.get(str(header.get("kid")))
    if public is None:
        raise InvalidToken("unknown key id")
    current = int(time.time() if now is None else now)
    checks: dict[str, Any] = {
        "audience": audience_for(workshop_id),
        "issuer": issuer,
        "leeway": leeway,
        "options": {"require": list(REQUIRED_CLAIMS), "verify_iat": False, "verify_exp": False},
    }
    try:  # the algorithm list is fixed (RS256), never taken from the token's header
        claims = jwt.decode(token, public, algorithms=[ALGORITHM], **checks)
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from exc
    return _check_claims(claims, workshop_id, current, leeway)


def _check_claims(claims: dict[str, Any], workshop_id: str, now: int, leeway: int) -> TokenClaims:
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise InvalidToken("iat and exp must be integers")
    # Time checks are ours (not pyjwt's) so tests can pass ``now`` and the rules are explicit.
    if exp + leeway < now:
        raise InvalidToken("expired")
    if iat - leeway > now:
        raise InvalidToken("issued in the future")
    if exp - iat > MAX_LIFETIME_SECONDS:
        raise InvalidToken("lifetime exceeds the cap")
    if claims.get("workshop_id") != workshop_id:
        raise InvalidToken("workshop mismatch")
    role = claims.get("role")
    seat, host = claims.get("seat"), claims.get("host")
    if role == "learner":
        if isinstance(seat, bool) or not isinstance(seat, int) or seat < 1:
            raise InvalidToken("learner token without a valid seat")
    elif role == "instructor":
        seat = None
    else:
        raise InvalidToken("unknown role")
    if host is not None and (isinstance(host, bool) or not isinstance(host, int)):
        raise InvalidToken("bad host claim")
    return TokenClaims(
        workshop_id=workshop_id,
        role=role,
        subject=str(claims["sub"]),
        host=host,
        seat=seat,
        issued_at=iat,
        expires_at=exp,
        token_id=str(claims["jti"]),
    )
