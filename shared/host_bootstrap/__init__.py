"""Host VM bootstrap: renders the startup script the provisioner puts in GCE metadata.

Owned by the deployment work (terraform/, images/); the provisioner only calls
``render_startup_script`` and puts the result under the ``startup-script`` metadata key,
next to ``disable-legacy-endpoints=true`` (``REQUIRED_METADATA``; the script refuses to run
without it). The rendered script never contains a secret: the agent reads its workshop secret
from Secret Manager at start. What the script does is described in ``startup.sh.tmpl``.

Rendering never interpolates raw text: every value is checked (``safety``) and inserted with
``shlex.quote``. The host decides where and how the agent listens (``HOST_OWNED``), whatever
the provisioner passed for those variables.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from importlib import resources

from shared.host_bootstrap.safety import (
    UnsafeBootstrapValue,
    check_agent_config,
    check_host_index,
    check_value,
    check_workshop_id,
    secret_kind,
)

__all__ = [
    "AGENT_PORT",
    "HOST_OWNED",
    "REQUIRED_METADATA",
    "UnsafeBootstrapValue",
    "render_startup_script",
    "secret_kind",
]

#: Metadata every host VM must carry besides the startup script.
REQUIRED_METADATA = {"disable-legacy-endpoints": "true"}

AGENT_ADDR = "172.17.0.1"
AGENT_PORT = 8080
#: Agent variables fixed by the host layout (Caddy upstream, docker0 address, state disk).
HOST_OWNED = {
    "CLARATEACH_AGENT_BIND": AGENT_ADDR,
    "CLARATEACH_AGENT_PORT": str(AGENT_PORT),
    "CLARATEACH_AGENT_RUNTIME": "docker",
    "CLARATEACH_AGENT_STATE_DIR": "/var/lib/clarateach/agent",
    "CLARATEACH_AGENT_GATEWAY_URL": f"http://{AGENT_ADDR}:{AGENT_PORT}",
}
#: Computed at boot when absent (trial mode: https://<ip>.sslip.io).
PUBLIC_URL_VAR = "CLARATEACH_AGENT_PUBLIC_URL"
SEAT_IMAGE_VAR = "CLARATEACH_AGENT_SEAT_IMAGE"
EVENTS_VAR = "CLARATEACH_AGENT_EVENTS"
ATTEMPT_VAR = "CLARATEACH_AGENT_ATTEMPT"

_CONFIG_MARK = "@@RENDERED_CONFIG@@"
#: Static files embedded verbatim in quoted heredocs: placeholder -> (file, heredoc delimiter).
_EMBEDDED = {
    "@@FIREWALL_SCRIPT@@": ("firewall.sh", "CLARATEACH_FIREWALL_EOF"),
    "@@DOCKER_DAEMON_JSON@@": ("docker-daemon.json", "CLARATEACH_DOCKER_EOF"),
}


def render_startup_script(
    *,
    workshop_id: str,
    host_index: int,
    agent_config: Mapping[str, str],
    agent_package: str = "",
) -> str:
    """Return the bash startup script for host ``host_index`` of ``workshop_id``.

    ``agent_config`` holds the docs/protocol.md section 5 variables (non-secret). Raises
    ``UnsafeBootstrapValue`` for a malformed id or index, a key that is not a
    ``CLARATEACH_AGENT_*`` name, a name that announces a secret, a value with control
    characters, or a value that looks like a credential (API key, PEM, JWT, ...); the
    message names the variable, never the value. ``agent_package`` is an optional pip
    requirement installed only when the image lacks the agent (slow path).
    """
    workshop_id = check_workshop_id(workshop_id)
    host_index = check_host_index(host_index)
    config = check_agent_config(agent_config)
    _check_identity(config, workshop_id, host_index)
    package = check_value("agent_package", agent_package)
    public_url = config.pop(PUBLIC_URL_VAR, "")
    env = {
        **config,
        **HOST_OWNED,
        "CLARATEACH_AGENT_WORKSHOP_ID": workshop_id,
        "CLARATEACH_AGENT_HOST_INDEX": str(host_index),
    }
    block = _config_block(
        scalars={
            "WORKSHOP_ID": workshop_id,
            "HOST_INDEX": str(host_index),
            "PUBLIC_URL": public_url,
            "SEAT_IMAGE": env.get(SEAT_IMAGE_VAR, ""),
            "AGENT_PACKAGE": package,
            # Where an error exit reports host.failed (POST <base>/api/hosts/events).
            "EVENTS_API": _events_api(config.get(EVENTS_VAR, "")),
            "ATTEMPT": str(_attempt(config.get(ATTEMPT_VAR, "0"))),
        },
        agent_env=env,
    )
    script = _template()
    for mark, (name, delimiter) in _EMBEDDED.items():
        script = script.replace(mark, _embedded_file(name, delimiter))
    return script.replace(_CONFIG_MARK, block)


def _events_api(events_url: str) -> str:
    """The API base URL of a ``hostapi:<base>`` events URL ("" for any other transport)."""
    scheme, _, rest = events_url.partition(":")
    return rest.rstrip("/") if scheme == "hostapi" and rest.startswith("https://") else ""


def _attempt(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 6:
        raise UnsafeBootstrapValue(f"{ATTEMPT_VAR} must be a small non-negative integer")
    return int(raw)


def _check_identity(config: Mapping[str, str], workshop_id: str, host_index: int) -> None:
    for name, expected in (
        ("CLARATEACH_AGENT_WORKSHOP_ID", workshop_id),
        ("CLARATEACH_AGENT_HOST_INDEX", str(host_index)),
    ):
        if name in config and config[name] != expected:
            raise UnsafeBootstrapValue(f"{name} disagrees with the host being rendered")


def _config_block(*, scalars: Mapping[str, str], agent_env: Mapping[str, str]) -> str:
    lines = ["# ---- rendered configuration (shell-quoted; nothing here is a secret) ----"]
    lines += [f"readonly {name}={shlex.quote(value)}" for name, value in scalars.items()]
    # Values are literal by design ($ and ` never expand): tell shellcheck so.
    lines.append("# shellcheck disable=SC2016")
    lines.append("readonly AGENT_ENV=(")
    lines += [f"  {shlex.quote(f'{name}={value}')}" for name, value in sorted(agent_env.items())]
    lines.append(")")
    lines.append("# ---- end of rendered configuration ----")
    return "\n".join(lines)


def _template() -> str:
    text = _read("startup.sh.tmpl")
    for mark in (_CONFIG_MARK, *_EMBEDDED):
        if text.count(mark) != 1:
            raise RuntimeError(f"startup.sh.tmpl must contain {mark} exactly once")
    return text


def _embedded_file(name: str, delimiter: str) -> str:
    """A static file's text, safe to place inside ``<<'delimiter'`` (no expansion at all)."""
    text = _read(name)
    if any(line.strip() == delimiter for line in text.splitlines()):
        raise RuntimeError(f"{name} must not contain its heredoc delimiter line")
    return text.rstrip("\n")


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
