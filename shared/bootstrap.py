"""The one composition root: pick embedded or GCP adapters from ``Settings``.

Nothing is wired at import time. Entry points call ``bootstrap(Settings.from_env())`` once
(lazily, on first request) and tests pass their own adapters as keyword arguments.
Adapter modules are imported inside the builders so that local mode never imports the
Google client libraries and vice versa.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.adapters.no_dns import NoDns
from shared.ports.compute import Compute
from shared.ports.content import ContentStore
from shared.ports.dns import HostRecords
from shared.ports.event_bus import EventBus
from shared.ports.secrets import Secrets
from shared.ports.store import WorkshopStore
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.services.certificates import DeploymentCertificates


@dataclass
class Platform:
    """Everything a handler needs, already wired."""

    settings: Settings
    store: WorkshopStore
    bus: EventBus
    compute: Compute
    secrets: Secrets
    #: Host A records (``<host>.<workshop domain>``); ``NoDns`` unless a DNS zone is configured.
    dns: HostRecords = field(default_factory=NoDns)
    #: Workshop content packs; ``None`` only for hand-built test platforms (built on use).
    content_store: ContentStore | None = None

    @property
    def content(self) -> ContentStore:
        if self.content_store is None:
            self.content_store = build_content(self.settings)
        return self.content_store

    def close(self) -> None:
        for part in (self.bus, self.compute, self.store, self.dns):
            part.close()


def bootstrap(
    settings: Settings,
    *,
    store: WorkshopStore | None = None,
    bus: EventBus | None = None,
    compute: Compute | None = None,
    secrets: Secrets | None = None,
    dns: HostRecords | None = None,
    content: ContentStore | None = None,
) -> Platform:
    """Build a ``Platform``; any adapter passed in is used as is (tests, local platform)."""
    if settings.mode == "local":
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secrets = secrets or build_secrets(settings)
    return Platform(
        settings=settings,
        store=store or build_store(settings),
        bus=bus or build_bus(settings),
        compute=compute or build_compute(settings, secrets),
        secrets=secrets,
        dns=dns or build_dns(settings),
        content_store=content or build_content(settings),
    )


def build_store(settings: Settings) -> WorkshopStore:
    if settings.mode == "gcp":
        from shared.adapters.firestore_store import FirestoreStore

        return FirestoreStore(project=settings.gcp_project, database=settings.firestore_database)
    from shared.adapters.sqlite_store import SqliteStore

    return SqliteStore(settings.database_path)


def build_bus(settings: Settings) -> EventBus:
    if settings.mode == "gcp":
        from shared.adapters.pubsub_bus import PubSubBus

        return PubSubBus(project=settings.gcp_project, topic=settings.events_topic)
    from shared.adapters.local_bus import LocalBus
    from shared.auth.platform_keys import push_token

    return LocalBus(push_url=settings.provisioner_url, push_token=push_token(settings.state_dir))


def build_compute(settings: Settings, secrets: Secrets) -> Compute:
    if settings.mode == "gcp":
        from shared.adapters.gce_compute import GceCompute

        return GceCompute.from_settings(settings)
    from shared.adapters.local_compute import LocalCompute

    return LocalCompute.from_settings(settings)


def build_secrets(settings: Settings) -> Secrets:
    if settings.mode == "gcp":
        from shared.adapters.secret_manager import SecretManagerSecrets

        return SecretManagerSecrets(project=settings.gcp_project)
    from shared.adapters.local_secrets import LocalSecrets

    return LocalSecrets(settings.state_dir / "secrets")


def build_content(settings: Settings) -> ContentStore:
    if settings.mode == "gcp":
        from shared.adapters.gcs_content import GcsContent

        if not settings.content_bucket:
            raise ValueError("CLARATEACH_CONTENT_BUCKET is required in gcp mode")
        return GcsContent(settings.content_bucket, project=settings.gcp_project or None)
    from shared.adapters.local_content import LocalContent

    return LocalContent(settings.state_dir / "content")


def build_dns(settings: Settings) -> HostRecords:
    """Cloud DNS when GCP hosts get ``<host>.<workshop_domain>`` names, else ``NoDns``.

    Both ``workshop_domain`` and ``dns_zone`` are needed: without a zone the provisioner could
    not publish the names, so hosts fall back to trial-mode ``<ip>.sslip.io`` endpoints.
    """
    if settings.host_domain:
        from shared.adapters.cloud_dns import CloudDnsRecords

        return CloudDnsRecords.from_settings(settings)
    return NoDns()


def build_certificates(settings: Settings, secrets: Secrets) -> DeploymentCertificates | None:
    """The deployment certificate service (the ``certificates`` function), or ``None`` when no
    host domain is managed (local and trial mode: hosts get per-host certificates).

    Its DNS adapter is its own ``CloudDnsRecords`` (the certificates function's account, which
    may write the zone's records), never the provisioner's.
    """
    if not settings.host_domain:
        return None
    from shared.adapters.acme_ca import AcmeCertificateAuthority
    from shared.adapters.cloud_dns import CloudDnsRecords
    from shared.domain.certificates import certificate_names
    from shared.services.certificates import DeploymentCertificates

    def authority(account_key_pem: str) -> AcmeCertificateAuthority:
        return AcmeCertificateAuthority(
            settings.acme_directory_url, account_key_pem, email=settings.acme_email
        )

    return DeploymentCertificates(
        secrets=secrets,
        dns=CloudDnsRecords.from_settings(settings),
        authority=authority,
        names=certificate_names(settings.host_domain, settings.certificate_slots),
        propagation_seconds=settings.acme_dns_propagation_seconds,
        certificate_secret=settings.certificate_secret,
        account_secret=settings.acme_account_secret,
    )
