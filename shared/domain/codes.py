"""Identifiers and human-typed codes, all drawn from ``secrets`` with unambiguous alphabets.

No 0/O, 1/I/L, so a code read off a projector is typed right the first time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

#: Upper-case alphabet for codes people type (31 symbols).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: Lower-case alphabet for ids that must be valid GCE/label/DNS names.
ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

WORKSHOP_CODE_PREFIX = "CLAUDE-"
WORKSHOP_CODE_LENGTH = 4
RECONNECT_CODE_LENGTH = 6
WORKSHOP_ID_LENGTH = 10
#: Length bounds of a join's client nonce (its idempotency key).
NONCE_MIN, NONCE_MAX = 16, 128

_CODE_RE = re.compile(rf"^CLAUDE-[{CODE_ALPHABET}]{{{WORKSHOP_CODE_LENGTH}}}$")
_RECONNECT_RE = re.compile(rf"^[{CODE_ALPHABET}]{{{RECONNECT_CODE_LENGTH}}}$")


def _pick(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_workshop_id() -> str:
    """``w`` + 10 chars: starts with a letter, so it is a valid GCE name component."""
    return "w" + _pick(ID_ALPHABET, WORKSHOP_ID_LENGTH)


def new_workshop_code() -> str:
    """``CLAUDE-XY9Z``."""
    return WORKSHOP_CODE_PREFIX + _pick(CODE_ALPHABET, WORKSHOP_CODE_LENGTH)


def new_reconnect_code() -> str:
    """Six symbols (31**6 ~ 887 M); shown once to the learner, stored only as a hash."""
    return _pick(CODE_ALPHABET, RECONNECT_CODE_LENGTH)


def _squash(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def normalize_workshop_code(raw: str) -> str | None:
    """Canonical ``CLAUDE-XXXX`` from what a person typed, or ``None`` if it cannot be one.

    Accepts any case, spaces and dashes anywhere, and a missing ``CLAUDE`` prefix:
    ``"claude xy9z"``, ``"CLAUDEXY9Z"``, ``" xy9z "`` all give ``"CLAUDE-XY9Z"``.
    """
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    squashed = _squash(raw)
    if squashed.startswith("CLAUDE"):
        squashed = squashed[len("CLAUDE") :]
    code = WORKSHOP_CODE_PREFIX + squashed
    return code if _CODE_RE.match(code) else None


def normalize_reconnect_code(raw: str) -> str | None:
    """Canonical reconnect code (case, spaces and dashes forgiven), or ``None``."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    squashed = _squash(raw)
    return squashed if _RECONNECT_RE.match(squashed) else None


def hash_reconnect_code(workshop_id: str, code: str) -> str:
    """Deterministic keyed hash, so a seat can be looked up by code without storing the code.

    Keyed by the workshop id: the same code on another workshop hashes differently, so a
    reconnect code only ever works for its own workshop.
    """
    return hmac.new(workshop_id.encode(), code.encode(), hashlib.sha256).hexdigest()


def hash_client_nonce(workshop_id: str, nonce: str) -> str:
    """Hash of a join's client nonce (idempotency key), scoped to the workshop."""
    return hmac.new(workshop_id.encode(), b"nonce:" + nonce.encode(), hashlib.sha256).hexdigest()
