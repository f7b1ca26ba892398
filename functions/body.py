"""The base of every request body model, and ``parse_body`` (pydantic errors in plain words).

Strict types, unknown fields refused with 400 naming the field (``functions.schemas``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from functions.plain_errors import plain_message
from shared.domain.errors import ValidationError

FIELD_NAME_MAX = 100  # an unknown field is named in the error; a hostile name is cut short


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Model = TypeVar("Model", bound=Body)


def parse_body(model: type[Model], data: Any) -> Model:
    """Validate decoded JSON ``data`` against ``model``; ``ValidationError`` names the field."""
    if not isinstance(data, dict):
        raise ValidationError("body", "must be a JSON object")
    try:
        return model.model_validate(data, strict=True)  # strict reaches nested models too
    except PydanticValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])[:FIELD_NAME_MAX] or "body"
        raise ValidationError(field, plain_message(dict(first), model)) from None
