"""A host's event bus: ``POST <API>/api/hosts/events`` with proof of which host is speaking.

Selected by ``CLARATEACH_AGENT_EVENTS=hostapi:<API base URL>`` (docs/protocol.md §5). Hosts
never write the event topic: the API checks who is calling and publishes for them
(``shared.services.host_events``). Each ``publish`` sends the event's message body with
``Authorization: Bearer <proof>``:

* a GCE host (no ``token`` given) asks its metadata server for an instance identity token
  (audience = the API base URL, ``format=full``; the same kind ``hostcred:`` uses), fresh per
  call (the metadata server caches it);
* a local host presents the host events token it was started with (environment only).

2xx: the message id from the answer. Network errors, 429 and 5xx: ``TransientError``; other
refusals: ``PermanentError`` (the caller's retry loop decides). Redirects are never followed
and answers are never quoted (the token must not travel anywhere else).
"""

from __future__ import annotations

import httpx

from shared.adapters.host_credentials import (
    check_api_base_url,
    identity_token,
    metadata_base_url,
    raise_for,
)
from shared.domain.errors import PermanentError, TransientError
from shared.domain.events import Event
from shared.ports.event_bus import EventBus

EVENTS_PATH = "/api/hosts/events"


class HostEventsBus(EventBus):
    def __init__(
        self,
        api_base_url: str,
        *,
        token: str | None = None,
        metadata_base: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.api_base_url = check_api_base_url(api_base_url, "hostapi")
        self.metadata_base = metadata_base_url(metadata_base)
        self._token = token or None
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"HostEventsBus({self.api_base_url!r})"

    def publish(self, event: Event) -> str:
        body, _attributes, _key = event.to_message()
        with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
            proof = self._token or identity_token(client, self.metadata_base, self.api_base_url)
            try:
                response = client.post(
                    self.api_base_url + EVENTS_PATH,
                    content=body,
                    headers={
                        "Authorization": f"Bearer {proof}",
                        "Content-Type": "application/json",
                    },
                )
            except httpx.HTTPError as exc:
                raise TransientError(f"cannot reach the API ({type(exc).__name__})") from None
        raise_for(response, "the API")
        try:
            message_id = response.json()["message_id"]
        except (ValueError, KeyError, TypeError):
            raise PermanentError("the API's host events answer is malformed") from None
        return str(message_id)
