"""``GET /api/jwks.json``: the learner-token verification keys (reads the signing secret)."""

from __future__ import annotations

from functions.handlers.call import Call
from functions.wire import ApiResponse, json_response
from shared.auth.signing import public_jwks


def jwks(call: Call) -> ApiResponse:
    settings = call.platform.settings
    document = public_jwks(call.platform.secrets, settings.jwt_key_secret)
    return json_response(200, document, {"Cache-Control": "public, max-age=300"})
