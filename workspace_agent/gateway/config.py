"""The gateway's own configuration, decoupled from the agent's settings class.

Precedence: explicit constructor arguments, then the environment (``GatewayConfig.from_env``,
variables listed in docs/protocol.md section 5), then the defaults declared here. The agent
builds it with ``GatewayConfig.from_agent_settings(settings)``, which reads the same values
from any settings object carrying the documented attribute names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.domain.model_policy import ModelPolicy

ENV_WORKSHOP_ID = "CLARATEACH_AGENT_WORKSHOP_ID"
ENV_HOST_INDEX = "CLARATEACH_AGENT_HOST_INDEX"
ENV_ATTEMPT = "CLARATEACH_AGENT_ATTEMPT"
ENV_SEATS = "CLARATEACH_AGENT_SEATS"
ENV_STATE_DIR = "CLARATEACH_AGENT_STATE_DIR"
ENV_RUNTIME = "CLARATEACH_AGENT_RUNTIME"
ENV_PORT = "CLARATEACH_AGENT_PORT"
ENV_API_KEY_REF = "CLARATEACH_AGENT_API_KEY_REF"
ENV_MODEL_POLICY = "CLARATEACH_AGENT_MODEL_POLICY"
ENV_MODEL_PAUSED = "CLARATEACH_AGENT_MODEL_PAUSED"
ENV_MODEL_PAUSED_SEATS = "CLARATEACH_AGENT_MODEL_PAUSED_SEATS"
ENV_MODEL_UPSTREAM = "CLARATEACH_AGENT_MODEL_UPSTREAM"
ENV_GATEWAY_URL = "CLARATEACH_AGENT_GATEWAY_URL"

DEFAULT_UPSTREAM = "https://api.anthropic.com"
#: How a seat reaches the agent, per runtime. ``{port}`` becomes the agent's bound port.
#: Docker: the default bridge's gateway address (override for custom networks).
DEFAULT_SEAT_AGENT_URLS = {
    "local": "http://127.0.0.1:{port}",
    "docker": "http://172.17.0.1:{port}",
}


class GatewayConfigError(ValueError):
    """The gateway configuration is unusable; the message names the variable."""


class InvalidPolicy(GatewayConfigError):
    """``CLARATEACH_AGENT_MODEL_POLICY`` is not a valid ``ModelPolicy``."""


def _parse_seats(raw: str) -> tuple[int, int]:
    first, sep, last = raw.strip().partition("-")
    try:
        lo, hi = int(first), int(last if sep else first)
    except ValueError as exc:
        raise GatewayConfigError(f"{ENV_SEATS}: expected 'first-last', got {raw!r}") from exc
    if lo < 1 or hi < lo:
        raise GatewayConfigError(f"{ENV_SEATS}: bad range {raw!r}")
    return lo, hi


def _parse_policy(raw: str | None) -> ModelPolicy:
    if not raw or not raw.strip():
        return ModelPolicy()
    try:
        return ModelPolicy.model_validate_json(raw)
    except ValidationError as exc:
        count = exc.error_count()
        raise InvalidPolicy(f"{ENV_MODEL_POLICY}: {count} invalid field(s)") from exc


def _parse_seat_list(raw: str | None) -> frozenset[int]:
    """``"3,7"`` -> {3, 7}; empty -> none."""
    try:
        return frozenset(int(part) for part in (raw or "").split(",") if part.strip())
    except ValueError as exc:
        raise GatewayConfigError(f"{ENV_MODEL_PAUSED_SEATS}: expected '3,7', got {raw!r}") from exc


def _truthy(raw: str | None) -> bool:
    return (raw or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the model gateway needs. Holds no secret: the key is a *reference*."""

    #: Workshop id: names the usage events.
    workshop_id: str
    #: This host's index: part of the ``host.usage`` event.
    host_index: int
    #: Seats this host serves, inclusive.
    seat_first: int
    seat_last: int
    #: Agent state directory; the gateway keeps ``<state_dir>/gateway/`` (mode 0700).
    state_dir: Path
    #: Secrets-port reference of the workshop's Anthropic key (read once at startup).
    api_key_ref: str = ""
    #: Limits, budgets, prices and per-seat overrides.
    policy: ModelPolicy = field(default_factory=ModelPolicy)
    #: Start with model access paused (the kill switch).
    paused: bool = False
    #: Seats that start with their own model access paused (the per-seat kill switch).
    paused_seats: frozenset[int] = frozenset()
    #: Anthropic API base URL.
    upstream: str = DEFAULT_UPSTREAM
    #: The agent's base URL as seen from inside a seat; ``{port}`` is the agent's bound port.
    seat_agent_url: str = DEFAULT_SEAT_AGENT_URLS["local"]
    #: Agent port if known at configuration time (0 = bound later; see ``set_agent_port``).
    agent_port: int = 0
    #: The start attempt this host was created for: part of the ``host.usage`` event.
    attempt: int = 0
    #: Request bodies above this are refused with 413 before anything is sent upstream.
    #: 8 MiB leaves room for pasted screenshots (base64) in long Claude Code conversations.
    max_body_bytes: int = 8 * 1024 * 1024
    #: Non-streamed upstream responses above this are refused (502), never held in memory.
    max_response_bytes: int = 32 * 1024 * 1024
    #: Seconds to establish the upstream connection.
    connect_timeout: float = 10.0
    #: Seconds the upstream may stay silent (before headers, or between stream chunks).
    read_timeout: float = 600.0
    #: Seconds between usage flushes (state file + ``host.usage`` event) while usage changes.
    flush_interval: float = 15.0

    def __post_init__(self) -> None:
        if not 1 <= self.seat_first <= self.seat_last:
            raise GatewayConfigError(f"bad seat range {self.seat_first}-{self.seat_last}")
        if not self.upstream.startswith(("http://", "https://")):
            raise GatewayConfigError(f"{ENV_MODEL_UPSTREAM}: must be an http(s) URL")

    def serves(self, seat: int) -> bool:
        return self.seat_first <= seat <= self.seat_last

    @property
    def seats(self) -> range:
        return range(self.seat_first, self.seat_last + 1)

    @property
    def gateway_dir(self) -> Path:
        return self.state_dir / "gateway"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> GatewayConfig:
        """Read the agent's environment (docs/protocol.md section 5); ``overrides`` win."""
        env = os.environ if environ is None else environ
        first, last = _parse_seats(env.get(ENV_SEATS, "1-1"))
        runtime = env.get(ENV_RUNTIME, "local")
        try:
            host_index, port = int(env.get(ENV_HOST_INDEX, "0")), int(env.get(ENV_PORT, "0"))
        except ValueError as exc:
            raise GatewayConfigError(f"{ENV_HOST_INDEX}/{ENV_PORT} must be integers") from exc
        values: dict[str, Any] = {
            "workshop_id": env.get(ENV_WORKSHOP_ID, ""),
            "host_index": host_index,
            "seat_first": first,
            "seat_last": last,
            "state_dir": Path(env.get(ENV_STATE_DIR, ".")).expanduser(),
            "api_key_ref": env.get(ENV_API_KEY_REF, ""),
            "policy": _parse_policy(env.get(ENV_MODEL_POLICY)),
            "paused": _truthy(env.get(ENV_MODEL_PAUSED)),
            "paused_seats": _parse_seat_list(env.get(ENV_MODEL_PAUSED_SEATS)),
            "upstream": env.get(ENV_MODEL_UPSTREAM) or DEFAULT_UPSTREAM,
            "seat_agent_url": env.get(ENV_GATEWAY_URL)
            or DEFAULT_SEAT_AGENT_URLS.get(runtime, DEFAULT_SEAT_AGENT_URLS["local"]),
            "agent_port": port,
            "attempt": _int_or_zero(env.get(ENV_ATTEMPT)),
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_agent_settings(cls, settings: Any, **overrides: Any) -> GatewayConfig:
        """Build from the agent's settings object (duck-typed on the documented names).

        Reads ``workshop_id, host_index, seats`` (contiguous numbers, or ``seat_first`` and
        ``seat_last``), ``state_dir, runtime, port, api_key_ref, model_policy`` (JSON text or
        a ``ModelPolicy``), ``model_paused, model_paused_seats`` (``"3,7"``),
        ``model_upstream`` and optionally ``gateway_url``.
        """
        first, last = _seat_range_of(settings)
        policy = overrides.get("policy") or getattr(settings, "model_policy", None)
        if isinstance(policy, str | bytes) or policy is None:
            policy = _parse_policy(policy.decode() if isinstance(policy, bytes) else policy)
        elif isinstance(policy, dict):
            policy = _parse_policy(json.dumps(policy))
        runtime = str(getattr(settings, "runtime", "local"))
        values: dict[str, Any] = {
            "workshop_id": str(settings.workshop_id),
            "host_index": int(getattr(settings, "host_index", 0)),
            "seat_first": first,
            "seat_last": last,
            "state_dir": Path(settings.state_dir),
            "api_key_ref": str(getattr(settings, "api_key_ref", "") or ""),
            "policy": policy,
            "paused": bool(getattr(settings, "model_paused", False)),
            "paused_seats": _parse_seat_list(str(getattr(settings, "model_paused_seats", ""))),
            "upstream": str(getattr(settings, "model_upstream", "") or DEFAULT_UPSTREAM),
            "seat_agent_url": str(
                getattr(settings, "gateway_url", "")
                or DEFAULT_SEAT_AGENT_URLS.get(runtime, DEFAULT_SEAT_AGENT_URLS["local"])
            ),
            "agent_port": int(getattr(settings, "port", 0) or 0),
            "attempt": int(getattr(settings, "attempt", 0) or 0),
        }
        values.update(overrides)
        return cls(**values)


def _int_or_zero(raw: str | None) -> int:
    try:
        return int(raw or 0)
    except ValueError as exc:
        raise GatewayConfigError(f"{ENV_ATTEMPT} must be an integer") from exc


def _seat_range_of(settings: Any) -> tuple[int, int]:
    if hasattr(settings, "seat_first") and hasattr(settings, "seat_last"):
        return int(settings.seat_first), int(settings.seat_last)
    seats = settings.seats
    if isinstance(seats, str):
        return _parse_seats(seats)
    numbers = [int(seat) for seat in seats]  # a range, or the agent's tuple of seat numbers
    if not numbers:
        raise GatewayConfigError(f"{ENV_SEATS}: no seats")
    # Hosts serve contiguous ranges (protocol section 5); should a test hand over a sparse
    # set, the span covers it: tokens of seats in the gaps are simply never handed out.
    return min(numbers), max(numbers)
