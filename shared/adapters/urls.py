"""Build bus and secrets adapters from the one-line URLs agents receive (docs/protocol.md §5).

``CLARATEACH_AGENT_EVENTS``: ``hostapi:<API base URL>`` (what hosts get: events go through
``POST /api/hosts/events`` with proof of the host, ``shared.adapters.host_events_bus``), or the
platform's own transports ``local:<provisioner push URL>`` / ``pubsub:<project>/<topic>``.
``CLARATEACH_AGENT_SECRETS``: ``local:<directory>``, ``hostcred:<API base URL>`` (GCE hosts:
the key is fetched with the VM's identity token, ``shared.adapters.host_credentials``) or
``gcp:<project>`` (Secret Manager directly; control-plane tools, not hosts).
The ``*_url_for`` functions are the inverse, used by the provisioner to configure hosts.
"""

from __future__ import annotations

from pathlib import Path

from shared.ports.event_bus import EventBus
from shared.ports.secrets import Secrets
from shared.settings import Settings


def bus_from_url(url: str, *, token: str | None = None) -> EventBus:
    """The bus ``url`` names. ``token``: a local host's events token (``hostapi:`` only; a GCE
    host proves itself with its identity token instead), or the push token (``local:``)."""
    scheme, _, rest = url.partition(":")
    if scheme == "hostapi" and rest:
        from shared.adapters.host_events_bus import HostEventsBus

        return HostEventsBus(rest, token=token)
    if scheme == "local" and rest:
        from shared.adapters.local_bus import LocalBus

        return LocalBus(push_url=rest, push_token=token or "")
    if scheme == "pubsub" and rest.count("/") == 1 and all(rest.split("/")):
        from shared.adapters.pubsub_bus import PubSubBus

        project, topic = rest.split("/")
        return PubSubBus(project=project, topic=topic)
    raise ValueError(
        f"unsupported events URL {url!r}: use hostapi:<API URL>, local:<http URL> or "
        "pubsub:<project>/<topic>"
    )


def secrets_from_url(url: str) -> Secrets:
    scheme, _, rest = url.partition(":")
    if scheme == "local" and rest:
        from shared.adapters.local_secrets import LocalSecrets

        return LocalSecrets(Path(rest))
    if scheme == "gcp" and rest and "/" not in rest:
        from shared.adapters.secret_manager import SecretManagerSecrets

        return SecretManagerSecrets(project=rest)
    if scheme == "hostcred" and rest:
        from shared.adapters.host_credentials import HostCredentialSecrets

        return HostCredentialSecrets(rest)
    raise ValueError(
        f"unsupported secrets URL {url!r}: use local:<directory>, hostcred:<API URL> "
        "or gcp:<project>"
    )


def events_url_for(settings: Settings) -> str:
    """Where a host reports its events: the API's host events route, on both platforms (the
    topic and the local push endpoint accept only the platform itself)."""
    return f"hostapi:{settings.host_credentials_base}"


def secrets_url_for(settings: Settings) -> str:
    """How a host's agent reads its workshop's key: from the API with its VM identity on GCP
    (hosts have no Secret Manager access), from the local secrets directory otherwise."""
    if settings.mode == "gcp":
        return f"hostcred:{settings.host_credentials_base}"
    return f"local:{settings.state_dir / 'secrets'}"
