"""``CloudDnsRecords``: host A records in one Cloud DNS managed zone, over the v1 REST API.

Talks to ``{endpoint}/dns/v1/projects/{project}/managedZones/{zone}/rrsets`` through a
``google.auth`` ``AuthorizedSession`` (already a dependency of every Google client library), so
no DNS client package is needed. The provisioner's service account may edit records in this
zone only (terraform/iam.tf, ``dns_record_editor``).

Requests:

* upsert: ``POST .../rrsets`` with ``{"name": "<fqdn>.", "type": "A", "ttl", "rrdatas": [ip]}``;
  if the record already exists (409) -> ``PATCH .../rrsets/<fqdn>./A`` with the same body, so
  a redelivered event converges on one record with the newest address;
* delete: ``DELETE .../rrsets/<fqdn>./A``; 404 (already gone) is success.
* a wildcard name ``*.<slot>.<domain>`` (a slotted host's preview origins) is one more A
  rrset: Cloud DNS supports wildcard record sets whose leftmost label is ``*``
  (https://cloud.google.com/dns/docs/records-overview#wildcard_records).
* ACME DNS-01 (``ChallengeRecords``, the certificate function only): the same three calls for
  type ``TXT`` at ``_acme-challenge.<name>``; each value is one quoted character-string
  (``"\"<value>\""``, RFC 1035 §3.3.14), as Cloud DNS expects in ``rrdatas``
  (https://cloud.google.com/dns/docs/records-overview#txt-records).

Error mapping: 429, 5xx, timeouts and connection errors -> ``TransientError``; 400 (e.g. a
name outside the zone), 401/403 (permission) and 404 on create (unknown zone) ->
``PermanentError`` naming the zone, so an operator can fix the configuration.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from typing import Any
from urllib.parse import quote

import requests
from google.auth.credentials import Credentials

from shared.domain.errors import PermanentError, TransientError
from shared.ports.dns import ChallengeRecords, HostRecords
from shared.settings import Settings

log = logging.getLogger(__name__)

DNS_API = "https://dns.googleapis.com"
#: Read-write access to Cloud DNS only (IAM still limits the account to one zone).
DNS_SCOPE = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
#: Per-request timeout in seconds; the provisioner must not hang on a slow API.
REQUEST_TIMEOUT = 30.0

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?$")
#: A DNS-01 key authorization digest: base64url, no padding (RFC 8555 §8.4).
_TXT_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


class CloudDnsRecords(HostRecords, ChallengeRecords):
    def __init__(
        self,
        project: str,
        zone: str,
        *,
        session: requests.Session | None = None,
        endpoint: str = DNS_API,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        if not project or not zone:
            raise ValueError("CloudDnsRecords needs a project and a managed zone name")
        self.project = project
        self.zone = zone
        # Built on first use: credentials are looked up only when a record is really touched.
        self._session = session
        self._session_lock = threading.Lock()
        self._rrsets = (
            f"{endpoint.rstrip('/')}/dns/v1/projects/{quote(project, safe='')}"
            f"/managedZones/{quote(zone, safe='')}/rrsets"
        )
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudDnsRecords:
        return cls(settings.gcp_project, settings.dns_zone)

    @classmethod
    def for_endpoint(
        cls, project: str, zone: str, endpoint: str, credentials: Credentials, **kwargs: Any
    ) -> CloudDnsRecords:
        """An adapter talking to another endpoint (the local fake in tests)."""
        from google.auth.transport.requests import AuthorizedSession

        session = AuthorizedSession(credentials)
        return cls(project, zone, session=session, endpoint=endpoint, **kwargs)

    # ------------------------------------------------------------------- port
    def upsert_a_record(self, name: str, ip: str, ttl: int) -> None:
        fqdn = _fqdn(name)
        body = {"name": fqdn, "type": "A", "ttl": int(ttl), "rrdatas": [_ipv4(ip, fqdn)]}
        response = self._call("POST", self._rrsets, body, f"creating DNS record {fqdn}")
        if response.status_code == 409:
            # Exists already (a redelivery, or the host was recreated): replace its address.
            self._call("PATCH", self._record_url(fqdn), body, f"updating DNS record {fqdn}")
        log.info("host DNS record set", extra={"dns_name": fqdn, "ip": ip, "dns_zone": self.zone})

    def delete_record(self, name: str) -> None:
        fqdn = _fqdn(name)
        self._call("DELETE", self._record_url(fqdn), None, f"deleting DNS record {fqdn}")
        log.info("host DNS record removed", extra={"dns_name": fqdn, "dns_zone": self.zone})

    def set_txt_record(self, name: str, values: list[str], ttl: int) -> None:
        fqdn = _fqdn(name)
        if not values or not all(_TXT_VALUE.match(value) for value in values):
            raise PermanentError(f"{fqdn}: TXT values must be non-empty base64url strings")
        body = {
            "name": fqdn,
            "type": "TXT",
            "ttl": int(ttl),
            "rrdatas": [f'"{value}"' for value in values],
        }
        response = self._call("POST", self._rrsets, body, f"creating TXT record {fqdn}")
        if response.status_code == 409:
            self._call("PATCH", self._record_url(fqdn, "TXT"), body, f"updating TXT record {fqdn}")
        log.info("challenge TXT record set", extra={"dns_name": fqdn, "dns_zone": self.zone})

    def delete_txt_record(self, name: str) -> None:
        fqdn = _fqdn(name)
        self._call("DELETE", self._record_url(fqdn, "TXT"), None, f"deleting TXT record {fqdn}")
        log.info("challenge TXT record removed", extra={"dns_name": fqdn, "dns_zone": self.zone})

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    # ---------------------------------------------------------------- helpers
    def _http(self) -> requests.Session:
        with self._session_lock:
            if self._session is None:
                self._session = _default_session()
            return self._session

    def _record_url(self, fqdn: str, kind: str = "A") -> str:
        return f"{self._rrsets}/{quote(fqdn, safe='.')}/{kind}"

    def _call(
        self, method: str, url: str, body: dict[str, Any] | None, what: str
    ) -> requests.Response:
        """Send one request; return it if it succeeded (or is an expected 404/409)."""
        try:
            response = self._http().request(method, url, json=body, timeout=self._timeout)
        except requests.RequestException as exc:
            raise TransientError(f"{what}: {type(exc).__name__}") from exc
        status = response.status_code
        if status < 300:
            return response
        if status == 409 and method == "POST":
            return response  # already exists: the caller patches
        if status == 404 and method == "DELETE":
            return response  # already gone
        message = _error_message(response)
        if status == 429 or status >= 500:
            raise TransientError(f"{what}: Cloud DNS answered {status}: {message}")
        if status == 404 and method == "PATCH":
            # Deleted between our create (409) and patch: a stop is racing us; retry later.
            raise TransientError(f"{what}: the record vanished while being updated")
        if status == 404:
            raise PermanentError(
                f"{what}: Cloud DNS zone {self.zone!r} not found in project {self.project!r};"
                " check the dns_zone setting"
            )
        if status in (401, 403):
            raise PermanentError(
                f"{what}: permission denied on Cloud DNS zone {self.zone!r}: {message}"
            )
        raise PermanentError(f"{what}: Cloud DNS refused the request ({status}): {message}")


def _default_session() -> requests.Session:
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=[DNS_SCOPE])
    return AuthorizedSession(credentials)


def _fqdn(name: str) -> str:
    """``name`` lower-cased with exactly one trailing dot; rejects anything not a host name."""
    fqdn = name.strip().lower().rstrip(".") + "."
    labels = fqdn[:-1].split(".")
    if labels[0] == "*":  # a wildcard owner name: '*' as the whole leftmost label only
        labels = labels[1:]
    if len(fqdn) > 254 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise PermanentError(f"{name!r} is not a valid DNS name for a host record")
    return fqdn


def _ipv4(ip: str, fqdn: str) -> str:
    try:
        return str(ipaddress.IPv4Address(ip))
    except ValueError as exc:
        raise PermanentError(f"{fqdn}: {ip!r} is not an IPv4 address") from exc


def _error_message(response: requests.Response) -> str:
    """Cloud DNS's own error message (``{"error": {"message"}}``), cut short."""
    try:
        payload = response.json()
        message = str(payload["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.reason or ""
    return message[:300]
