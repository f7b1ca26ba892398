"""Build bus and secrets adapters from the one-line URLs agents receive (docs/protocol.md §5).

``CLARATEACH_AGENT_EVENTS``: ``local:<provisioner push URL>`` or ``pubsub:<project>/<topic>``.
``CLARATEACH_AGENT_SECRETS``: ``local:<directory>`` or ``gcp:<project>``.
The ``*_url_for`` functions are the inverse, used by the provisioner to configure hosts.
"""

from __future__ import annotations

from pathlib import Path

from shared.ports.event_bus import EventBus
from shared.ports.secrets import Secrets
from shared.settings import Settings


def bus_from_url(url: str) -> EventBus:
    scheme, _, rest = url.partition(":")
    if scheme == "local" and rest:
        from shared.adapters.local_bus import LocalBus

        return LocalBus(push_url=rest)
    if scheme == "pubsub" and rest.count("/") == 1 and all(rest.split("/")):
        from shared.adapters.pubsub_bus import PubSubBus

        project, topic = rest.split("/")
        return PubSubBus(project=project, topic=topic)
    raise ValueError(
        f"unsupported events URL {url!r}: use local:<http URL> or pubsub:<project>/<topic>"
    )


def secrets_from_url(url: str) -> Secrets:
    scheme, _, rest = url.partition(":")
    if scheme == "local" and rest:
        from shared.adapters.local_secrets import LocalSecrets

        return LocalSecrets(Path(rest))
    if scheme == "gcp" and rest and "/" not in rest:
        from shared.adapters.secret_manager import SecretManagerSecrets

        return SecretManagerSecrets(project=rest)
    raise ValueError(f"unsupported secrets URL {url!r}: use local:<directory> or gcp:<project>")


def events_url_for(settings: Settings) -> str:
    if settings.mode == "gcp":
        return f"pubsub:{settings.gcp_project}/{settings.events_topic}"
    return f"local:{settings.provisioner_url}"


def secrets_url_for(settings: Settings) -> str:
    if settings.mode == "gcp":
        return f"gcp:{settings.gcp_project}"
    return f"local:{settings.state_dir / 'secrets'}"
