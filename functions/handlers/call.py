"""What every handler receives: ``Call`` (the platform, the request, its path parameters and
the authenticated instructor), and the strict JSON body decoder."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from functions.wire import ApiRequest, ApiResponse
from shared.domain.errors import ValidationError

if TYPE_CHECKING:
    from shared.auth.instructor import IdTokenVerifier, Instructor
    from shared.bootstrap import Platform


@dataclass
class Call:
    """One request on its way through a handler."""

    platform: Platform
    request: ApiRequest
    params: dict[str, str] = field(default_factory=dict)
    instructor: Instructor | None = None
    #: Replaces google-auth's ID-token verifier (tests); ``None``: the real one.
    verify_id_token: IdTokenVerifier | None = None

    @property
    def caller(self) -> Instructor:
        if self.instructor is None:  # a route table bug, not a client error
            raise RuntimeError("instructor route called without authentication")
        return self.instructor

    @property
    def workshop_id(self) -> str:
        return self.params["workshop_id"]

    def json(self) -> Any:
        return decode_json(self.request.body)


Handler = Callable[[Call], ApiResponse]


def decode_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, bounded nesting; ``ValidationError`` otherwise."""
    if not body.strip():
        raise ValidationError("body", "a JSON object is required")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("body", "must be UTF-8 encoded JSON") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ValidationError("body", "must be valid JSON") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
