"""Serving a local fake of a Google REST API (Compute, Secret Manager, Cloud DNS) on loopback.

A fake is any object with ``handle(method, path, body) -> (status, json_payload)``; the real
client libraries talk to it over HTTP, so tests exercise their actual requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol


class RestFake(Protocol):
    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]: ...


class JsonHandler(BaseHTTPRequestHandler):
    """Decodes the JSON request, asks ``fake.handle`` and writes its JSON answer."""

    fake: RestFake

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, payload = self.fake.handle(self.command, self.path, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(fake: RestFake) -> Iterator[str]:
    """Serve ``fake`` on a free loopback port; yield the base URL."""
    handler = type("BoundHandler", (JsonHandler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
