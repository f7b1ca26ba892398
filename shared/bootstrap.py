"""The one composition root: pick embedded or GCP adapters from ``Settings``.

Nothing is wired at import time. Entry points call ``bootstrap(Settings.from_env())`` once
(lazily, on first request) and tests pass their own adapters as keyword arguments.
Adapter modules are imported inside the builders so that local mode never imports the
Google client libraries and vice versa.

Each adapter of a bootstrapped ``Platform`` is built the first time something reads it, so a
function builds (and imports the client library of) only what its routes touch: the join
function never loads Compute or Pub/Sub, the read-only function never loads the publisher, and
only the functions that touch content packs build the content store (whose GCS bucket setting
is checked then, not at bootstrap).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

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

T = TypeVar("T")
_PARTS = ("store", "bus", "compute", "secrets", "dns", "content")

#: Adapter name -> what builds it from the platform's settings (``bootstrap``'s builders).
Builders = Mapping[str, Callable[["Platform"], Any]]


class _Part(Generic[T]):
    """One adapter of a ``Platform``: given, or built by its builder on first read, once."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, platform: None, owner: type | None = None) -> _Part[T]: ...
    @overload
    def __get__(self, platform: Platform, owner: type | None = None) -> T: ...
    def __get__(self, platform: Platform | None, owner: type | None = None) -> T | _Part[T]:
        if platform is None:
            return self
        parts = platform.__dict__
        if self.name not in parts:
            with platform._building:
                if self.name not in parts:
                    build = platform._builders.get(self.name)
                    if build is None:
                        raise AttributeError(f"this platform has no {self.name} adapter")
                    parts[self.name] = build(platform)
        part: T = parts[self.name]
        return part

    def __set__(self, platform: Platform, value: T) -> None:
        platform.__dict__[self.name] = value


@dataclass(init=False, repr=False, eq=False)
class Platform:
    """Everything a handler needs: each adapter as given, or built on first use."""

    settings: Settings
    store: _Part[WorkshopStore] = _Part()
    bus: _Part[EventBus] = _Part()
    compute: _Part[Compute] = _Part()
    secrets: _Part[Secrets] = _Part()
    #: Host A records (``<host>.<workshop domain>``); ``NoDns`` unless a DNS zone is configured.
    dns: _Part[HostRecords] = _Part()
    #: Workshop content packs (local 0600 files, or the GCS bucket in gcp mode).
    content: _Part[ContentStore] = _Part()

    def __init__(
        self,
        settings: Settings,
        store: WorkshopStore | None = None,
        bus: EventBus | None = None,
        compute: Compute | None = None,
        secrets: Secrets | None = None,
        dns: HostRecords | None = None,
        content: ContentStore | None = None,
        *,
        builders: Builders | None = None,
    ) -> None:
        self.settings = settings
        self._builders: Builders = builders or {
            "dns": lambda _: NoDns(),
            "content": lambda p: build_content(p.settings),
        }
        self._building = threading.RLock()
        given = {
            "store": store,
            "bus": bus,
            "compute": compute,
            "secrets": secrets,
            "dns": dns,
            "content": content,
        }
        for name, part in given.items():
            if part is not None:
                setattr(self, name, part)

    def built(self) -> frozenset[str]:
        """The adapters that exist so far (given or built)."""
        return frozenset(name for name in _PARTS if name in vars(self))

    def close(self) -> None:
        """Close what was built; an adapter never used is never built just to be closed."""
        for name in ("bus", "compute", "store", "dns"):  # the secrets port has no close
            part = vars(self).get(name)
            if part is not None:
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
    """A ``Platform`` for ``settings``; any adapter passed in is used as is (tests, local
    platform), every other one is built from ``settings`` when first used."""
    if settings.mode == "local":
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    builders: Builders = {
        "store": lambda p: build_store(p.settings),
        "bus": lambda p: build_bus(p.settings),
        "compute": lambda p: build_compute(p.settings),
        "secrets": lambda p: build_secrets(p.settings),
        "dns": lambda p: build_dns(p.settings),
        "content": lambda p: build_content(p.settings),
    }
    return Platform(settings, store, bus, compute, secrets, dns, content, builders=builders)


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


def build_compute(settings: Settings) -> Compute:
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


def build_dns(settings: Settings) -> HostRecords:
    """Cloud DNS when GCP hosts get ``<host>.<workshop_domain>`` names, else ``NoDns``.

    Both ``workshop_domain`` and ``dns_zone`` are needed: without a zone the provisioner could
    not publish the names, so hosts fall back to trial-mode ``<ip>.sslip.io`` endpoints.
    """
    if settings.host_domain:
        from shared.adapters.cloud_dns import CloudDnsRecords

        return CloudDnsRecords.from_settings(settings)
    return NoDns()


def build_content(settings: Settings) -> ContentStore:
    """GCS in gcp mode (``CLARATEACH_CONTENT_BUCKET`` is required, checked here: on the
    content store's first use, never when a platform that does not need it is bootstrapped)."""
    if settings.mode == "gcp":
        from shared.adapters.gcs_content import GcsContent

        if not settings.content_bucket:
            from shared.services.errors import Unavailable

            # A deployment error, answered 503 (never a 500) and named for the operator.
            raise Unavailable(
                "content storage is not configured on this deployment (CLARATEACH_CONTENT_BUCKET)",
                code="not_configured",
            )
        return GcsContent(settings.content_bucket, project=settings.gcp_project or None)
    from shared.adapters.local_content import LocalContent

    return LocalContent(settings.state_dir / "content")


def build_certificates(settings: Settings, secrets: Secrets) -> DeploymentCertificates | None:
    """The deployment certificate service (the ``certificates`` function), or ``None`` when no
    host domain is managed (local and trial mode: hosts get per-host certificates).

    Built by the certificates function on each run, never by ``bootstrap``: the ACME client is
    imported only there. Its DNS adapter is its own ``CloudDnsRecords`` (the certificates
    function's account, which may write the zone's records), never the provisioner's.
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
