"""A learner's dev server, standard library only (copied into a seat and run there).

``python3 seat_servers.py PORT [ADDRESS]`` serves:
* ``/headers``: the request's headers as JSON;
* ``/stream?mb=N``: N MiB generated on the fly, chunked (never held in memory);
* ``/hang``: answers nothing for 60 s;
* ``/ws``: a WebSocket echo (RFC 6455 text/binary frames, as a dev server's HMR channel);
* ``/page``: an HTML page that tries the workspace's storage (for the browser test).
It writes ``server-<PORT>.ready`` into its working directory once listening.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socketserver
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PAGE = """<!doctype html><html><head><title>learner app</title></head><body>
<h1 id="title">learner app</h1><pre id="out"></pre><script>
const out = {origin: location.origin, storage: Object.keys(localStorage), cookie: document.cookie};
const show = () => { document.getElementById("out").textContent = JSON.stringify(out); };
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const ws = new WebSocket(scheme + location.host + "/ws");
ws.onopen = () => ws.send("ping-" + 42);
ws.onmessage = (e) => { out.echo = e.data; show(); };
ws.onerror = () => { out.echo = "error"; show(); };
</script></body></html>"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self._send(200, json.dumps({"received": len(body)}).encode(), "application/json")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/headers":
            self._send(200, json.dumps(dict(self.headers.items())).encode(), "application/json")
        elif url.path == "/stream":
            self._stream(int(parse_qs(url.query).get("mb", ["1"])[0]))
        elif url.path == "/hang":
            # Never answer: block until the client (the proxy, at its idle timeout) hangs up.
            self.rfile.read()
        elif url.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        elif url.path == "/page":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, mib: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        block = b"x" * (1024 * 1024)
        frame = b"%x\r\n" % len(block) + block + b"\r\n"
        for _ in range(mib):
            self.wfile.write(frame)
        self.wfile.write(b"0\r\n\r\n")

    def _websocket(self) -> None:
        key = self.headers["Sec-WebSocket-Key"]
        digest = hashlib.sha1((key + GUID).encode()).digest()  # noqa: S324 - RFC 6455's
        accept = base64.b64encode(digest).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", self.rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                self.wfile.write(b"\x88\x00")
                return
            if opcode in (1, 2):
                size = len(data)
                header = bytes([0x80 | opcode])
                if size < 126:
                    header += bytes([size])
                elif size < 65536:
                    header += bytes([126]) + struct.pack("!H", size)
                else:
                    header += bytes([127]) + struct.pack("!Q", size)
                self.wfile.write(header + data)
                self.wfile.flush()


def main() -> None:
    port = int(sys.argv[1])
    address = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    socketserver.TCPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    with open(f"server-{port}.ready", "w") as ready:
        ready.write("ok")
    server.serve_forever()


if __name__ == "__main__":
    main()
