"""The deployment certificate: issue and renew one wildcard certificate, keep it in secrets.

Run by the ``certificates`` function on a schedule (terraform: Cloud Scheduler, daily) with
its own service account, the only one that may add versions to the certificate and ACME
account secrets and edit the zone's records for the DNS-01 TXT values. Hosts never get DNS or
ACME rights: they receive the finished certificate from ``/api/hosts/credentials``
(``shared.services.host_credentials.issue_certificate``).

One run (``renew_if_due``):

1. read the stored bundle; keep it unless ``renewal_reason`` says otherwise (none yet, other
   names, or less than 30 days left);
2. make a fresh private key (ECDSA P-256), place an ACME order through the
   ``CertificateAuthority`` port, publish every DNS-01 TXT value it lists through the
   ``ChallengeRecords`` port, wait ``propagation_seconds`` (Let's Encrypt queries the zone's
   authoritative servers), let the CA validate and finalize;
3. delete the TXT records again (always, also after a failure; a record that cannot be
   deleted is logged and is replaced by the next run);
4. check the chain (names, key, validity) and only then add it as a new secret version.

Any failure raises (``TransientError``/``PermanentError``, the message names the step and
says the current certificate stays in use) before anything is written, so hosts keep getting
the previous certificate; Cloud Scheduler runs again the next day, long before the 30 days of
margin are spent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.domain.certificates import (
    RENEW_BEFORE,
    CertificateBundle,
    CertificateError,
    bundle_from_pems,
    renewal_reason,
)
from shared.domain.errors import PermanentError, TransientError
from shared.ports.certificates import CertificateAuthority, CertificateAuthorityError
from shared.ports.dns import ChallengeRecords
from shared.ports.secrets import Secrets

log = logging.getLogger(__name__)

#: TTL of the challenge TXT records: short, they live for one validation.
CHALLENGE_TTL_SECONDS = 60

Clock = Callable[[], datetime]
AuthorityFactory = Callable[[str], CertificateAuthority]


@dataclass(frozen=True)
class RenewalReport:
    action: str  # "kept" or "issued"
    reason: str
    names: tuple[str, ...]
    not_after: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "reason": self.reason,
            "names": list(self.names),
            "not_after": self.not_after.isoformat() if self.not_after else None,
        }


#: Default secret names (``Settings.certificate_secret``, ``Settings.acme_account_secret``).
CERTIFICATE_SECRET = "clarateach-tls-certificate"  # noqa: S105 - a secret's name
ACME_ACCOUNT_SECRET = "clarateach-acme-account"  # noqa: S105 - a secret's name


def load_certificate(secrets: Secrets, name: str = CERTIFICATE_SECRET) -> CertificateBundle | None:
    """The stored deployment certificate, or ``None`` (none yet, or unreadable: logged)."""
    text = secrets.access(secrets.ref_for(name))
    if not text:
        return None
    try:
        return CertificateBundle.from_json(text)
    except CertificateError as exc:
        log.error("stored deployment certificate ignored: %s", exc)
        return None


class DeploymentCertificates:
    def __init__(
        self,
        *,
        secrets: Secrets,
        dns: ChallengeRecords,
        authority: AuthorityFactory,
        names: Sequence[str],
        clock: Clock = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        propagation_seconds: float = 60.0,
        renew_before: timedelta = RENEW_BEFORE,
        certificate_secret: str = CERTIFICATE_SECRET,
        account_secret: str = ACME_ACCOUNT_SECRET,
    ) -> None:
        if not names:
            raise ValueError("the deployment certificate needs at least one name")
        self.secrets = secrets
        self.dns = dns
        self.names = tuple(names)
        self._authority = authority
        self._clock = clock
        self._sleep = sleep
        self._propagation = propagation_seconds
        self._renew_before = renew_before
        self.certificate_secret = certificate_secret
        self.account_secret = account_secret

    def renew_if_due(self) -> RenewalReport:
        current = load_certificate(self.secrets, self.certificate_secret)
        now = self._clock()
        reason = renewal_reason(current, self.names, now, self._renew_before)
        if not reason:
            assert current is not None  # no reason means there is a current certificate
            return RenewalReport("kept", "valid", self.names, current.not_after)
        log.info("deployment certificate renewal: %s", reason)
        try:
            bundle = self._issue()
        except (TransientError, PermanentError) as exc:
            keeps = (
                f"the current certificate (valid until {current.not_after:%Y-%m-%d}) stays in use"
                if current
                else "hosts keep getting per-host certificates until one is issued"
            )
            log.error("deployment certificate renewal failed: %s; %s", exc, keeps)
            message = f"deployment certificate renewal failed: {exc}; {keeps}"
            if isinstance(exc, CertificateAuthorityError):
                raise CertificateAuthorityError(message, rate_limited=exc.rate_limited) from exc
            raise type(exc)(message) from exc
        self.secrets.add_version(self.certificate_secret, bundle.to_json())
        log.info(
            "deployment certificate stored",
            extra={"names": list(bundle.names), "not_after": bundle.not_after.isoformat()},
        )
        return RenewalReport("issued", reason, self.names, bundle.not_after)

    # ---------------------------------------------------------------- helpers
    def _issue(self) -> CertificateBundle:
        key_pem = _private_key_pem(ec.generate_private_key(ec.SECP256R1()))
        authority = self._authority(self._account_key())
        try:
            order = authority.begin(self.names, key_pem)
            published: list[str] = []
            try:
                for name, values in order.txt_records.items():
                    self.dns.set_txt_record(name, values, CHALLENGE_TTL_SECONDS)
                    published.append(name)
                if published:
                    self._sleep(self._propagation)
                chain = authority.complete(order)
            finally:
                self._cleanup(published)
        finally:
            authority.close()
        try:
            bundle = bundle_from_pems(chain, key_pem)
        except CertificateError as exc:
            raise PermanentError(f"the CA's certificate is unusable: {exc}") from None
        if set(bundle.names) != {name.lower() for name in self.names}:
            raise PermanentError("the CA's certificate does not cover the ordered names")
        if bundle.not_after - bundle.not_before <= self._renew_before:
            # Every run would renew it again (e.g. a short-lived certificate profile).
            raise PermanentError(
                "the CA's certificates live no longer than the renewal margin"
                f" ({self._renew_before.days} days); choose a profile with longer validity"
            )
        return bundle

    def _cleanup(self, published: list[str]) -> None:
        for name in published:
            try:
                self.dns.delete_txt_record(name)
            except (TransientError, PermanentError) as exc:
                log.warning(
                    "challenge TXT record %s left in place (next run replaces it): %s", name, exc
                )

    def _account_key(self) -> str:
        """The ACME account key (RSA 2048, kept in secrets; made on the first run)."""
        existing = self.secrets.access(self.secrets.ref_for(self.account_secret))
        if existing:
            return existing
        pem = _private_key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        self.secrets.add_version(self.account_secret, pem)
        return pem


def _private_key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
