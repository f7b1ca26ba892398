"""What may go into a startup script: non-secret, single-line, well-formed values only.

The rendered script ends up in instance metadata, readable by anyone with ``compute.instances.get``
and by every process on the VM. ``check_agent_config`` refuses anything that looks like a
credential, so a wiring mistake upstream (a key instead of a key *reference*) fails loudly at
render time instead of leaking. Error messages name the variable, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Patterns of credentials that must never be rendered (checked anywhere in a value).
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an Anthropic API key", re.compile(r"sk-ant-[A-Za-z0-9_-]{4,}")),
    ("a PEM key or certificate", re.compile(r"-----BEGIN [A-Z0-9 ]+-----")),
    ("a JWT", re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")),
    ("a Google API key", re.compile(r"AIza[0-9A-Za-z_-]{35}")),
    ("a Google OAuth access token", re.compile(r"ya29\.[0-9A-Za-z_-]{20,}")),
    ("a service-account key", re.compile(r'"private_key"\s*:')),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
    ("an AWS access key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
)

#: Name words that announce a secret value. ``*_REF`` names hold references, which are fine,
#: and ``SECRETS`` names the secrets backend (``hostcred:<API URL>``), not a secret.
_SECRET_WORDS = frozenset({"KEY", "TOKEN", "TOKENS", "SECRET", "PASSWORD", "CREDENTIALS"})
_AGENT_VAR = re.compile(r"CLARATEACH_AGENT_[A-Z0-9_]{1,64}")
_WORKSHOP_ID = re.compile(r"[a-z][a-z0-9-]{0,40}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_VALUE_LENGTH = 16 * 1024


class UnsafeBootstrapValue(ValueError):
    """A value cannot be put in a startup script. The message never contains the value."""


def secret_kind(value: str) -> str | None:
    """What kind of credential ``value`` looks like, or ``None``."""
    for kind, pattern in SECRET_PATTERNS:
        if pattern.search(value):
            return kind
    return None


def check_workshop_id(workshop_id: object) -> str:
    if not isinstance(workshop_id, str) or not _WORKSHOP_ID.fullmatch(workshop_id):
        raise UnsafeBootstrapValue("workshop_id must be lowercase letters, digits and dashes")
    return workshop_id


def check_host_index(host_index: object) -> int:
    if isinstance(host_index, bool) or not isinstance(host_index, int) or host_index < 0:
        raise UnsafeBootstrapValue("host_index must be a non-negative integer")
    return host_index


def check_value(name: str, value: object) -> str:
    """Return ``value`` if it is a single-line, non-secret string; raise otherwise."""
    if not isinstance(value, str):
        raise UnsafeBootstrapValue(f"{name}: value must be a string")
    if len(value) > MAX_VALUE_LENGTH:
        raise UnsafeBootstrapValue(f"{name}: value longer than {MAX_VALUE_LENGTH} characters")
    if _CONTROL.search(value):
        raise UnsafeBootstrapValue(f"{name}: value contains a control character or newline")
    kind = secret_kind(value)
    if kind:
        raise UnsafeBootstrapValue(
            f"{name}: value looks like {kind}; pass a secret reference, never the secret"
        )
    return value


def _names_a_secret(name: str) -> bool:
    words = name.removeprefix("CLARATEACH_AGENT_").split("_")
    return words[-1] != "REF" and not _SECRET_WORDS.isdisjoint(words)


def check_agent_config(config: Mapping[str, str]) -> dict[str, str]:
    """Validate every variable name and value of an agent configuration."""
    checked: dict[str, str] = {}
    for name, value in config.items():
        if not isinstance(name, str) or not _AGENT_VAR.fullmatch(name):
            raise UnsafeBootstrapValue(
                f"agent_config key {name!r} is not a CLARATEACH_AGENT_* variable name"
            )
        if _names_a_secret(name):
            raise UnsafeBootstrapValue(
                f"{name}: names a secret; only references (*_REF) may be rendered"
            )
        checked[name] = check_value(name, value)
    return checked
