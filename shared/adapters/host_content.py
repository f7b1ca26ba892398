"""A host fetching its workshop's content pack: ``GET <API>/api/hosts/content``.

Authenticated exactly like ``shared.adapters.host_events_bus`` (a GCE host: a fresh instance
identity token for the API base URL from its metadata server; a local host: its host events
token), with the workshop, host index and start attempt in the query
(``shared.services.content.host_content``). 200: the zip (read up to the pack size limit);
204: no pack. Network errors, 429 and 5xx: ``TransientError``; other refusals:
``PermanentError``. Redirects are never followed; answers are never quoted.
"""

from __future__ import annotations

import httpx

from shared.adapters.host_credentials import (
    check_api_base_url,
    identity_token,
    metadata_base_url,
    raise_for,
)
from shared.content.limits import DEFAULT_LIMITS
from shared.domain.errors import PermanentError, TransientError

CONTENT_PATH = "/api/hosts/content"


class HostContentClient:
    def __init__(
        self,
        api_base_url: str,
        *,
        token: str | None = None,
        metadata_base: str | None = None,
        timeout: float = 30.0,
        max_bytes: int = DEFAULT_LIMITS.max_archive_bytes,
    ) -> None:
        self.api_base_url = check_api_base_url(api_base_url, "hostapi")
        self.metadata_base = metadata_base_url(metadata_base)
        self._token = token or None
        self._timeout = timeout
        self._max = max_bytes

    def __repr__(self) -> str:
        return f"HostContentClient({self.api_base_url!r})"

    def fetch(self, workshop_id: str, host_index: int, attempt: int) -> bytes | None:
        """The workshop's pack zip, or ``None`` if it has none."""
        query = {"workshop_id": workshop_id, "host_index": str(host_index), "attempt": str(attempt)}
        with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
            proof = self._token or identity_token(client, self.metadata_base, self.api_base_url)
            headers = {"Authorization": f"Bearer {proof}"}
            try:
                with client.stream(
                    "GET", self.api_base_url + CONTENT_PATH, params=query, headers=headers
                ) as response:
                    raise_for(response, "the API")
                    if response.status_code == 204:
                        return None
                    return self._read(response)
            except httpx.HTTPError as exc:
                raise TransientError(f"cannot reach the API ({type(exc).__name__})") from None

    def _read(self, response: httpx.Response) -> bytes:
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > self._max:
                raise PermanentError(f"the content pack is larger than {self._max} bytes")
        return bytes(data)
