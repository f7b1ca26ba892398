"""Local mode's internal credentials, derived from one 0600 platform secret (docs/events.md).

``<state_dir>/platform-secret`` (mode 0600, created once, never leaves the platform process
and its files) keys two HMAC-SHA256 derivations:

* the **push token**: the local provisioner endpoint accepts a delivery only with header
  ``X-ClaraTeach-Push-Token: <push token>``; only the platform's own ``LocalBus`` has it;
* a **host events token** per host and start attempt, handed to that one agent in its
  environment (never argv, never on disk): ``POST /api/hosts/events`` accepts a host event
  only if the token matches the workshop, host index and attempt the event claims. An agent
  (or a learner who read one) can therefore speak only for its own host of its own attempt.

Comparisons are constant time. Nothing here is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from shared.auth.secret_files import ensure_secret_file

PLATFORM_SECRET_FILE = "platform-secret"  # noqa: S105 - a file name, not a secret
PUSH_TOKEN_HEADER = "X-ClaraTeach-Push-Token"  # noqa: S105 - a header name


def platform_secret(state_dir: Path) -> bytes:
    """The platform secret of ``state_dir``, created on first use."""
    return ensure_secret_file(state_dir / PLATFORM_SECRET_FILE).encode()


def _derive(state_dir: Path, *parts: str) -> str:
    message = "\x00".join(parts).encode()
    return hmac.new(platform_secret(state_dir), message, hashlib.sha256).hexdigest()


def push_token(state_dir: Path) -> str:
    """What the local bus sends, and the provisioner endpoint requires, on every delivery."""
    return _derive(state_dir, "local-push", "v1")


def host_events_token(state_dir: Path, workshop_id: str, host_index: int, attempt: int) -> str:
    """The token host ``host_index`` of ``workshop_id``'s start ``attempt`` proves itself with."""
    return _derive(state_dir, "host-events", "v1", workshop_id, str(host_index), str(attempt))


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(presented.encode(), expected.encode())
