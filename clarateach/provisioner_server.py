"""The provisioner as production runs it: functions-framework's CloudEvent app, on loopback.

The local event bus POSTs Pub/Sub push envelopes here exactly as a Pub/Sub push
subscription does on GCP. functions-framework (not our code) converts each envelope into a
CloudEvent whose ``id`` is the Pub/Sub ``messageId`` and calls the ``provisioner`` entry point,
so the local platform exercises the same conversion, the same entry point and the same
status-code semantics (2xx = ack, anything else = redeliver) as Cloud Functions.

The WSGI app runs on werkzeug's threaded server in a daemon thread: the provisioner's
handlers are synchronous and may block on compute calls, and each delivery gets its own
thread, as concurrent Cloud Functions instances would.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

#: The source file Cloud Functions deploys (``main.py`` re-exports ``provisioner``).
FUNCTIONS_SOURCE = Path(__file__).resolve().parent.parent / "functions" / "main.py"
PROVISIONER_TARGET = "provisioner"


class _QuietHandler(WSGIRequestHandler):
    """werkzeug logs every request to stderr; the platform log is enough."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logging.getLogger("clarateach.provisioner").debug("push delivered: HTTP %s", code)


class ProvisionerServer:
    """functions-framework's ``provisioner`` app on ``127.0.0.1:<port>`` (0 = a free one;
    ``OSError`` if ``port`` is taken)."""

    def __init__(
        self, source: Path = FUNCTIONS_SOURCE, target: str = PROVISIONER_TARGET, port: int = 0
    ) -> None:
        import functions_framework

        app = functions_framework.create_app(
            target=target, source=str(source), signature_type="cloudevent"
        )
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler
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
