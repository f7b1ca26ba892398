"""Which host VM is calling: a GCE instance identity token, verified (docs/protocol.md §1).

A VM asks its metadata server for an identity token (``format=full``) whose audience is the
API's host-credentials URL. Google signs it; it names the VM's service account and, in the
``google.compute_engine`` claim, the project, zone and instance name. Unlike an OAuth access
token it needs no scope, and unlike the service account (shared by every host) it says *which*
instance is calling, so the API can hand each VM only its own workshop's key.

``authenticate_host`` checks, in order: a Bearer token is present; the signature, expiry and
audience (the injectable verifier, google-auth's by default, the same one instructor ID tokens
use); issuer ``accounts.google.com``; the email is the configured host service account; the
project and zone are this deployment's; the instance name is a ClaraTeach host name
(``shared.domain.model.host_name``). Bad or missing token: ``Unauthorized`` (401); a valid
Google token for something that is not one of our hosts: ``Forbidden`` (403). No message ever
contains the token or a claim value taken from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.auth.instructor import IdTokenVerifier, bearer_token, google_id_token_verifier
from shared.domain.errors import Forbidden, Unauthorized
from shared.domain.model import host_name
from shared.settings import Settings

#: The ``iss`` values Google uses for ID tokens (both spellings occur).
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
#: ``ct-<workshop id>-h<index>`` exactly as ``host_name`` builds it (ids are ``w`` + 10 chars
#: today; the pattern accepts any lower-case GCE-safe id so older ids keep working).
_HOST_NAME = re.compile(r"^ct-(?P<workshop_id>[a-z][a-z0-9]{0,40})-h(?P<index>0|[1-9][0-9]{0,3})$")
CREDENTIALS_PATH = "/api/hosts/credentials"


@dataclass(frozen=True)
class HostIdentity:
    """A verified host VM: the workshop it was created for and its index in the plan."""

    instance_name: str
    workshop_id: str
    index: int
    #: When Google created the VM (seconds since the epoch; GCE tokens only).
    created_at: float | None = None


def credentials_audience(settings: Settings) -> str:
    """The audience hosts request identity tokens for: the host-credentials base URL."""
    return settings.host_credentials_base


def parse_host_name(name: str) -> tuple[str, int] | None:
    """``(workshop_id, index)`` of a ClaraTeach host name, or ``None``."""
    found = _HOST_NAME.fullmatch(name)
    if found is None:
        return None
    return found.group("workshop_id"), int(found.group("index"))


def authenticate_host(
    settings: Settings,
    authorization: str | None,
    verify_id_token: IdTokenVerifier | None = None,
) -> HostIdentity:
    """The host VM presenting ``authorization``, or raise ``Unauthorized``/``Forbidden``."""
    token = bearer_token(authorization)
    audience = credentials_audience(settings)
    if settings.mode != "gcp" or not audience or not settings.host_service_account:
        raise Forbidden("host credentials are only issued to GCE hosts of a configured deployment")
    verify = verify_id_token or google_id_token_verifier()
    try:
        claims = verify(token, audience)
    except ValueError as exc:  # google-auth raises ValueError subclasses for every bad token
        raise Unauthorized("invalid or expired identity token") from exc
    if claims.get("aud") != audience:  # verifiers are injectable: never trust them blindly
        raise Unauthorized("identity token is for another audience")
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise Unauthorized("identity token was not issued by Google")
    return _host_identity(settings, claims)


def _host_identity(settings: Settings, claims: Mapping[str, Any]) -> HostIdentity:
    if str(claims.get("email") or "").lower() != settings.host_service_account.lower():
        raise Forbidden("identity token is not from a ClaraTeach host")
    google = claims.get("google")
    compute = google.get("compute_engine") if isinstance(google, Mapping) else None
    if not isinstance(compute, Mapping):
        raise Forbidden("identity token has no instance details (request format=full)")
    if compute.get("project_id") != settings.gcp_project or compute.get("zone") != (
        settings.gce_zone
    ):
        raise Forbidden("identity token is from another project or zone")
    name = str(compute.get("instance_name") or "")
    parsed = parse_host_name(name)
    if parsed is None:
        raise Forbidden("the calling instance is not a ClaraTeach host")
    workshop_id, index = parsed
    created = compute.get("instance_creation_timestamp")
    created_at = float(created) if isinstance(created, int | float) else None
    return HostIdentity(name, workshop_id, index, created_at)


def authenticate_host_caller(
    settings: Settings,
    authorization: str | None,
    *,
    workshop_id: str,
    index: int,
    attempt: int,
    verify_id_token: IdTokenVerifier | None = None,
) -> HostIdentity:
    """The host calling with ``authorization``, which must be host ``index`` of ``workshop_id``.

    GCP: the instance identity token (``authenticate_host``) names the VM, which must be
    ``ct-<workshop_id>-h<index>``. Local: the bearer token must be the host events token the
    provisioner derived for exactly this workshop, host and ``attempt``
    (``shared.auth.platform_keys``). Bad or missing token: ``Unauthorized``; a genuine host
    speaking for another workshop or host: ``Forbidden``.
    """
    if settings.mode == "gcp":
        identity = authenticate_host(settings, authorization, verify_id_token)
        if identity.workshop_id != workshop_id or identity.index != index:
            raise Forbidden("a host may only report events about itself")
        return identity
    from shared.auth.platform_keys import host_events_token, token_matches

    token = bearer_token(authorization)
    expected = host_events_token(settings.state_dir, workshop_id, index, attempt)
    if not token_matches(token, expected):
        raise Unauthorized("invalid host events token")
    name = host_name(workshop_id, index)
    return HostIdentity(instance_name=name, workshop_id=workshop_id, index=index)
