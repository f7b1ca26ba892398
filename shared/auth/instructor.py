"""Who is calling an instructor endpoint: the local admin token, or a Google ID token on GCP.

* Local mode: a random admin token is generated on first use and stored in
  ``<state_dir>/admin-token`` (mode 0600, created exclusively so two processes cannot both
  write it). A request presenting it (constant-time compare) is ``local-admin``, an admin.
* GCP mode: ``google.oauth2.id_token.verify_oauth2_token`` checks signature, expiry, issuer
  and the audience: ``settings.instructor_audience`` (the CLI's tokens: gcloud's OAuth client)
  or ``settings.instructor_web_client_id`` (the cockpit's Google Identity Services button,
  whose ID tokens carry the web client ID as ``aud``); the verified, ``email_verified``
  address must match ``settings.instructors`` (exact emails or ``@domain`` entries) or
  ``settings.admins``. The owner is that email; admins see every workshop.

Behind Cloud Run IAM (the ``api``/``workshops`` functions): Cloud Run verifies the caller's ID
token itself, then forwards the header it checked with the token's signature replaced by
``SIGNATURE_REMOVED_BY_GOOGLE``; if the request also carries ``X-Serverless-Authorization``,
Cloud Run checks *that* header (and strips its signature) and passes ``Authorization``
through untouched (https://cloud.google.com/run/docs/authenticating/service-to-service,
"X-Serverless-Authorization"). Design: the CLI sends the same ID token in both headers and
this module verifies ``Authorization`` fully, as anywhere else; it never trusts a token
without its signature, so the app's check does not depend on how the function is deployed.
A token Cloud Run stripped is refused with a message naming the missing header.

Every refusal is ``Unauthorized`` with a message that never contains the token.
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.auth.secret_files import ensure_secret_file
from shared.domain.errors import Unauthorized
from shared.services.errors import Unavailable
from shared.settings import Settings

LOCAL_ADMIN = "local-admin"
ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
#: What Cloud Run puts in place of the signature of an ID token it verified and forwarded.
STRIPPED_SIGNATURE = "SIGNATURE_REMOVED_BY_GOOGLE"

#: ``(token, audience) -> claims``; raises ``ValueError`` for any invalid token.
IdTokenVerifier = Callable[[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Instructor:
    owner: str
    is_admin: bool = False

    def can_see(self, owner: str) -> bool:
        return self.is_admin or self.owner == owner


def admin_token_path(settings: Settings) -> Path:
    return settings.state_dir / ADMIN_TOKEN_FILE


def ensure_admin_token(settings: Settings) -> str:
    """The local admin token, created (0600, exclusively) if it does not exist yet."""
    return ensure_secret_file(admin_token_path(settings))


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or ``Unauthorized``."""
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token


def authenticate(
    settings: Settings,
    authorization: str | None,
    verify_id_token: IdTokenVerifier | None = None,
) -> Instructor:
    """The instructor presenting ``authorization``, or raise ``Unauthorized``."""
    token = bearer_token(authorization)
    if settings.mode == "local":
        expected = ensure_admin_token(settings)
        if hmac.compare_digest(token.encode(), expected.encode()):
            return Instructor(owner=LOCAL_ADMIN, is_admin=True)
        raise Unauthorized("invalid admin token")
    return _authenticate_google(settings, token, verify_id_token or google_id_token_verifier())


def _authenticate_google(settings: Settings, token: str, verify: IdTokenVerifier) -> Instructor:
    audiences = accepted_audiences(settings)
    if not audiences:
        raise Unauthorized("instructor authentication is not configured (no audience)")
    if token.rpartition(".")[2] == STRIPPED_SIGNATURE:
        raise Unauthorized(
            "Cloud Run removed this ID token's signature; send the same token in "
            "X-Serverless-Authorization as well (the clarateach CLI does)"
        )
    try:
        claims = verify(token, _audience_to_check(token, audiences))
    except ValueError as exc:  # google-auth raises ValueError subclasses for every bad token
        raise Unauthorized("invalid or expired ID token") from exc
    email = str(claims.get("email") or "").lower()
    if not email or claims.get("email_verified") is not True:
        raise Unauthorized("ID token has no verified email")
    is_admin = email in {a.lower() for a in settings.admins}
    if not (is_admin or email_allowed(email, settings.instructors)):
        raise Unauthorized("this account is not an instructor")
    return Instructor(owner=email, is_admin=is_admin)


def accepted_audiences(settings: Settings) -> tuple[str, ...]:
    """The configured ID-token audiences: the CLI's, then the cockpit's web client."""
    found = (settings.instructor_audience, settings.instructor_web_client_id)
    return tuple(dict.fromkeys(a.strip() for a in found if a.strip()))


def _audience_to_check(token: str, audiences: tuple[str, ...]) -> str:
    """The accepted audience the token *claims* (read unverified, only to pick which one to
    verify against: the verifier then checks it with the signature), else the first one
    (so a token for any other audience fails verification)."""
    try:
        claimed = jwt_claims_unverified(token).get("aud")
    except ValueError:
        return audiences[0]
    return claimed if isinstance(claimed, str) and claimed in audiences else audiences[0]


def jwt_claims_unverified(token: str) -> dict[str, Any]:
    """The payload of a JWT, NOT verified. ``ValueError`` if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError) as exc:
        raise ValueError("not a JWT") from exc
    if not isinstance(payload, dict):
        raise ValueError("not a JWT")
    return payload


def email_allowed(email: str, allowlist: tuple[str, ...]) -> bool:
    """Exact address match, or ``@domain`` matching the part after the last ``@`` exactly."""
    _, _, domain = email.rpartition("@")
    for entry in (e.strip().lower() for e in allowlist):
        if entry.startswith("@") and domain == entry[1:]:
            return True
        if entry == email:
            return True
    return False


@functools.cache
def google_id_token_verifier() -> IdTokenVerifier:
    """google-auth's verifier (fetches Google's public certificates over HTTPS).

    A failure to fetch the certificates is ``Unavailable`` (503, retry), not a bad token.
    """
    from google.auth.transport import requests as google_requests

    return google_id_token_verifier_with(google_requests.Request())


def google_id_token_verifier_with(request: Any) -> IdTokenVerifier:
    """The same verifier over a given google-auth transport ``request`` (tests serve certs)."""
    from google.auth import exceptions as google_exceptions
    from google.oauth2 import id_token

    def verify(token: str, audience: str) -> Mapping[str, Any]:
        try:
            return dict(id_token.verify_oauth2_token(token, request, audience=audience))
        except google_exceptions.TransportError as exc:
            raise Unavailable("cannot reach Google to verify the ID token") from exc

    return verify
