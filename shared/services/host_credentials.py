"""Hand a verified host VM its workshop's Anthropic API key (``POST /api/hosts/credentials``).

This is the only place the platform ever returns an API key, and only to a VM that proved with
a Google-signed instance identity token (``shared.auth.host``) that it *is* host ``index`` of
workshop ``workshop_id``; the API serves it over TLS with ``Cache-Control: no-store``. A VM can
therefore read its own workshop's key and no other, and the hosts' shared service account needs
no Secret Manager permission at all.

Checks after the token: the workshop exists, is live (``provisioning`` or ``running``: a host
fetches the key while booting, before ``host.ready``), and ``index`` is one of its planned
hosts. Unknown, stopped and out-of-plan all get the same 404, so a caller learns nothing about
other workshops.

Rate limiting: every refused request (bad token, foreign instance, unknown workshop) spends
budget per client IP and overall, as failed joins do; an exhausted budget is refused (429)
before the token is even verified. Budgets are separate from the join budgets, so a flood of
bad host requests cannot lock learners out. Logs carry the instance name and the outcome, never
the token or the key.

The same endpoint hands a verified host the deployment's TLS certificate chain and key
(``issue_certificate``, body ``{"credential": "tls_certificate"}``) for Caddy, under the same
checks: hosts never get Secret Manager, DNS or ACME rights, and the certificate function
(``shared.services.certificates``) is the only writer. No usable certificate (none issued yet,
expired) is 404, and the host's Caddy then gets its own certificate (docs/deployment.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from shared.auth.host import HostIdentity, authenticate_host
from shared.auth.instructor import IdTokenVerifier
from shared.bootstrap import Platform
from shared.domain.certificates import CertificateBundle, usable
from shared.domain.errors import DomainError, NotFound, RateLimited
from shared.domain.model import Workshop, WorkshopStatus, plan_hosts
from shared.services.certificates import load_certificate
from shared.services.errors import Unavailable
from shared.services.ratelimit import Budget, Clock, LimiterRegistry, TokenBuckets

log = logging.getLogger(__name__)
T = TypeVar("T")

LIVE = (WorkshopStatus.PROVISIONING, WorkshopStatus.RUNNING)
_OVERALL = "*"
#: A host asks once per agent start; these only ever bind a misbehaving or hostile caller.
PER_CLIENT = Budget(capacity=10, per_minute=10)
OVERALL = Budget(capacity=120, per_minute=120)


class HostCredentialLimiter:
    """Failure budgets for host-credential requests: per client IP and overall."""

    def __init__(
        self,
        per_client: Budget = PER_CLIENT,
        overall: Budget = OVERALL,
        clock: Clock = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self._clients = TokenBuckets(per_client, clock, max_keys)
        self._overall = TokenBuckets(overall, clock, 1)

    def check(self, client: str) -> None:
        wait = self._clients.retry_after(client) or self._overall.retry_after(_OVERALL)
        if wait:
            raise RateLimited("too many refused host credential requests", retry_after=wait)

    def failed(self, client: str) -> None:
        self._clients.spend(client)
        self._overall.spend(_OVERALL)


class NoCertificate(NotFound):
    """A verified host asked for the deployment certificate and none is usable (404)."""


_limiters: LimiterRegistry[HostCredentialLimiter] = LimiterRegistry(HostCredentialLimiter)


def limiter_for(owner: object) -> HostCredentialLimiter:
    """The host-credential limiter attached to ``owner`` (the platform's store)."""
    return _limiters.get(owner)


def install_limiter(owner: object, limiter: HostCredentialLimiter) -> HostCredentialLimiter:
    """Attach ``limiter`` to ``owner`` (tests: small budgets or a fake clock)."""
    return _limiters.install(owner, limiter)


def issue_certificate(
    platform: Platform,
    authorization: str | None,
    client: str,
    verify_id_token: IdTokenVerifier | None = None,
    now: datetime | None = None,
) -> CertificateBundle:
    """The deployment TLS certificate for the calling host (errors as ``issue_api_key``)."""
    return _issued(
        platform,
        authorization,
        client,
        verify_id_token,
        lambda host: _certificate_for(platform, host, now or datetime.now(UTC)),
        "host certificate issued",
    )


def issue_api_key(
    platform: Platform,
    authorization: str | None,
    client: str,
    verify_id_token: IdTokenVerifier | None = None,
) -> str:
    """The API key of the calling host's workshop. Raises ``Unauthorized`` (401),
    ``Forbidden`` (403), ``NotFound`` (404), ``RateLimited`` (429) or ``Unavailable`` (503)."""
    return _issued(
        platform,
        authorization,
        client,
        verify_id_token,
        lambda host: _key_for(platform, host),
        "host credentials issued",
    )


def _issued(
    platform: Platform,
    authorization: str | None,
    client: str,
    verify_id_token: IdTokenVerifier | None,
    credential: Callable[[HostIdentity], T],
    what: str,
) -> T:
    limiter = limiter_for(platform.store)
    limiter.check(client)
    try:
        host = authenticate_host(platform.settings, authorization, verify_id_token)
        value = credential(host)
    except DomainError as exc:
        # Google unreachable, or no certificate issued yet, is not the caller's fault.
        if not isinstance(exc, Unavailable | NoCertificate):
            limiter.failed(client)
        # Our own fixed messages only (never the token, never a claim value).
        log.warning(
            "host credentials refused: %s",
            exc.message,
            extra={"reason": type(exc).__name__, "client_ip": client},
        )
        raise
    log.info(what, extra={"workshop_id": host.workshop_id, "host_index": host.index})
    return value


def _live_workshop_host(platform: Platform, host: HostIdentity) -> Workshop:
    unavailable = NotFound("no live workshop has this host")
    workshop = platform.store.get_workshop(host.workshop_id)
    if workshop is None or workshop.status not in LIVE:
        raise unavailable
    if host.index not in {h.index for h in plan_hosts(workshop)}:
        raise unavailable
    return workshop


def _certificate_for(platform: Platform, host: HostIdentity, now: datetime) -> CertificateBundle:
    _live_workshop_host(platform, host)
    bundle = load_certificate(platform.secrets, platform.settings.certificate_secret)
    if bundle is None or not usable(bundle, now):
        raise NoCertificate("no deployment certificate; use a per-host certificate")
    return bundle


def _key_for(platform: Platform, host: HostIdentity) -> str:
    unavailable = NotFound("no live workshop has this host")
    workshop = _live_workshop_host(platform, host)
    if not workshop.api_key_ref:
        raise unavailable
    key = platform.secrets.access(workshop.api_key_ref)
    if not key:
        raise unavailable
    return key
