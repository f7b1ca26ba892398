"""Preview origins: one per seat and port, never the agent's (or the web client's) own.

* Local (the agent's public URL names a loopback address or ``localhost``):
  ``http://p<P>-s<S>-<workshop>.localhost:<agent port>/``. Chromium and Firefox resolve every
  ``*.localhost`` name to loopback, so this reaches the agent with no DNS set-up.
* Otherwise (GCP: ``https://<host>.<domain>``): ``https://p<P>-s<S>.<host>.<domain>/``, under
  the deployment's wildcard certificate for ``*.<host>.<domain>``.

Learner HTML must not run on an origin where learner tokens live (the web client's, whose
storage holds them) or where the agent's API answers with the browser's ambient state: so
each preview has its own origin, and the agent dispatches on the ``Host`` header before
routing. A request on a preview host never reaches an agent route, and the preview proxy is
not mounted on the agent's own host at all (``middleware.py``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from workspace_agent.seat_paths import parse_seat
from workspace_agent.settings import AgentSettings

MIN_PORT, MAX_PORT = 1024, 65535
_LABEL = re.compile(r"p([1-9][0-9]{3,4})-s([1-9][0-9]{0,5})", re.ASCII)


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class PreviewTarget:
    seat: int
    port: int


class PreviewOrigins:
    """Builds and parses preview origins for this agent (from its public URL)."""

    def __init__(self, settings: AgentSettings) -> None:
        self._settings = settings

    def _public(self) -> tuple[str, str, int | None]:
        s = self._settings
        url = urlsplit(s.public_url or f"http://127.0.0.1:{s.port}")
        return url.scheme or "http", (url.hostname or "127.0.0.1").lower(), url.port

    @property
    def secure(self) -> bool:
        return self._public()[0] == "https"

    def suffix(self) -> str:
        _, host, _ = self._public()
        if _is_local(host):
            return f"-{self._settings.workshop_id.lower()}.localhost"
        return f".{host}"

    def host(self, seat: int, port: int) -> str:
        return f"p{port}-s{seat}{self.suffix()}"

    def origin(self, seat: int, port: int) -> str:
        scheme, _, public_port = self._public()
        default = {"http": 80, "https": 443}.get(scheme)
        port_part = f":{public_port}" if public_port and public_port != default else ""
        return f"{scheme}://{self.host(seat, port)}{port_part}"

    def parse(self, host_header: str) -> PreviewTarget | None:
        """The seat and port a ``Host`` header names, or None when it is not a preview host
        of this agent. Seats this host does not serve and ports outside 1024-65535 are None
        too (the request then gets the agent's ordinary 404, never a proxied answer)."""
        host = host_header.strip().lower()
        if host.startswith("["):
            return None
        host = host.rsplit(":", 1)[0] if ":" in host else host
        host = host.rstrip(".")
        suffix = self.suffix()
        if not host.endswith(suffix):
            return None
        match = _LABEL.fullmatch(host[: -len(suffix)])
        if match is None:
            return None
        port, seat = int(match.group(1)), parse_seat(match.group(2))
        if seat is None or not MIN_PORT <= port <= MAX_PORT:
            return None
        return PreviewTarget(seat=seat, port=port)

    def is_preview_host(self, host_header: str) -> bool:
        """Anything shaped like a preview host under this agent's suffix (valid or not)."""
        host = host_header.strip().lower()
        host = host.rsplit(":", 1)[0] if ":" in host and not host.startswith("[") else host
        return host.rstrip(".").endswith(self.suffix())
