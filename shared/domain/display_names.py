"""A learner's display name (its own module: the join function imports it without the
cockpit's model-policy rules and their pydantic models)."""

from __future__ import annotations

import unicodedata

from shared.domain.errors import ValidationError

__all__ = ["DISPLAY_NAME_MAX", "display_name"]

#: A learner's optional display name at join (shown as text in the cockpit and the CLI).
DISPLAY_NAME_MAX = 40


def display_name(raw: object) -> str | None:
    """The learner's display name, trimmed; ``None`` when absent or blank. Control
    characters (newlines, escapes, bidi overrides) are refused, not silently dropped."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValidationError("display_name", "must be text")
    name = raw.strip()
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise ValidationError("display_name", "must not contain control characters")
    if len(name) > DISPLAY_NAME_MAX:
        raise ValidationError("display_name", f"must be at most {DISPLAY_NAME_MAX} characters")
    return name or None
