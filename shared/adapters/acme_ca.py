"""``AcmeCertificateAuthority``: ACME (RFC 8555) orders with DNS-01, through certbot's ``acme``.

The protocol (JWS-signed POSTs, nonces, account, order, authorizations, challenges, CSR
finalization, certificate download) is the ``acme`` library's; this adapter only chooses the
DNS-01 challenge of each authorization and maps errors:

* ``begin``: fetch the directory, register the account key (``newAccount`` with
  ``termsOfServiceAgreed``; an existing account answers 200 + ``Location``, RFC 8555 §7.3.1,
  which the library raises as ``ConflictError`` and we adopt), then ``newOrder`` with a CSR
  for ``names`` (RFC 8555 §7.4). For every authorization (one per name; a wildcard's is for
  the base name with ``"wildcard": true``, §7.1.3) the DNS-01 key authorization digest is
  listed under ``_acme-challenge.<base name>`` (§8.4); ``*.d`` and ``d`` share that record.
* ``complete``: POST each challenge (§7.5.1), poll the authorizations, finalize with the CSR
  and download the chain (§7.4, the library's ``poll_and_finalize``).

``badNonce`` answers are retried by the library (RFC 8555 §6.5: "the client SHOULD retry").
A problem document of type ``urn:ietf:params:acme:error:rateLimited`` (§6.7, answered with
HTTP 429 by Let's Encrypt, https://letsencrypt.org/docs/rate-limits/) becomes a
``CertificateAuthorityError`` with ``rate_limited=True``; other problems and failed
validations a ``CertificateAuthorityError`` quoting the CA's detail; network errors and 5xx a
``TransientError``. The account key is never logged.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from typing import Any

import josepy
import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives import serialization

from shared.domain.certificates import challenge_record
from shared.domain.errors import TransientError
from shared.ports.certificates import CertificateAuthority, CertificateAuthorityError, PendingOrder

log = logging.getLogger(__name__)

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited"
USER_AGENT = "clarateach-certificates"


class AcmeCertificateAuthority(CertificateAuthority):
    def __init__(
        self,
        directory_url: str,
        account_key_pem: str,
        *,
        email: str = "",
        verify: bool | str = True,
        timeout: int = 45,
        validation_timeout: float = 300.0,
    ) -> None:
        key = serialization.load_pem_private_key(account_key_pem.encode(), password=None)
        self._key = josepy.JWKRSA(key=key)
        self.directory_url = directory_url
        self._email = email
        # ``verify_ssl`` is handed to requests' ``verify``: a CA bundle path works (tests).
        self._net = client.ClientNetwork(
            self._key,
            user_agent=USER_AGENT,
            timeout=timeout,
            verify_ssl=verify,  # type: ignore[arg-type]
        )
        self._validation_timeout = validation_timeout
        self._client: client.ClientV2 | None = None

    def __repr__(self) -> str:
        return f"AcmeCertificateAuthority({self.directory_url!r})"

    # ------------------------------------------------------------------- port
    def begin(self, names: Sequence[str], private_key_pem: str) -> PendingOrder:
        acme = self._account()
        csr = crypto_util.make_csr(private_key_pem.encode(), list(names))
        order = _mapped(lambda: acme.new_order(csr), "placing the certificate order")
        records: dict[str, list[str]] = {}
        answers = []
        for authz in order.authorizations:
            identifier = authz.body.identifier.value
            if authz.body.status == messages.STATUS_VALID:
                continue  # reused authorization (RFC 8555 §7.1.4): nothing to prove
            challb = _dns01(authz, identifier)
            response, validation = challb.chall.response_and_validation(self._key)
            values = records.setdefault(challenge_record(identifier), [])
            if validation not in values:
                values.append(validation)
            answers.append((challb, response))
        return PendingOrder(tuple(names), records, (order, answers))

    def complete(self, order: PendingOrder) -> str:
        acme = self._account()
        orderr, answers = order.handle
        for challb, response in answers:
            _mapped(lambda c=challb, r=response: acme.answer_challenge(c, r), "answering DNS-01")
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=self._validation_timeout)
        done = _mapped(lambda: acme.poll_and_finalize(orderr, deadline), "finalizing the order")
        if not done.fullchain_pem:
            raise CertificateAuthorityError("the CA finalized the order without a certificate")
        log.info("certificate issued", extra={"names": list(order.names)})
        return str(done.fullchain_pem)

    def close(self) -> None:
        self._net.session.close()

    # ---------------------------------------------------------------- helpers
    def _account(self) -> client.ClientV2:
        if self._client is not None:
            return self._client
        directory = _mapped(
            lambda: client.ClientV2.get_directory(self.directory_url, self._net),
            "reading the ACME directory",
        )
        acme = client.ClientV2(directory, net=self._net)
        registration = messages.NewRegistration.from_data(
            email=self._email or None, terms_of_service_agreed=True
        )
        try:
            _mapped(lambda: acme.new_account(registration), "registering the ACME account")
        except errors.ConflictError as exists:
            # The key already has an account (RFC 8555 §7.3.1): use it.
            self._net.account = messages.RegistrationResource(
                uri=exists.location, body=messages.Registration()
            )
        self._client = acme
        return acme


def _dns01(authz: messages.AuthorizationResource, identifier: str) -> Any:
    for challb in authz.body.challenges:
        if isinstance(challb.chall, challenges.DNS01):
            return challb
    raise CertificateAuthorityError(f"the CA offers no dns-01 challenge for {identifier}")


def _mapped(call: Any, what: str) -> Any:
    try:
        return call()
    except errors.ConflictError:
        raise
    except messages.Error as problem:
        detail = (problem.detail or problem.typ or "")[:300]
        if problem.typ == RATE_LIMITED:
            raise CertificateAuthorityError(
                f"{what}: the CA's rate limit was reached ({detail})",
                rate_limited=True,
            ) from None
        if problem.code == "badNonce":  # the library's one retry was rejected too (§6.5)
            raise TransientError(f"{what}: the CA rejected our nonces (badNonce)") from None
        if problem.typ == "urn:ietf:params:acme:error:serverInternal":
            raise TransientError(f"{what}: the CA failed internally ({detail})") from None
        raise CertificateAuthorityError(f"{what}: the CA refused: {detail}") from None
    except errors.ValidationError as failed:
        reasons = []
        for authz in failed.failed_authzrs:
            for challb in authz.body.challenges:
                if challb.error is not None:
                    reasons.append(
                        f"{authz.body.identifier.value}: {(challb.error.detail or '')[:200]}"
                    )
        raise CertificateAuthorityError(
            f"{what}: DNS-01 validation failed ({'; '.join(reasons) or 'no detail'})"
        ) from None
    except errors.TimeoutError:
        raise TransientError(f"{what}: the CA did not validate in time") from None
    except requests.RequestException as exc:
        raise TransientError(f"{what}: cannot reach the CA ({type(exc).__name__})") from None
    except errors.Error as exc:
        raise CertificateAuthorityError(f"{what}: {type(exc).__name__}") from None
