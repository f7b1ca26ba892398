"""GCE hosts: one Compute Engine VM per host (google-cloud-compute, REST transport).

The instance is described entirely by ``GceHostConfig`` (from settings) and the ``HostSpec``:
machine type, boot image or family, disk, network and tags, a service account with minimal
OAuth scopes, optional Spot scheduling, labels from ``HostSpec.labels``, and metadata holding
the agent configuration, ``startup-script`` and ``disable-legacy-endpoints``. Nothing secret is
ever put on the instance: the agent fetches the API key from the API with the VM's instance
identity token (``shared.adapters.host_credentials``; docs/events.md, "Host credentials").

Service-account scopes (``HOST_SCOPES``). Scopes only cap what the VM's token may do; the real
boundary is IAM (the host account may write logs and pull seat images from one repository,
nothing else; it has no Pub/Sub and no Secret Manager access: host events go to
``POST /api/hosts/events`` with the identity token). The host needs: Cloud Logging writes,
Cloud Monitoring writes, and Artifact Registry reads for ``docker pull`` of the seat image,
which Artifact Registry accepts from a VM token only with ``devstorage.read_only`` (or
``cloud-platform``) among its scopes
(https://cloud.google.com/artifact-registry/docs/access-control#compute).
``cloud-platform`` is deliberately absent, and nothing needs it: identity tokens (key and
events) take no scope.

Quotas (``check_capacity``): before a start creates anything, ``regions.get`` (the zone's
region: ``CPUS``, ``PREEMPTIBLE_CPUS``, ``IN_USE_ADDRESSES``, ``SSD_TOTAL_GB``) and
``projects.get`` (``CPUS_ALL_REGIONS``) give each metric's limit and usage; every metric
without room for the new hosts is named in one ``PermanentError`` (``shared.domain.capacity``).

Operations are awaited with ``zoneOperations.wait`` under an overall ``operation_timeout``.
Error mapping: insert "already exists" (409) -> the existing instance (success); delete of a
missing instance (404) -> success; quota, stockout, bad image/machine type (400/403 or an
operation error with those codes) -> ``PermanentError`` with an instructor-readable reason;
429, 5xx, timeouts and connection errors -> ``TransientError``.

Rate limits are not quotas. Compute answers a request over a per-minute *rate* quota with
403 ``rateLimitExceeded`` (domain ``usageLimits``) and a message that says "Quota exceeded for
quota metric ..."; Google's advice is to wait and retry, the quota refills each minute
(https://cloud.google.com/compute/api-quota). Such answers (and 429) are retried here with
exponential backoff (``RATE_LIMIT_BACKOFF``, about a minute in all), then raised as
``TransientError`` so Pub/Sub redelivers; they are never the permanent ``QUOTA_EXCEEDED``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import Credentials
from google.cloud import compute_v1

from shared.domain.capacity import HostShape, Quota, needs, shortfalls
from shared.domain.errors import PermanentError, TransientError
from shared.host_bootstrap import render_startup_script
from shared.ports.compute import Compute, HostInfo, HostSpec
from shared.settings import Settings

log = logging.getLogger(__name__)

HOST_SCOPES = (
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/logging.write",
    "https://www.googleapis.com/auth/monitoring.write",
)

#: Operation / HTTP error codes that retrying will not fix, and what the instructor should do.
_PERMANENT_REASONS = {
    "QUOTA_EXCEEDED": "the GCP project is out of quota ({detail}); ask for a quota increase "
    "or use fewer seats per workshop",
    "ZONE_RESOURCE_POOL_EXHAUSTED": "the zone has no capacity for this machine type right now "
    "({detail}); try again later or configure another zone",
    "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS": "the zone has no capacity for this machine type "
    "right now ({detail}); try again later or "
    "configure another zone",
    "RESOURCE_NOT_FOUND": "the host image or machine type does not exist ({detail}); check the "
    "host image configuration",
    "INVALID_FIELD_VALUE": "the host configuration is invalid ({detail})",
}

#: REST error ``reason`` values (camelCase) with the same meaning as operation error codes.
_REASON_ALIASES = {
    "quotaExceeded": "QUOTA_EXCEEDED",
    "resourceNotFound": "RESOURCE_NOT_FOUND",
    "notFound": "RESOURCE_NOT_FOUND",
    "invalid": "INVALID_FIELD_VALUE",
}

#: REST error ``reason`` values meaning "too many requests this minute": wait and retry.
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})

#: Seconds to wait before each retry of a rate-limited call (then ``TransientError``).
RATE_LIMIT_BACKOFF = (2.0, 4.0, 8.0, 16.0, 30.0)

_URL_PREFIX = re.compile(r"^[A-Z]+ https?://\S+: ")

_STATE = {
    "PROVISIONING": "provisioning",
    "STAGING": "provisioning",
    "RUNNING": "running",
    "STOPPING": "stopping",
    "SUSPENDING": "stopping",
    "SUSPENDED": "terminated",
    "TERMINATED": "terminated",
    "REPAIRING": "provisioning",
}


@dataclass(frozen=True)
class GceHostConfig:
    project: str
    zone: str
    machine_type: str
    image: str
    disk_gb: int = 50
    network: str = "global/networks/default"
    subnetwork: str = ""
    tags: tuple[str, ...] = ("clarateach-host",)
    spot: bool = False
    service_account: str = ""
    scopes: tuple[str, ...] = HOST_SCOPES

    @classmethod
    def from_settings(cls, settings: Settings) -> GceHostConfig:
        return cls(
            project=settings.gcp_project,
            zone=settings.gce_zone,
            machine_type=settings.gce_machine_type,
            image=settings.gce_image,
            disk_gb=settings.gce_disk_gb,
            network=settings.gce_network,
            subnetwork=settings.gce_subnetwork,
            tags=settings.gce_tags,
            spot=settings.gce_spot,
            service_account=settings.host_service_account,
        )


StartupScript = Callable[..., str]


class GceCompute(Compute):
    def __init__(
        self,
        config: GceHostConfig,
        *,
        instances: compute_v1.InstancesClient | None = None,
        operations: compute_v1.ZoneOperationsClient | None = None,
        regions: compute_v1.RegionsClient | None = None,
        projects: compute_v1.ProjectsClient | None = None,
        startup_script: StartupScript = render_startup_script,
        operation_timeout: float = 180.0,
        rate_limit_backoff: tuple[float, ...] = RATE_LIMIT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._backoff = rate_limit_backoff
        self._sleep = sleep
        self._instances = instances or compute_v1.InstancesClient(transport="rest")
        self._operations = operations or compute_v1.ZoneOperationsClient(transport="rest")
        # Only the provisioner's start checks quotas: made on first use.
        self._regions = regions
        self._projects = projects
        self._startup_script = startup_script
        self._timeout = operation_timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> GceCompute:
        return cls(GceHostConfig.from_settings(settings))

    @classmethod
    def for_endpoint(
        cls, config: GceHostConfig, api_endpoint: str, credentials: Credentials, **kwargs: Any
    ) -> GceCompute:
        """Clients pointed at another Compute API endpoint (the local fake in tests)."""
        options = ClientOptions(api_endpoint=api_endpoint)
        return cls(
            config,
            instances=compute_v1.InstancesClient(
                transport="rest", client_options=options, credentials=credentials
            ),
            operations=compute_v1.ZoneOperationsClient(
                transport="rest", client_options=options, credentials=credentials
            ),
            regions=compute_v1.RegionsClient(
                transport="rest", client_options=options, credentials=credentials
            ),
            projects=compute_v1.ProjectsClient(
                transport="rest", client_options=options, credentials=credentials
            ),
            **kwargs,
        )

    # ------------------------------------------------------------------- port
    def create_host(self, spec: HostSpec) -> HostInfo:
        instance = self.instance_body(spec)
        try:
            operation = self._call(
                self._instances.insert_unary,
                project=self.config.project,
                zone=self.config.zone,
                instance_resource=instance,
            )
            self._await(operation, f"creating host {spec.index}")
        except gexc.Conflict:
            log.info(
                "host already exists", extra={"workshop_id": spec.workshop_id, "host": spec.index}
            )
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, f"creating host {spec.index}") from exc
        info = self.get_host(spec.name)
        if info is None:
            raise TransientError(f"host {spec.name} was created but is not visible yet")
        return info

    def delete_host(self, name: str) -> None:
        try:
            operation = self._call(
                self._instances.delete_unary,
                project=self.config.project,
                zone=self.config.zone,
                instance=name,
            )
            self._await(operation, f"deleting {name}")
        except gexc.NotFound:
            return
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, f"deleting host {name}") from exc

    def get_host(self, name: str) -> HostInfo | None:
        try:
            instance = self._call(
                self._instances.get,
                project=self.config.project,
                zone=self.config.zone,
                instance=name,
            )
        except gexc.NotFound:
            return None
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, f"reading host {name}") from exc
        return _info(instance)

    def list_hosts(self, labels: dict[str, str] | None = None) -> list[HostInfo]:
        wanted = labels or {"clarateach": "host"}
        label_filter = " AND ".join(f'labels.{k} = "{v}"' for k, v in sorted(wanted.items()))
        request = compute_v1.ListInstancesRequest(
            project=self.config.project, zone=self.config.zone, filter=label_filter
        )
        try:
            return [_info(i) for i in self._call(self._instances.list, request=request)]
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, "listing hosts") from exc

    def check_capacity(self, hosts: int) -> None:
        cfg = self.config
        shape = HostShape(cfg.machine_type, cfg.disk_gb, cfg.spot)
        try:
            required = needs(hosts, shape)
        except ValueError as exc:
            raise PermanentError(f"checking quotas: {exc}") from exc
        region = cfg.zone.rpartition("-")[0]
        self._regions = self._regions or compute_v1.RegionsClient(transport="rest")
        self._projects = self._projects or compute_v1.ProjectsClient(transport="rest")
        try:
            regional = self._call(self._regions.get, project=cfg.project, region=region)
            project = self._call(self._projects.get, project=cfg.project)
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, "checking quotas") from exc
        quotas = {q.metric: Quota(q.limit, q.usage) for q in project.quotas}
        quotas.update({q.metric: Quota(q.limit, q.usage) for q in regional.quotas})
        missing = shortfalls(required, quotas)
        if missing:
            raise PermanentError(
                f"not enough Compute Engine quota in {region} for {hosts} hosts "
                f"({cfg.machine_type}, {cfg.disk_gb} GB pd-balanced): "
                + "; ".join(missing)
                + ". Ask for a quota increase (docs/deployment.md, Quotas) or use fewer seats."
            )

    # ------------------------------------------------------------ instance body
    def instance_body(self, spec: HostSpec) -> compute_v1.Instance:
        cfg = self.config
        try:
            script = self._startup_script(
                workshop_id=spec.workshop_id, host_index=spec.index, agent_config=spec.agent_config
            )
        except ValueError as exc:  # UnsafeBootstrapValue: names the variable, never the value
            raise PermanentError(f"host {spec.index}: invalid host configuration: {exc}") from exc
        metadata = [
            *({"key": k, "value": v} for k, v in sorted(spec.agent_config.items())),
            {"key": "startup-script", "value": script},
            {"key": "disable-legacy-endpoints", "value": "true"},
        ]
        interface: dict[str, Any] = {
            "network": cfg.network,
            "access_configs": [{"name": "External NAT", "type_": "ONE_TO_ONE_NAT"}],
        }
        if cfg.subnetwork:
            interface["subnetwork"] = cfg.subnetwork
        body: dict[str, Any] = {
            "name": spec.name,
            "machine_type": f"zones/{cfg.zone}/machineTypes/{cfg.machine_type}",
            "labels": spec.labels,
            "tags": {"items": list(cfg.tags)},
            "metadata": {"items": metadata},
            "disks": [
                {
                    "boot": True,
                    "auto_delete": True,
                    "initialize_params": {
                        "source_image": cfg.image,
                        "disk_size_gb": cfg.disk_gb,
                        "disk_type": f"zones/{cfg.zone}/diskTypes/pd-balanced",
                    },
                }
            ],
            "network_interfaces": [interface],
            "shielded_instance_config": {
                "enable_secure_boot": True,
                "enable_vtpm": True,
                "enable_integrity_monitoring": True,
            },
        }
        if cfg.service_account:
            body["service_accounts"] = [{"email": cfg.service_account, "scopes": list(cfg.scopes)}]
        if cfg.spot:
            body["scheduling"] = {
                "provisioning_model": "SPOT",
                "instance_termination_action": "DELETE",
                "automatic_restart": False,
                "on_host_maintenance": "TERMINATE",
            }
        return compute_v1.Instance(body)

    # -------------------------------------------------------------- operations
    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        """``method(**kwargs)``, retried with backoff while Compute says "rate limited"."""
        for delay in self._backoff:
            try:
                return method(**kwargs)
            except gexc.GoogleAPIError as exc:
                if not is_rate_limited(exc):
                    raise
                log.warning("compute API rate limited; retrying in %.0f s", delay)
                self._sleep(delay)
        return method(**kwargs)

    def _await(self, operation: compute_v1.Operation, what: str) -> None:
        deadline = time.monotonic() + self._timeout
        while operation.status != compute_v1.Operation.Status.DONE:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransientError(f"timed out {what} after {self._timeout:.0f} s")
            operation = self._call(
                self._operations.wait,
                project=self.config.project,
                zone=self.config.zone,
                operation=operation.name,
                timeout=remaining,
            )
        errors = list(operation.error.errors) if operation.error else []
        if errors:
            raise _operation_error(errors, what, operation.http_error_status_code)


def _info(instance: compute_v1.Instance) -> HostInfo:
    return HostInfo(
        name=instance.name,
        state=_STATE.get(instance.status, "provisioning"),
        labels=dict(instance.labels),
        address=_external_ip(instance),
    )


def _external_ip(instance: compute_v1.Instance) -> str | None:
    """The first external (one-to-one NAT) IP: what learners reach and DNS points at.

    Never the internal ``networkIP``: publishing a private address would be useless to
    learners. ``None`` while GCE has not assigned one yet.
    """
    for interface in instance.network_interfaces:
        for access in interface.access_configs:
            if access.nat_i_p:
                return str(access.nat_i_p)
    return None


def _permanent(code: str, detail: str, what: str) -> PermanentError | None:
    template = _PERMANENT_REASONS.get(_REASON_ALIASES.get(code, code))
    if template is None:
        return None
    return PermanentError(f"{what}: " + template.format(detail=detail[:300]))


def _operation_error(errors: list[Any], what: str, http_status: int) -> Exception:
    for error in errors:
        permanent = _permanent(error.code, error.message, what)
        if permanent is not None:
            return permanent
    first = errors[0]
    if http_status == 429 or http_status >= 500 or not http_status:
        return TransientError(f"{what}: {first.code}: {first.message[:300]}")
    return PermanentError(f"{what}: {first.code}: {first.message[:300]}")


def is_rate_limited(exc: gexc.GoogleAPIError) -> bool:
    """A per-minute API rate limit (403 ``rateLimitExceeded``/``usageLimits``, or 429)."""
    if isinstance(exc, gexc.TooManyRequests):
        return True
    return any(reason in _RATE_LIMIT_REASONS for reason in _reasons(exc))


def _mapped(exc: gexc.GoogleAPIError, what: str) -> Exception:
    """Translate a client exception into ``TransientError`` or ``PermanentError``."""
    # The client prefixes "POST https://...: "; the instructor only needs what GCE said.
    message = _URL_PREFIX.sub("", str(getattr(exc, "message", exc)))
    if is_rate_limited(exc):
        return TransientError(f"{what}: Compute API rate limit, will retry: {message[:300]}")
    for reason in _reasons(exc):
        permanent = _permanent(reason, message, what)
        if permanent is not None:
            return permanent
    if "quota" in message.lower() and isinstance(exc, gexc.Forbidden):
        return _permanent("QUOTA_EXCEEDED", message, what) or PermanentError(message)
    if isinstance(exc, gexc.TooManyRequests | gexc.ServerError | gexc.RetryError):
        return TransientError(f"{what}: {message[:300]}")
    if isinstance(exc, gexc.BadRequest | gexc.NotFound):
        return PermanentError(f"{what}: the host configuration was refused: {message[:300]}")
    if isinstance(exc, gexc.Forbidden | gexc.Unauthorized):
        return PermanentError(f"{what}: permission denied: {message[:300]}")
    return TransientError(f"{what}: {message[:300]}")


def _reasons(exc: gexc.GoogleAPIError) -> list[str]:
    """Error reason codes from a REST error body (``error.errors[].reason``) or its details."""
    reasons = []
    for item in getattr(exc, "errors", None) or []:
        if isinstance(item, dict):
            reasons.append(str(item.get("reason") or item.get("code") or ""))
        else:
            reasons.append(str(getattr(item, "code", "") or getattr(item, "reason", "")))
    reason = getattr(exc, "reason", None)
    if reason:
        reasons.append(str(reason))
    return [r for r in reasons if r]
