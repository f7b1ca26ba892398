"""Typed configuration of one workspace agent (docs/protocol.md section 5).

Precedence: explicit argument (``AgentSettings(...)`` / ``dataclasses.replace``), then the
environment (``AgentSettings.from_env()``), then the defaults declared here. Only
``python -m workspace_agent`` calls ``from_env``; everything else receives an instance.
Every field names its environment variable and help text in ``metadata``. None of these
values is a secret (secrets arrive as references resolved through the secrets port), except
``events_token``: a local host's proof of identity for its events, given in the environment
only (never argv, never on disk, never in ``repr``); GCE hosts have none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Runtime = Literal["local", "docker"]
TerminalBackend = Literal["tmux", "buffered"]
SeatNetworkMode = Literal["auto", "isolated", "host"]
EventLoop = Literal["uvloop", "asyncio"]

DEFAULT_WINDOW = 256 * 1024
DEFAULT_MAX_WRITE = 10 * 1024 * 1024


def _env(name: str, help_text: str) -> dict[str, str]:
    return {"env": name, "help": help_text}


def parse_seat_range(text: str) -> tuple[int, ...]:
    """``"11-20"`` → seats 11..20; ``"3"`` → seat 3. Raises ``ValueError`` on anything else."""
    first, sep, last = text.strip().partition("-")
    lo, hi = int(first), int(last) if sep else int(first)
    if lo < 1 or hi < lo or hi - lo >= 1000:
        raise ValueError(f"bad seat range {text!r}")
    return tuple(range(lo, hi + 1))


@dataclass(frozen=True)
class AgentSettings:
    """Configuration of one agent process. Immutable; derive variants with ``replace``."""

    workshop_id: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_WORKSHOP_ID", "Workshop id; tokens must have this audience."
        ),
    )
    host_index: int = field(
        default=0,
        metadata=_env("CLARATEACH_AGENT_HOST_INDEX", "This host's index in the workshop."),
    )
    attempt: int = field(
        default=0,
        metadata=_env(
            "CLARATEACH_AGENT_ATTEMPT",
            "The start attempt this host was created for; every host event carries it.",
        ),
    )
    seats: tuple[int, ...] = field(
        default=(1,),
        metadata=_env("CLARATEACH_AGENT_SEATS", "Seat range this host serves, 'first-last'."),
    )
    issuer: str = field(
        default="clarateach",
        metadata=_env("CLARATEACH_AGENT_ISSUER", "Expected 'iss' claim of learner tokens."),
    )
    jwks_url: str = field(
        default="",
        metadata=_env("CLARATEACH_AGENT_JWKS_URL", "URL of the JWKS with the token public keys."),
    )
    state_dir: Path = field(
        default=Path("agent-state"),
        metadata=_env(
            "CLARATEACH_AGENT_STATE_DIR",
            "Agent state: seat workspaces, tmux sockets, gateway tokens.",
        ),
    )
    content_path: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_CONTENT_DIR",
            "Where the workshop's content pack is unpacked at boot (docs/content-packs.md);"
            " '' = <state dir>/content. Read it through the ``content_dir`` property.",
        ),
    )
    runtime: Runtime = field(
        default="local",
        metadata=_env("CLARATEACH_AGENT_RUNTIME", "Seat runtime: 'local' or 'docker'."),
    )
    terminal_backend: TerminalBackend = field(
        default="buffered",
        metadata=_env(
            "CLARATEACH_AGENT_TERMINAL_BACKEND",
            "'buffered' (default: the agent reads each seat's shell PTY itself and replays a"
            " ring on reconnect; meets the terminal benchmark targets; with the shell holder"
            " the shells and rings survive agent restarts) or 'tmux' (a tmux session per seat;"
            " every byte goes through tmux, ~3x the serving CPU and lower bulk throughput).",
        ),
    )
    event_loop: EventLoop = field(
        default="uvloop",
        metadata=_env(
            "CLARATEACH_AGENT_EVENT_LOOP",
            "'uvloop' (default: libuv's event loop and transports, about a quarter less"
            " serving CPU with a host's worth of terminals; see the README's terminal"
            " benchmark) or 'asyncio' (the standard library's loop).",
        ),
    )
    bind: str = field(
        default="127.0.0.1", metadata=_env("CLARATEACH_AGENT_BIND", "Listen address.")
    )
    port: int = field(
        default=0, metadata=_env("CLARATEACH_AGENT_PORT", "Listen port; 0 picks a free one.")
    )
    public_url: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_PUBLIC_URL",
            "Endpoint announced in host.ready (default http://127.0.0.1:<bound port>).",
        ),
    )
    allowed_origins: tuple[str, ...] = field(
        default=(),
        metadata=_env(
            "CLARATEACH_AGENT_ALLOWED_ORIGINS",
            "Comma-separated exact web origins (CORS, WS Origin).",
        ),
    )
    events_url: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_EVENTS",
            "'hostapi:<API base URL>' (hosts: POST /api/hosts/events), 'local:<push URL>' or"
            " 'pubsub:<project>/<topic>'; '' = off.",
        ),
    )
    events_token: str = field(
        default="",
        repr=False,
        metadata=_env(
            "CLARATEACH_AGENT_EVENTS_TOKEN",
            "Local hosts: the host events token proving which host of which start attempt this"
            " is (environment only). GCE hosts use their instance identity token instead.",
        ),
    )
    secrets_url: str = field(
        default="",
        metadata=_env("CLARATEACH_AGENT_SECRETS", "'local:<directory>' or 'gcp:<project>'."),
    )
    api_key_ref: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_API_KEY_REF", "Secrets-port reference of the workshop's API key."
        ),
    )
    model_policy: str = field(
        default="",
        metadata=_env("CLARATEACH_AGENT_MODEL_POLICY", "JSON ModelPolicy for the model gateway."),
    )
    model_paused: bool = field(
        default=False,
        metadata=_env("CLARATEACH_AGENT_MODEL_PAUSED", "'true' to start with model access paused."),
    )
    model_paused_seats: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_MODEL_PAUSED_SEATS",
            "Seats that start with their own model access paused, e.g. '3,7'.",
        ),
    )
    ends_at: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_ENDS_AT",
            "The workshop's end (ISO 8601); learners see a countdown. Empty: no end known.",
        ),
    )
    grace_ends_at: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_GRACE_ENDS_AT",
            "End of the download-only grace period (ISO 8601); the archive is refused after.",
        ),
    )
    model_upstream: str = field(
        default="https://api.anthropic.com",
        metadata=_env("CLARATEACH_AGENT_MODEL_UPSTREAM", "Anthropic API base URL."),
    )
    seat_image: str = field(
        default="clarateach/seat:latest",
        metadata=_env("CLARATEACH_AGENT_SEAT_IMAGE", "Docker runtime: the seat container image."),
    )
    gateway: bool = field(
        default=True,
        metadata=_env(
            "CLARATEACH_AGENT_GATEWAY",
            "Mount the model gateway when workspace_agent.gateway is installed.",
        ),
    )
    bwrap: bool | None = field(
        default=False,
        metadata=_env(
            "CLARATEACH_AGENT_BWRAP",
            "Local runtime: run seat shells inside bubblewrap: only the workspace writable,"
            " nothing of the host but the system trees visible (runtimes/sandbox.py). 'true',"
            " 'false', or 'auto' (None here): wherever bubblewrap can build the sandbox.",
        ),
    )
    seat_network: SeatNetworkMode = field(
        default="auto",
        metadata=_env(
            "CLARATEACH_AGENT_SEAT_NETWORK",
            "Local runtime, sandboxed seats: 'isolated' (each shell in its own network"
            " namespace via pasta: outbound access and this agent's port, none of the"
            " machine's other loopback services; runtimes/seat_network.py), 'host' (the"
            " machine's network), or 'auto' (default): isolated wherever bubblewrap and pasta"
            " can build it, else host with a warning.",
        ),
    )
    shell_holder: bool = field(
        default=True,
        metadata=_env(
            "CLARATEACH_AGENT_SHELL_HOLDER",
            "Buffered backend: spawn seat shells in the host's terminal holder process, which"
            " keeps their PTYs and output rings across agent restarts (terminal/holder.py);"
            " 'false' = shells are the agent's children and end with it.",
        ),
    )
    shell: str = field(
        default="/bin/bash", metadata=_env("CLARATEACH_AGENT_SHELL", "Seat login shell.")
    )
    claude_code_dir: str = field(
        default="",
        metadata=_env(
            "CLARATEACH_AGENT_CLAUDE_CODE_DIR",
            "Local runtime: a Claude Code install prefix (clarateach/claude_code.py); its bin/"
            " goes first on every seat's PATH and the prefix is bound read-only into the"
            " sandbox. '' = whatever claude the system PATH has.",
        ),
    )
    flow_window: int = field(
        default=DEFAULT_WINDOW,
        metadata=_env(
            "CLARATEACH_AGENT_FLOW_WINDOW", "Unacknowledged output bytes before PTY reads pause."
        ),
    )
    max_write_bytes: int = field(
        default=DEFAULT_MAX_WRITE,
        metadata=_env("CLARATEACH_AGENT_MAX_WRITE_BYTES", "Largest file write or upload (413)."),
    )
    max_viewers_per_seat: int = field(
        default=8,
        metadata=_env("CLARATEACH_AGENT_MAX_VIEWERS_PER_SEAT", "Open terminal sockets per seat."),
    )
    max_viewers_per_host: int = field(
        default=256,
        metadata=_env("CLARATEACH_AGENT_MAX_VIEWERS_PER_HOST", "Open terminal sockets per host."),
    )
    scrollback_lines: int = field(
        default=2000,
        metadata=_env(
            "CLARATEACH_AGENT_SCROLLBACK_LINES", "History lines replayed on (re)connect."
        ),
    )
    preview_max_concurrency: int = field(
        default=32,
        metadata=_env(
            "CLARATEACH_AGENT_PREVIEW_MAX_CONCURRENCY",
            "App preview: requests and WebSockets in flight per seat (more get 503).",
        ),
    )
    preview_max_request_bytes: int = field(
        default=32 * 1024 * 1024,
        metadata=_env(
            "CLARATEACH_AGENT_PREVIEW_MAX_REQUEST_BYTES",
            "App preview: largest request body sent to a seat's server (413).",
        ),
    )
    preview_max_response_bytes: int = field(
        default=4 * 1024 * 1024 * 1024,
        metadata=_env(
            "CLARATEACH_AGENT_PREVIEW_MAX_RESPONSE_BYTES",
            "App preview: a response body longer than this is cut off (streamed, not held).",
        ),
    )
    preview_idle_timeout: int = field(
        default=60,
        metadata=_env(
            "CLARATEACH_AGENT_PREVIEW_IDLE_TIMEOUT",
            "App preview: seconds a seat's server may stay silent mid-response (504).",
        ),
    )
    preview_ws_idle_timeout: int = field(
        default=900,
        metadata=_env(
            "CLARATEACH_AGENT_PREVIEW_WS_IDLE_TIMEOUT",
            "App preview: seconds without a message either way before a WebSocket is closed.",
        ),
    )
    seat_memory: str = field(
        default="2g", metadata=_env("CLARATEACH_AGENT_SEAT_MEMORY", "Docker: --memory per seat.")
    )
    seat_cpus: str = field(
        default="1", metadata=_env("CLARATEACH_AGENT_SEAT_CPUS", "Docker: --cpus per seat.")
    )
    seat_pids: int = field(
        default=512, metadata=_env("CLARATEACH_AGENT_SEAT_PIDS", "Docker: --pids-limit per seat.")
    )

    @property
    def seats_dir(self) -> Path:
        return self.state_dir / "seats"

    @property
    def content_dir(self) -> Path:
        """The unpacked content pack: ``workshop.toml``, ``guide/``, ``starter/``, ``checks/``.
        Holds a pack only if the workshop has one (``shared.content.installed_pack``)."""
        return Path(self.content_path) if self.content_path else self.state_dir / "content"

    def workspace(self, seat: int) -> Path:
        """The learner's files (and HOME) for ``seat``."""
        return self.seats_dir / str(seat) / "work"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> AgentSettings:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            if name in env and f.name not in overrides:
                values[f.name] = _parse(f.name, env[name], name)
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ``ValueError`` naming the variable of the first bad value."""
        if self.runtime not in ("local", "docker"):
            raise ValueError("CLARATEACH_AGENT_RUNTIME must be 'local' or 'docker'")
        if self.terminal_backend not in ("tmux", "buffered"):
            raise ValueError("CLARATEACH_AGENT_TERMINAL_BACKEND must be 'tmux' or 'buffered'")
        if not self.seats:
            raise ValueError("CLARATEACH_AGENT_SEATS is empty")
        if self.event_loop not in ("uvloop", "asyncio"):
            raise ValueError("CLARATEACH_AGENT_EVENT_LOOP must be 'uvloop' or 'asyncio'")
        if self.seat_network not in ("auto", "isolated", "host"):
            raise ValueError("CLARATEACH_AGENT_SEAT_NETWORK must be 'auto', 'isolated' or 'host'")
        if self.flow_window < 4096:
            raise ValueError("CLARATEACH_AGENT_FLOW_WINDOW must be at least 4096")

    @classmethod
    def env_vars(cls) -> dict[str, str]:
        """``{ENV_NAME: help}`` for documentation and tests."""
        return {f.metadata["env"]: f.metadata["help"] for f in fields(cls)}


_INT_FIELDS = {
    "host_index",
    "attempt",
    "port",
    "flow_window",
    "max_write_bytes",
    "max_viewers_per_seat",
    "max_viewers_per_host",
    "scrollback_lines",
    "seat_pids",
    "preview_max_concurrency",
    "preview_max_request_bytes",
    "preview_max_response_bytes",
    "preview_idle_timeout",
    "preview_ws_idle_timeout",
}
_BOOL_FIELDS = {"model_paused", "gateway", "bwrap", "shell_holder"}


def _parse(name: str, raw: str, env_name: str) -> Any:
    try:
        if name == "seats":
            return parse_seat_range(raw)
        if name == "allowed_origins":
            return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
        if name == "state_dir":
            return Path(raw)
        if name in _INT_FIELDS:
            return int(raw)
        if name == "bwrap" and raw.strip().lower() == "auto":
            return None
        if name in _BOOL_FIELDS:
            if raw.strip().lower() not in ("true", "false", "1", "0", "yes", "no", ""):
                raise ValueError(raw)
            return raw.strip().lower() in ("true", "1", "yes")
    except ValueError as exc:
        raise ValueError(f"{env_name}: cannot parse {raw!r}") from exc
    return raw
