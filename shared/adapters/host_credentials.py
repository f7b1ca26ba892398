"""Read-only secrets for a host VM: its workshop's API key, fetched with its instance identity.

Selected by ``CLARATEACH_AGENT_SECRETS=hostcred:<API base URL>`` (docs/protocol.md §5). On
``access`` the adapter (API URL: ``https``, or ``http`` on loopback for tests)

1. asks the GCE metadata server for an identity token of this VM
   (``.../instance/service-accounts/default/identity?audience=<base>&format=full``, header
   ``Metadata-Flavor: Google``); identity tokens need no OAuth scope, so hosts keep their
   minimal scopes and their service account needs no Secret Manager permission;
2. ``POST <base>/api/hosts/credentials`` with ``Authorization: Bearer <identity token>``;
3. returns ``api_key`` from the answer and keeps it in memory only (never on disk, never
   logged; the token is not kept at all).

The server decides *which* key from the instance the token names, so ``ref`` only keys the
cache. A 404 (workshop not live, host not in its plan) is ``None``, like a missing secret;
401/403 are ``PermanentError``; network errors, 429 and 5xx are retried a few times with
backoff, then ``TransientError``. Redirects are never followed (the token must not travel
anywhere else). ``put``/``delete`` raise: hosts cannot write secrets.

The metadata server's address comes from ``metadata_base``, else ``GCE_METADATA_HOST`` (the
variable google-auth honours, ``host[:port]``), else ``metadata.google.internal``.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from collections.abc import Callable

import httpx

from shared.domain.errors import PermanentError, TransientError
from shared.ports.secrets import Secrets

CREDENTIALS_PATH = "/api/hosts/credentials"
IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"
DEFAULT_METADATA_HOST = "metadata.google.internal"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Waits before the 2nd, 3rd, ... attempt; a cold-starting function is usually up within these.
DEFAULT_BACKOFF = (0.5, 1.0, 2.0, 4.0)


class HostCredentialSecrets(Secrets):
    def __init__(
        self,
        api_base_url: str,
        *,
        metadata_base: str | None = None,
        timeout: float = 10.0,
        backoff: tuple[float, ...] = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # The answer is the workshop key: never over plain HTTP beyond this machine.
        self.api_base_url = check_api_base_url(api_base_url, "hostcred")
        self.metadata_base = metadata_base_url(metadata_base)
        self._timeout = timeout
        self._backoff = backoff
        self._sleep = sleep
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HostCredentialSecrets({self.api_base_url!r})"

    def put(self, name: str, value: str, labels: dict[str, str] | None = None) -> str:
        raise PermanentError("host credentials are read-only")

    def delete(self, ref: str) -> None:
        raise PermanentError("host credentials are read-only")

    def access(self, ref: str) -> str | None:
        with self._lock:  # one fetch at a time; later callers get the cached key
            if ref in self._cache:
                return self._cache[ref]
            key = self._with_retries(self._fetch)
            if key is not None:
                self._cache[ref] = key
            return key

    def _with_retries(self, attempt: Callable[[], str | None]) -> str | None:
        for wait in (*self._backoff, None):
            try:
                return attempt()
            except TransientError:
                if wait is None:
                    raise
                self._sleep(wait)
        raise AssertionError("unreachable")

    def _fetch(self) -> str | None:
        with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
            token = self._identity_token(client)
            try:
                response = client.post(
                    self.api_base_url + CREDENTIALS_PATH,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                raise TransientError(f"cannot reach the API ({type(exc).__name__})") from None
        if response.status_code == 404:
            return None
        raise_for(response, "the API")
        try:
            key = response.json()["api_key"]
        except (ValueError, KeyError, TypeError):
            raise PermanentError("the API's credentials answer is malformed") from None
        if not isinstance(key, str) or not key:
            raise PermanentError("the API's credentials answer has no key")
        return key

    def _identity_token(self, client: httpx.Client) -> str:
        return identity_token(client, self.metadata_base, self.api_base_url)


def metadata_base_url(metadata_base: str | None = None) -> str:
    """The metadata server: ``metadata_base``, else ``GCE_METADATA_HOST``, else the default."""
    host = os.environ.get("GCE_METADATA_HOST") or DEFAULT_METADATA_HOST
    return (metadata_base or f"http://{host}").rstrip("/")


def check_api_base_url(api_base_url: str, scheme_name: str) -> str:
    """``api_base_url`` without a trailing slash; ``ValueError`` unless https (http: loopback)."""
    parsed = urllib.parse.urlsplit(api_base_url)
    loopback = parsed.hostname in LOOPBACK_HOSTS
    if not parsed.hostname or parsed.scheme not in ("https", "http" if loopback else "https"):
        raise ValueError(f"{scheme_name}: needs the API's https base URL (http for loopback only)")
    return api_base_url.rstrip("/")


def identity_token(client: httpx.Client, metadata_base: str, audience: str) -> str:
    """This VM's identity token for ``audience`` (``format=full``: names the instance)."""
    try:
        response = client.get(
            metadata_base + IDENTITY_PATH,
            params={"audience": audience, "format": "full"},
            headers={"Metadata-Flavor": "Google"},
        )
    except httpx.HTTPError as exc:
        raise TransientError(f"cannot reach the metadata server ({type(exc).__name__})") from None
    raise_for(response, "the metadata server")
    token = response.text.strip()
    if not token:
        raise TransientError("the metadata server returned an empty identity token")
    return token


def raise_for(response: httpx.Response, who: str) -> None:
    """Map a non-2xx answer; the body is never quoted (it could echo a credential)."""
    status = response.status_code
    if status < 300:
        return
    if status == 429 or status >= 500:
        raise TransientError(f"{who} is unavailable (HTTP {status})")
    raise PermanentError(f"{who} refused (HTTP {status})")
