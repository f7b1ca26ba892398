"""Typed platform settings for the control plane (functions, provisioner, CLI's local platform).

Precedence is: explicit argument (``Settings(...)`` / ``dataclasses.replace``), then the
environment (``Settings.from_env()``), then the defaults declared here. Only entry points and
``shared.bootstrap`` call ``from_env``; everything else receives a ``Settings`` instance.

Every field declares its environment variable and help text in ``metadata`` so that the
Terraform tests can check that each variable a function is deployed with is one we read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Mode = Literal["local", "gcp"]


def _env(name: str, help_text: str) -> dict[str, str]:
    return {"env": name, "help": help_text}


def default_state_dir() -> Path:
    """Where embedded mode keeps SQLite, secrets and host state unless configured."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "clarateach"


@dataclass(frozen=True)
class Settings:
    """Control-plane configuration. Immutable; derive variants with ``dataclasses.replace``."""

    mode: Mode = field(
        default="local",
        metadata=_env("CLARATEACH_MODE", "'local' (SQLite, local bus, agent processes) or 'gcp'."),
    )
    state_dir: Path = field(
        default_factory=default_state_dir,
        metadata=_env(
            "CLARATEACH_STATE_DIR", "Embedded mode: directory for state.db, secrets, hosts."
        ),
    )
    gcp_project: str = field(
        default="", metadata=_env("CLARATEACH_GCP_PROJECT", "GCP project id (gcp mode).")
    )
    firestore_database: str = field(
        default="(default)",
        metadata=_env("CLARATEACH_FIRESTORE_DATABASE", "Firestore database id (native mode)."),
    )
    content_bucket: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_CONTENT_BUCKET",
            "gcp mode: Cloud Storage bucket of workshop content packs (Terraform output"
            " content_bucket). Embedded mode keeps packs under <state dir>/content.",
        ),
    )
    events_topic: str = field(
        default="workshop-events",
        metadata=_env(
            "CLARATEACH_EVENTS_TOPIC", "Pub/Sub topic carrying workshop and host events."
        ),
    )
    provisioner_url: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_PROVISIONER_URL",
            "Embedded mode: where the local event bus pushes events (Pub/Sub push format).",
        ),
    )
    public_api_url: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_API_URL", "Public base URL of the API; hosts fetch <url>/api/jwks.json."
        ),
    )
    host_credentials_url: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_HOST_CREDENTIALS_URL",
            "Public base URL serving POST /api/hosts/credentials (GCP: the join function); "
            "hosts' identity-token audience. Empty: CLARATEACH_API_URL.",
        ),
    )
    jwt_issuer: str = field(
        default="clarateach",
        metadata=_env("CLARATEACH_JWT_ISSUER", "`iss` claim of learner tokens."),
    )
    jwt_key_secret: str = field(
        default="clarateach-jwt-signing-key",
        metadata=_env("CLARATEACH_JWT_KEY_SECRET", "Secret holding the learner-token signing key."),
    )
    learner_token_ttl_seconds: int = field(
        default=12 * 3600,
        metadata=_env("CLARATEACH_LEARNER_TOKEN_TTL", "Learner token lifetime (capped at 12 h)."),
    )
    instructor_audience: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_INSTRUCTOR_AUDIENCE", "GCP: audience of instructors' Google ID tokens."
        ),
    )
    instructor_web_client_id: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_WEB_CLIENT_ID",
            "GCP: OAuth 2.0 web client ID of the cockpit's 'Sign in with Google' (Google"
            " Identity Services); ID tokens with this audience are accepted as well ('' = none).",
        ),
    )
    instructors: tuple[str, ...] = field(
        default=(),
        metadata=_env(
            "CLARATEACH_INSTRUCTORS",
            "GCP: comma-separated instructor emails or '@domain' entries allowed to use the API.",
        ),
    )
    admins: tuple[str, ...] = field(
        default=(),
        metadata=_env("CLARATEACH_ADMINS", "Comma-separated emails that see every workshop."),
    )
    allowed_origins: tuple[str, ...] = field(
        default=(),
        metadata=_env(
            "CLARATEACH_ALLOWED_ORIGINS", "Comma-separated exact web origins allowed by CORS."
        ),
    )
    max_seats: int = field(
        default=500, metadata=_env("CLARATEACH_MAX_SEATS", "Upper bound on seats per workshop.")
    )
    event_max_age_seconds: int = field(
        default=3600,
        metadata=_env(
            "CLARATEACH_EVENT_MAX_AGE", "Events older than this are acknowledged and dropped."
        ),
    )
    event_max_skew_seconds: int = field(
        default=60,
        metadata=_env(
            "CLARATEACH_EVENT_MAX_SKEW",
            "Events dated more than this many seconds in the future are dropped like stale ones.",
        ),
    )
    provisioning_deadline_seconds: int = field(
        default=900,
        metadata=_env(
            "CLARATEACH_PROVISIONING_DEADLINE",
            "The reconciler fails workshops still provisioning after this long.",
        ),
    )
    gce_zone: str = field(default="", metadata=_env("CLARATEACH_GCE_ZONE", "Zone for host VMs."))
    gce_machine_type: str = field(
        default="e2-standard-4",
        metadata=_env("CLARATEACH_GCE_MACHINE_TYPE", "Machine type of host VMs."),
    )
    gce_image: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_GCE_IMAGE",
            "Host boot image or image family URL (pre-baked image with the agent and Docker).",
        ),
    )
    gce_disk_gb: int = field(
        default=50, metadata=_env("CLARATEACH_GCE_DISK_GB", "Boot disk size of host VMs in GB.")
    )
    gce_network: str = field(
        default="global/networks/default",
        metadata=_env("CLARATEACH_GCE_NETWORK", "VPC network for host VMs."),
    )
    gce_subnetwork: str = field(
        default="", metadata=_env("CLARATEACH_GCE_SUBNETWORK", "Optional subnetwork for hosts.")
    )
    gce_tags: tuple[str, ...] = field(
        default=("clarateach-host",),
        metadata=_env("CLARATEACH_GCE_TAGS", "Comma-separated network tags (firewall targets)."),
    )
    gce_spot: bool = field(
        default=False, metadata=_env("CLARATEACH_GCE_SPOT", "Use Spot VMs for hosts.")
    )
    host_service_account: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_HOST_SERVICE_ACCOUNT", "Service account email that hosts run as."
        ),
    )
    workshop_domain: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_WORKSHOP_DOMAIN",
            "Domain of host endpoints (https://<host>.<domain>); used with CLARATEACH_DNS_ZONE.",
        ),
    )
    dns_zone: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_DNS_ZONE",
            "Cloud DNS managed zone (its name, not its domain) serving workshop_domain; the"
            " provisioner keeps one A record per host in it. Empty: trial mode, hosts are"
            " reached at https://<ip>.sslip.io and no DNS record is managed.",
        ),
    )
    certificate_secret: str = field(
        default="clarateach-tls-certificate",
        metadata=_env(
            "CLARATEACH_CERTIFICATE_SECRET",
            "Secret holding the deployment's wildcard certificate chain and key (written by"
            " the certificates function only; hosts get it from /api/hosts/credentials).",
        ),
    )
    acme_account_secret: str = field(
        default="clarateach-acme-account",
        metadata=_env(
            "CLARATEACH_ACME_ACCOUNT_SECRET",
            "Secret holding the ACME account key of the certificates function.",
        ),
    )
    acme_directory_url: str = field(
        default="https://acme-v02.api.letsencrypt.org/directory",
        metadata=_env(
            "CLARATEACH_ACME_DIRECTORY_URL",
            "ACME directory the certificates function orders the deployment's wildcard"
            " certificate from (Let's Encrypt; its staging directory for rehearsals of the"
            " deployment itself).",
        ),
    )
    acme_email: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_ACME_EMAIL", "Contact address of the ACME account (expiry notices)."
        ),
    )
    certificate_slots: int = field(
        default=0,
        metadata=_env(
            "CLARATEACH_CERTIFICATE_SLOTS",
            "Host slot labels (s00, s01, ...) whose *.<slot>.<domain> names the deployment"
            " certificate also covers, for per-host preview origins; 0-99 (one certificate"
            " holds at most 100 names). 0: the certificate is *.<domain> alone.",
        ),
    )
    acme_dns_propagation_seconds: float = field(
        default=60.0,
        metadata=_env(
            "CLARATEACH_ACME_DNS_PROPAGATION_SECONDS",
            "Wait between writing the DNS-01 TXT records and asking the CA to validate them.",
        ),
    )
    seat_image: str = field(
        default="",
        metadata=_env("CLARATEACH_SEAT_IMAGE", "Container image for learner seats (gcp mode)."),
    )
    max_workshop_usd: float = field(
        default=0.0,
        metadata=_env(
            "CLARATEACH_MAX_WORKSHOP_USD",
            "Deployment-wide cost ceiling per workshop (VM estimate + model budget ceiling);"
            " a start whose estimate exceeds it is refused. 0: no ceiling.",
        ),
    )
    retention_days: int = field(
        default=30,
        metadata=_env(
            "CLARATEACH_RETENTION_DAYS",
            "Stopped workshops stay listed (with their final cost) this many days, then the"
            " reconciler deletes them with their seats.",
        ),
    )
    model_upstream: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_MODEL_UPSTREAM",
            "Anthropic API base URL the hosts' model gateways forward to. Empty: the agent's"
            " default (https://api.anthropic.com). `clarateach loadtest --local` points it at"
            " its fake upstream.",
        ),
    )
    claude_code_version: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_CLAUDE_CODE_VERSION",
            "Local mode: the exact Claude Code version `clarateach local up` installs for seats"
            " ('' = the pin in images/seat/claude-code.version, which the seat image uses too).",
        ),
    )
    claude_code_dir: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_CLAUDE_CODE_DIR",
            "Local mode: the installed Claude Code prefix handed to agents (set by"
            " `clarateach local up` after installing; '' = seats use the system PATH).",
        ),
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            if name in env and f.name not in overrides:
                values[f.name] = _parse(f.type, env[name], name)
        if "gcp_project" not in values and env.get("GOOGLE_CLOUD_PROJECT"):
            values["gcp_project"] = env["GOOGLE_CLOUD_PROJECT"]
        values.update(overrides)
        settings = cls(**values)
        if settings.mode not in ("local", "gcp"):
            raise ValueError(f"CLARATEACH_MODE must be 'local' or 'gcp', not {settings.mode!r}")
        return settings

    @classmethod
    def env_vars(cls) -> dict[str, str]:
        """Map every environment variable name to the help text of the field it sets."""
        return {f.metadata["env"]: f.metadata["help"] for f in fields(cls)}

    @property
    def host_credentials_base(self) -> str:
        """Where hosts fetch their workshop's API key: ``host_credentials_url`` or the API URL."""
        return (self.host_credentials_url or self.public_api_url).rstrip("/")

    @property
    def database_path(self) -> Path:
        return self.state_dir / "state.db"

    @property
    def host_domain(self) -> str:
        """The domain under which the provisioner publishes ``<host>.<domain>`` A records.

        Empty unless in gcp mode with both ``workshop_domain`` and ``dns_zone`` set: without a
        zone nobody could publish the names, so hosts use trial-mode ``<ip>.sslip.io``.
        """
        if self.mode == "gcp" and self.workshop_domain.strip(" .") and self.dns_zone:
            return self.workshop_domain.strip(" .").lower()
        return ""


def _parse(type_name: Any, raw: str, env_name: str) -> Any:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if kind == "Path":
            return Path(raw).expanduser()
    except ValueError as exc:
        raise ValueError(f"{env_name}: cannot parse {raw!r} as {kind}") from exc
    return raw
