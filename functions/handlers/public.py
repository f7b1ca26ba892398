"""Public, platform-free routes: health and the OpenAPI document."""

from __future__ import annotations

from functions.handlers.call import Call
from functions.wire import ApiResponse, json_response


def health(call: Call) -> ApiResponse:
    return json_response(200, {"status": "ok"})


def openapi(call: Call) -> ApiResponse:
    from functions.openapi import openapi_document  # pydantic's schema generation: only here

    return json_response(200, openapi_document())
