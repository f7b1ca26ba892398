"""Pydantic validation errors in the instructor's words ("seats: must be between 1 and 500",
never "Input should be greater than or equal to 1"). Used by ``functions.schemas.parse_body``.
"""

from __future__ import annotations

from typing import Any

import annotated_types
from pydantic import BaseModel

_TYPE_WORDS = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
}
_PATTERN_WORDS = {
    "api_key": "does not look like an Anthropic API key (sk-ant-...)",
}


def _bounds(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """The (minimum, maximum) of a top-level numeric field, from its ``Field(ge=, le=)``."""
    if len(loc) != 1 or not isinstance(loc[0], str) or loc[0] not in model.model_fields:
        return None, None
    low = high = None
    for item in model.model_fields[loc[0]].metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Le):
            high = item.le
    return low, high


def _number(value: Any) -> str:
    """``0.0`` -> ``0``, ``100000.0`` -> ``100000``, ``0.5`` -> ``0.5``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def plain_message(error: dict[str, Any], model: type[BaseModel]) -> str:
    """One pydantic error (``exc.errors()[0]``) as a short sentence about the field."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    loc = tuple(error.get("loc") or ())
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(model, loc)
        if low is not None and high is not None:
            return f"must be between {low} and {high}"
        if kind == "greater_than_equal":
            return f"must be at least {_number(ctx.get('ge'))}"
        return f"must be at most {_number(ctx.get('le'))}"
    if kind == "greater_than":
        return f"must be more than {_number(ctx.get('gt'))}"
    if kind == "less_than":
        return f"must be less than {_number(ctx.get('lt'))}"
    if kind == "string_too_short":
        minimum = ctx.get("min_length")
        return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        field = str(loc[-1]) if loc else ""
        return _PATTERN_WORDS.get(field, "is not in the expected format")
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    return str(error.get("msg", "is not valid"))
