"""A content pack's ``[claude]`` table applied to the workshop's model policy.

The pack says how Claude Code should start in every seat (default model, allowed models,
``CLAUDE.md``, settings); the instructor's own choices at ``workshop create`` (flags or a
policy file) win field by field, and the pack fills in what they left unset. ``settings``
are merged key by key the same way. The result is validated as a whole, so a pack whose
default model is outside the instructor's allowlist is refused, naming the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from shared.domain.errors import ValidationError
from shared.domain.model_policy import ClaudeCodeSettings, ModelPolicy


def with_pack_claude(
    policy: dict[str, Any], pack_claude: ClaudeCodeSettings | None
) -> dict[str, Any]:
    """``policy`` (JSON-shaped ``ModelPolicy``) with ``pack_claude`` filling unset fields."""
    if pack_claude is None:
        return policy
    current = ModelPolicy.model_validate(policy) if policy else ModelPolicy()
    mine = current.claude_code.model_dump(mode="json")
    theirs = pack_claude.model_dump(mode="json")
    merged = {key: mine[key] if mine[key] is not None else theirs[key] for key in mine}
    if mine["settings"] is not None and theirs["settings"] is not None:
        merged["settings"] = {**theirs["settings"], **mine["settings"]}
    try:
        result = current.model_copy(update={"claude_code": ClaudeCodeSettings(**merged)})
        return ModelPolicy.model_validate(result.model_dump(mode="json")).model_dump(mode="json")
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("workshop.toml", "claude", *first["loc"]))
        raise ValidationError(where, first["msg"]) from None
