"""The certificate authority port: ACME (RFC 8555) orders answered by DNS-01.

Adapter: ``shared.adapters.acme_ca.AcmeCertificateAuthority`` (certbot's ``acme`` library,
against Let's Encrypt or any RFC 8555 server). The service
(``shared.services.certificates``) drives it in two steps so that it, not the adapter, owns
the DNS records:

1. ``begin(names, private_key_pem)`` places an order and returns the DNS-01 TXT values to
   publish, keyed by record name (``_acme-challenge.<name>``);
2. after publishing them, ``complete(order)`` tells the server the challenges are ready,
   waits for the order to become valid and returns the certificate chain (PEM, leaf first).

Errors: ``CertificateAuthorityError`` (``rate_limited`` when the CA answered
``urn:ietf:params:acme:error:rateLimited``), a ``PermanentError`` subclass with a
message an operator can act on; ``TransientError`` for network failures and 5xx answers.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import PermanentError


class CertificateAuthorityError(PermanentError):
    def __init__(self, message: str, *, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.rate_limited = rate_limited


@dataclass
class PendingOrder:
    """An order waiting for its DNS-01 challenges. ``txt_records``: record name -> values."""

    names: tuple[str, ...]
    txt_records: dict[str, list[str]]
    #: Adapter state (the ACME order resource and its challenges); opaque to callers.
    handle: Any = field(default=None, repr=False)


class CertificateAuthority(abc.ABC):
    @abc.abstractmethod
    def begin(self, names: Sequence[str], private_key_pem: str) -> PendingOrder:
        """Order a certificate for ``names`` (CSR signed with ``private_key_pem``)."""

    @abc.abstractmethod
    def complete(self, order: PendingOrder) -> str:
        """Answer the order's challenges, finalize it and return the chain (PEM)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Optional."""
