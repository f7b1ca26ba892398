"""The deployment TLS certificate: which names it covers, when it is renewed (pure rules).

One certificate per deployment, not one per host: Let's Encrypt issues at most 50 new
certificates per registered domain per 7 days and 300 new orders per account per 3 hours
(https://letsencrypt.org/docs/rate-limits/), so one per host fails a 500-seat workshop
(50 hosts) plus its rehearsal in the same week. A certificate may carry at most 100 names
(``MAX_NAMES``), and a wildcard covers exactly one label (RFC 6125 section 6.4.3), so the names
are

* ``*.<domain>``: every host endpoint ``<host name>.<domain>``;
* ``*.<slot>.<domain>`` for a fixed pool of host slot labels (``s00``, ``s01``, ...): the
  per-host preview origins ``p<P>-s<S>.<slot>.<domain>`` of a host that holds that slot
  (docs/deployment.md, "TLS certificates"). ``slots=0`` (the default) issues ``*.<domain>``
  alone.

Renewal: due when there is no certificate, when it does not cover exactly the wanted names,
or when fewer than ``RENEW_BEFORE`` (30 days) remain; Let's Encrypt certificates last 90 days
(https://letsencrypt.org/docs/faq/), so renewal happens every ~60 days, one order each time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

#: Let's Encrypt's limit on names per certificate (https://letsencrypt.org/docs/rate-limits/).
MAX_NAMES = 100
#: Renew this long before expiry (Let's Encrypt recommends renewing with a third left).
RENEW_BEFORE = timedelta(days=30)
#: The label the DNS-01 challenge TXT record is published under (RFC 8555 section 8.4).
CHALLENGE_LABEL = "_acme-challenge"


class CertificateError(Exception):
    """A stored certificate bundle that cannot be used (malformed, key mismatch)."""


def slot_labels(count: int) -> tuple[str, ...]:
    """The host slot labels ``s00`` .. ``s<count-1>`` (at most ``MAX_NAMES - 1``)."""
    if not 0 <= count <= MAX_NAMES - 1:
        raise ValueError(f"host slots must be between 0 and {MAX_NAMES - 1}")
    return tuple(f"s{index:02d}" for index in range(count))


def certificate_names(domain: str, slots: int = 0) -> tuple[str, ...]:
    """The SANs of the deployment certificate for ``domain`` (see the module docstring)."""
    base = domain.strip(" .").lower()
    if not base or "." not in base:
        raise ValueError("the certificate domain must be a DNS name with at least two labels")
    return (f"*.{base}", *(f"*.{slot}.{base}" for slot in slot_labels(slots)))


def challenge_record(identifier: str) -> str:
    """The TXT name of ``identifier``'s DNS-01 challenge: ``_acme-challenge.<name>`` with any
    wildcard label removed (RFC 8555 section 8.4; RFC 8555 section 7.1.3 for wildcards)."""
    name = identifier.lower().rstrip(".")
    if name.startswith("*."):
        name = name[2:]
    return f"{CHALLENGE_LABEL}.{name}"


@dataclass(frozen=True)
class CertificateBundle:
    """A certificate chain (leaf first) with its private key, as stored in Secret Manager."""

    fullchain_pem: str
    private_key_pem: str
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime

    def __repr__(self) -> str:  # never the key
        return f"CertificateBundle(names={self.names!r}, not_after={self.not_after.isoformat()})"

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "fullchain_pem": self.fullchain_pem,
                "private_key_pem": self.private_key_pem,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CertificateBundle:
        try:
            data = json.loads(text)
            return bundle_from_pems(str(data["fullchain_pem"]), str(data["private_key_pem"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CertificateError("the stored certificate bundle is malformed") from exc


def bundle_from_pems(fullchain_pem: str, private_key_pem: str) -> CertificateBundle:
    """Parse and check a chain and key: the leaf's SANs and validity, and that the key is the
    leaf's. Raises ``CertificateError`` (never quoting the key)."""
    try:
        chain = x509.load_pem_x509_certificates(fullchain_pem.encode())
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except ValueError as exc:
        raise CertificateError("the certificate or its key is not valid PEM") from exc
    leaf = chain[0]
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    leaf_public = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public != leaf_public:
        raise CertificateError("the private key does not belong to the certificate")
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(sorted(n.lower() for n in san.value.get_values_for_type(x509.DNSName)))
    except x509.ExtensionNotFound:
        names = ()
    return CertificateBundle(
        fullchain_pem=fullchain_pem,
        private_key_pem=private_key_pem,
        names=names,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


def renewal_reason(
    bundle: CertificateBundle | None,
    wanted: Sequence[str],
    now: datetime,
    renew_before: timedelta = RENEW_BEFORE,
) -> str:
    """Why a new certificate is needed now (``""``: the current one is good)."""
    if bundle is None:
        return "no deployment certificate yet"
    if set(bundle.names) != {name.lower() for name in wanted}:
        return "the certificate does not cover exactly the configured names"
    if now.astimezone(UTC) >= bundle.not_after - renew_before:
        left = bundle.not_after - now.astimezone(UTC)
        return f"the certificate expires in {max(left.days, 0)} days"
    return ""


def usable(bundle: CertificateBundle | None, now: datetime) -> bool:
    """``bundle`` is valid at ``now`` (hosts may still be served a cert awaiting renewal)."""
    return bundle is not None and bundle.not_before <= now.astimezone(UTC) < bundle.not_after
