"""Google-signed ID tokens for tests: an RS256 key, its certificate served the way
``https://www.googleapis.com/oauth2/v1/certs`` serves them (``{kid: PEM certificate}``) to
google-auth's own verifier, and tokens with Google's claims (iss, aud, azp, sub, email,
email_verified, iat, exp) - the shape of both ``gcloud auth print-identity-token`` tokens and
Google Identity Services' ``credential``
(https://developers.google.com/identity/gsi/web/reference/js-reference#credential).
"""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

AUDIENCE = "32555940559.apps.googleusercontent.com"  # gcloud's OAuth client: print-identity-token
CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
KID = "test-key-1"


@dataclass
class _Response:
    status: int
    data: bytes
    headers: dict[str, str]


class GoogleCerts:
    """A google-auth transport ``Request`` answering only Google's OAuth2 certs URL."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = cert.public_bytes(serialization.Encoding.PEM).decode()

    def __call__(self, url: str, method: str = "GET", **_: Any) -> _Response:
        assert url == CERTS_URL and method == "GET", url
        return _Response(200, json.dumps({KID: self.pem}).encode(), {})

    def id_token(self, email: str, audience: str = AUDIENCE, ttl: int = 3600) -> str:
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": audience,
            "azp": audience,
            "sub": "1234567890",
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})
