"""The provisioner as production runs it: functions-framework's CloudEvent app, on loopback.

The local event bus POSTs Pub/Sub push envelopes here exactly as a Pub/Sub push
subscription does on GCP. functions-framework (not our code) converts each envelope into a
CloudEvent whose ``id`` is the Pub/Sub ``messageId`` and calls the ``provisioner`` entry point,
so the local platform exercises the same conversion, the same entry point and the same
status-code semantics (2xx = ack, anything else = redeliver) as Cloud Functions.

The WSGI app runs on werkzeug's threaded server in a daemon thread: the provisioner's
handlers are synchronous and may block on compute calls, and each delivery gets its own
thread, as concurrent Cloud Functions instances would.

Only the platform is heard: every delivery must carry ``X-ClaraTeach-Push-Token`` with the
platform's push token (``shared.auth.platform_keys``, compared in constant time) - the local
counterpart of the OIDC token Pub/Sub attaches to authenticated push on GCP. Anything else is
answered 401 before functions-framework parses it, so nothing is handled, recorded or
retried. The port is on loopback, which every local seat shares, so the port itself proves
nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from shared.auth.platform_keys import PUSH_TOKEN_HEADER, token_matches

#: The source file Cloud Functions deploys (``main.py`` re-exports ``provisioner``).
FUNCTIONS_SOURCE = Path(__file__).resolve().parent.parent / "functions" / "main.py"
PROVISIONER_TARGET = "provisioner"


class _QuietHandler(WSGIRequestHandler):
    """werkzeug logs every request to stderr; the platform log is enough."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logging.getLogger("clarateach.provisioner").debug("push delivered: HTTP %s", code)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_ENVIRON_KEY = "HTTP_" + PUSH_TOKEN_HEADER.upper().replace("-", "_")
_REFUSAL = json.dumps(
    {"error": {"code": "unauthorized", "message": "push deliveries need the platform's token"}}
).encode()


def require_push_token(app: WsgiApp, token: str) -> WsgiApp:
    """``app`` behind a check of the push token header; 401 (and nothing else) without it."""
    if not token:
        raise ValueError("the provisioner endpoint needs a push token")
    log = logging.getLogger("clarateach.provisioner")

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if token_matches(str(environ.get(_ENVIRON_KEY, "")), token):
            return app(environ, start_response)
        log.warning("push delivery refused: missing or wrong push token")
        start_response(
            "401 Unauthorized",
            [("Content-Type", "application/json"), ("Content-Length", str(len(_REFUSAL)))],
        )
        return [_REFUSAL]

    return guarded


class ProvisionerServer:
    """functions-framework's ``provisioner`` app on ``127.0.0.1:<port>`` (0 = a free one;
    ``OSError`` if ``port`` is taken), heard only with ``push_token``."""

    def __init__(
        self,
        *,
        push_token: str,
        source: Path = FUNCTIONS_SOURCE,
        target: str = PROVISIONER_TARGET,
        port: int = 0,
    ) -> None:
        import functions_framework

        app = functions_framework.create_app(
            target=target, source=str(source), signature_type="cloudevent"
        )
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1",
            port,
            require_push_token(app, push_token),
            threaded=True,
            request_handler=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="provisioner-wsgi", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """The push endpoint (what ``Settings.provisioner_url`` must be)."""
        return f"http://127.0.0.1:{self._server.server_port}/"

    def start(self) -> ProvisionerServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting deliveries and wait for the serving thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
