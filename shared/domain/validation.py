"""Field-level validation of instructor input. Raises ``ValidationError`` naming the field.

Types are checked strictly: ``"10"``, ``10.5`` and ``True`` are not seat counts.
"""

from __future__ import annotations

import re
import unicodedata

from shared.domain.errors import ValidationError

NAME_MAX = 100
SEATS_MIN, SEATS_MAX = 1, 500
SEATS_PER_HOST_MIN, SEATS_PER_HOST_MAX, SEATS_PER_HOST_DEFAULT = 1, 50, 10

# Anthropic keys look like sk-ant-api03-<base64url>; accept the family, refuse anything
# that could smuggle shell, header or JSON syntax.
_API_KEY_RE = re.compile(r"^sk-ant-[A-Za-z0-9_\-]{20,300}$")


def validate_name(name: object) -> str:
    """1-100 printable characters after trimming; no control or format characters."""
    if not isinstance(name, str):
        raise ValidationError("name", "must be a string")
    cleaned = name.strip()
    if not cleaned:
        raise ValidationError("name", "must not be empty")
    if len(cleaned) > NAME_MAX:
        raise ValidationError("name", f"must be at most {NAME_MAX} characters")
    if any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in cleaned):
        raise ValidationError("name", "must contain only printable characters")
    return cleaned


def validate_int(field: str, value: object, low: int, high: int) -> int:
    """An actual integer (not bool, float or string) within ``low..high`` inclusive."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be an integer")
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}")
    return value


def validate_seats(value: object, max_seats: int = SEATS_MAX) -> int:
    return validate_int("seats", value, SEATS_MIN, min(max_seats, SEATS_MAX))


def validate_seats_per_host(value: object | None) -> int:
    if value is None:
        return SEATS_PER_HOST_DEFAULT
    return validate_int("seats_per_host", value, SEATS_PER_HOST_MIN, SEATS_PER_HOST_MAX)


def validate_api_key(value: object) -> str:
    """Format check only; the message never echoes the value."""
    if not isinstance(value, str) or not _API_KEY_RE.match(value):
        raise ValidationError(
            "api_key", "must be an Anthropic API key (sk-ant-..., letters, digits, - and _)"
        )
    return value
