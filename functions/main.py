"""Cloud Functions entry points (functions-framework). Thin: convert, route, convert back.

* ``api`` serves every route (one function behind a single URL, and the local platform).
* ``create_workshop``, ``start_workshop``, ``stop_workshop``, ``workshops`` (read-only),
  ``control``, ``join_workshop``, ``hosts``, ``jwks`` and ``health`` serve only their own
  operations (``functions.entrypoints``), one function and service account each. Called at
  their bare function URL (path ``/``) they serve their canonical route, and a path without
  the ``/api/`` prefix is taken relative to it (``start_workshop`` at ``/w123/start`` serves
  ``/api/workshops/w123/start``).
* ``provisioner``, ``reconciler`` and ``certificates`` (the CloudEvent and scheduled
  functions) live in ``functions/events.py`` and are re-exported here, because a deployment
  names one source file.

Cold starts: an HTTP function never imports the provisioner (``functions.events`` is loaded
by the module ``__getattr__`` when functions-framework looks up ``provisioner`` or
``reconciler``), and the CloudEvent functions never import the router (``functions.http`` is
imported on the first HTTP request). A split function's first request imports only the
handlers of its own operations (``functions.http.load_handlers``), and the platform builds
only the adapters a request touches (``shared.bootstrap``): ``join_workshop`` never loads
Compute or Pub/Sub. ``tests/api/test_entrypoint_imports.py`` asserts it per function and
``benchmarks/entrypoint_import_bench.py`` measures it.

The platform is bootstrapped lazily from the environment on the first request
(``functions.runtime``, shared with the CloudEvent functions); the local platform and tests
install their own with ``set_platform``.
"""

from __future__ import annotations

import logging
from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from functions.entrypoints import SPLIT
from functions.errors import error_body, error_response
from functions.runtime import get_platform as _runtime_platform
from functions.runtime import set_platform
from functions.wire import MAX_BODY_BYTES, ApiRequest, ApiResponse, json_response
from shared import logs
from shared.bootstrap import Platform
from shared.settings import Settings

__all__ = [
    "api",
    "control",
    "create_workshop",
    "health",
    "hosts",
    "join_workshop",
    "jwks",
    "set_platform",
    "start_workshop",
    "stop_workshop",
    "workshops",
]

_logging_configured = False

#: The provisioner's entry points (``functions.events``), re-exported on first access so one
#: source file deploys every function without the HTTP functions importing them.
EVENT_ENTRY_POINTS = frozenset({"provisioner", "reconciler", "certificates"})


def __getattr__(name: str) -> Any:
    if name in EVENT_ENTRY_POINTS:
        from functions import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_platform() -> Platform:
    """The process platform (shared with the CloudEvent entry points via ``functions.runtime``)."""
    global _logging_configured
    if not _logging_configured:
        _logging_configured = True
        if not logging.getLogger().handlers:  # the local platform configures its own logging
            logs.configure()
    return _runtime_platform()


def to_api_request(
    request: flask.Request, settings: Settings, path: str | None = None, limit: int = MAX_BODY_BYTES
) -> ApiRequest:
    """Read at most ``limit + 1`` bytes (the route's cap, ``functions.http.body_limit``), so a
    huge body is refused without buffering it."""
    declared = request.content_length
    if declared is not None and declared > limit:
        body = b"\0" * (limit + 1)  # the router answers 413 without reading the stream
    else:
        body = request.stream.read(limit + 1)
    return ApiRequest(
        method=request.method,
        path=path if path is not None else request.path,
        headers=dict(request.headers.items()),
        query=request.args.to_dict(flat=True),
        body=body,
        client_ip=client_ip(request, settings),
    )


def client_ip(request: flask.Request, settings: Settings) -> str:
    """The caller's address. On GCP the Google front end *appends* the real client address to
    ``X-Forwarded-For``, so the last entry is the one a caller cannot forge."""
    if settings.mode == "gcp":
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return request.remote_addr or "unknown"


def to_flask_response(response: ApiResponse) -> flask.Response:
    return flask.Response(response.body, status=response.status, headers=response.headers)


def _serve(
    request: flask.Request, operations: frozenset[str] | None, root: str | None
) -> flask.Response:
    from functions.http import body_limit, handle  # here: CloudEvent functions never import it

    platform = get_platform()
    path = request.path
    if root is not None:
        path = _function_path(path, root)
    limit = body_limit(request.method, path)
    api_request = to_api_request(request, platform.settings, path, limit)
    return to_flask_response(handle(platform, api_request, operations=operations))


def _function_path(path: str, root: str) -> str:
    if path in ("", "/"):
        return root
    return path if path.startswith("/api/") else root + path


def _framework_error(error: HTTPException) -> flask.Response:
    """Refusals the framework makes before our function runs (e.g. a path its router cannot
    match) still get the API's JSON error shape instead of Werkzeug's HTML page."""
    status = error.code or 500
    code = "not_found" if status == 404 else "invalid_request" if status < 500 else "internal"
    return to_flask_response(
        json_response(status, error_body(code, str(error.description or error.name)))
    )


def _crash(error: Exception) -> flask.Response:
    """A failure outside the router (e.g. bootstrapping the platform): logged (redacted),
    answered with the bare JSON 500."""
    return to_flask_response(error_response(error))


# functions-framework executes this module inside the new app's context: hook its errors.
if flask.has_app_context():
    flask.current_app.register_error_handler(HTTPException, _framework_error)
    flask.current_app.register_error_handler(Exception, _crash)


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    return _serve(request, None, None)


_loaded: set[str] = set()


def _split(name: str, request: flask.Request) -> flask.Response:
    root, operations = SPLIT[name]
    if name not in _loaded:
        from functions.http import load_handlers

        load_handlers(operations)  # only this function's handlers (and what they import)
        _loaded.add(name)
    return _serve(request, operations, root)


@functions_framework.http
def create_workshop(request: flask.Request) -> flask.Response:
    return _split("create_workshop", request)


@functions_framework.http
def start_workshop(request: flask.Request) -> flask.Response:
    return _split("start_workshop", request)


@functions_framework.http
def stop_workshop(request: flask.Request) -> flask.Response:
    return _split("stop_workshop", request)


@functions_framework.http
def workshops(request: flask.Request) -> flask.Response:
    return _split("workshops", request)


@functions_framework.http
def control(request: flask.Request) -> flask.Response:
    return _split("control", request)


@functions_framework.http
def join_workshop(request: flask.Request) -> flask.Response:
    return _split("join_workshop", request)


@functions_framework.http
def hosts(request: flask.Request) -> flask.Response:
    return _split("hosts", request)


@functions_framework.http
def jwks(request: flask.Request) -> flask.Response:
    return _split("jwks", request)


@functions_framework.http
def health(request: flask.Request) -> flask.Response:
    return _split("health", request)
