"""A local fake of the Cloud Storage JSON API, enough for ``google-cloud-storage``'s
``Blob.upload_from_string`` (multipart and resumable uploads), ``Blob.download_as_bytes`` and
``Blob.delete``, served over loopback so the real client library makes its real requests.

There is no Cloud Storage emulator. Behaviour follows the documented API:
* uploads: https://cloud.google.com/storage/docs/uploading-objects and
  https://cloud.google.com/storage/docs/performing-resumable-uploads (``uploadType=multipart``
  is one ``multipart/related`` body, metadata JSON then the media; ``uploadType=resumable``
  answers a session URI in ``Location``, chunks are ``PUT`` with ``Content-Range``, 308 with
  ``Range`` until the last, which answers the object resource);
* download: ``GET /download/storage/v1/b/{bucket}/o/{object}?alt=media``
  (https://cloud.google.com/storage/docs/json_api/v1/objects/get);
* delete: ``DELETE /storage/v1/b/{bucket}/o/{object}`` answers 204, a missing object 404
  (https://cloud.google.com/storage/docs/json_api/v1/objects/delete);
* a replaced object gets a new generation; readers see one complete generation
  (https://cloud.google.com/storage/docs/consistency).
Only the bucket given exists; others answer 404 like a bucket the caller cannot see.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_OBJECT = re.compile(r"^/(?:download/)?storage/v1/b/(?P<bucket>[^/]+)/o/(?P<name>[^?]+)$")
_UPLOAD = re.compile(r"^/upload/storage/v1/b/(?P<bucket>[^/]+)/o$")


class FakeGcs:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.objects: dict[str, tuple[bytes, int, str]] = {}  # name -> (data, generation, type)
        self.sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._generation = 0

    def store(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        with self._lock:
            self._generation += 1
            self.objects[name] = (data, self._generation, content_type)
            return self.resource(name)

    def resource(self, name: str) -> dict[str, Any]:
        data, generation, content_type = self.objects[name]
        crc, md5 = hashes(data)
        return {
            "crc32c": crc,
            "md5Hash": md5,
            "kind": "storage#object",
            "bucket": self.bucket,
            "name": name,
            "generation": str(generation),
            "metageneration": "1",
            "size": str(len(data)),
            "contentType": content_type,
            "id": f"{self.bucket}/{name}/{generation}",
        }


def hashes(data: bytes) -> tuple[str, str]:
    """``(crc32c, md5Hash)`` as the API gives them: base64 of the big-endian CRC32C and of
    the MD5 digest (https://cloud.google.com/storage/docs/hashes-etags)."""
    import google_crc32c

    crc = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - GCS's hash
    return crc, md5


def _error(code: int, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "errors": []}}).encode()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGcs
    base: str

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        self.fake.requests.append(("POST", parts.path))
        found = _UPLOAD.match(parts.path)
        body = self._body()
        if not found or found["bucket"] != self.fake.bucket:
            return self._send(404, _error(404, "The specified bucket does not exist."))
        kind = parse_qs(parts.query).get("uploadType", [""])[0]
        if kind == "multipart":
            metadata, media, content_type = self._multipart(body)
            return self._json(200, self.fake.store(metadata["name"], media, content_type))
        if kind == "resumable":
            metadata = json.loads(body or b"{}")
            name = metadata.get("name") or parse_qs(parts.query).get("name", [""])[0]
            session = uuid.uuid4().hex
            content_type = self.headers.get("X-Upload-Content-Type") or "application/octet-stream"
            self.fake.sessions[session] = {"name": name, "data": bytearray(), "type": content_type}
            location = (
                f"{self.base}/upload/storage/v1/b/{self.fake.bucket}/o"
                f"?uploadType=resumable&upload_id={session}"
            )
            return self._send(200, b"", {"Location": location})
        return self._send(400, _error(400, f"unsupported uploadType {kind!r}"))

    def _multipart(self, body: bytes) -> tuple[dict[str, Any], bytes, str]:
        header = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
        meta_part, media_part = list(message.iter_parts())
        metadata = json.loads(meta_part.get_payload(decode=True))
        media = media_part.get_payload(decode=True)
        return metadata, media, media_part.get_content_type()

    def do_PUT(self) -> None:
        parts = urlsplit(self.path)
        self.fake.requests.append(("PUT", parts.path))
        session_id = parse_qs(parts.query).get("upload_id", [""])[0]
        session = self.fake.sessions.get(session_id)
        body = self._body()
        if session is None:
            return self._send(404, _error(404, "No such upload session."))
        found = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", self.headers.get("Content-Range", ""))
        total_match = re.match(r"bytes \*/(\d+)", self.headers.get("Content-Range", ""))
        if found:
            start, total = int(found[1]), found[3]
            if start != len(session["data"]):
                return self._send(400, _error(400, "chunk out of order"))
            session["data"] += body
            if total != "*" and len(session["data"]) == int(total):
                del self.fake.sessions[session_id]
                return self._json(
                    200, self.fake.store(session["name"], bytes(session["data"]), session["type"])
                )
        elif total_match and int(total_match[1]) == len(session["data"]):
            del self.fake.sessions[session_id]
            return self._json(
                200, self.fake.store(session["name"], bytes(session["data"]), session["type"])
            )
        received = len(session["data"])
        headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
        return self._send(308, b"", headers or {"Content-Type": "text/plain"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.fake.requests.append(("GET", parts.path))
        found = _OBJECT.match(parts.path)
        if not found or found["bucket"] != self.fake.bucket:
            return self._send(404, _error(404, "Not Found"))
        name = unquote(found["name"])
        if name not in self.fake.objects:
            return self._send(404, _error(404, f"No such object: {self.fake.bucket}/{name}"))
        data, generation, content_type = self.fake.objects[name]
        if parse_qs(parts.query).get("alt", [""])[0] == "media":
            crc, md5 = hashes(data)
            headers = {
                "Content-Type": content_type,
                "X-Goog-Generation": str(generation),
                "X-Goog-Hash": f"crc32c={crc},md5={md5}",
            }
            return self._send(200, data, headers)
        return self._json(200, self.fake.resource(name))

    def do_DELETE(self) -> None:
        parts = urlsplit(self.path)
        self.fake.requests.append(("DELETE", parts.path))
        found = _OBJECT.match(parts.path)
        if not found or found["bucket"] != self.fake.bucket:
            return self._send(404, _error(404, "Not Found"))
        name = unquote(found["name"])
        with self.fake._lock:
            if self.fake.objects.pop(name, None) is None:
                return self._send(404, _error(404, f"No such object: {self.fake.bucket}/{name}"))
        return self._send(204, b"", {})


@contextmanager
def serve_gcs(fake: FakeGcs) -> Iterator[str]:
    """Serve ``fake`` on a free loopback port; yield its base URL (the client's api_endpoint)."""
    handler = type("BoundGcsHandler", (_Handler,), {"fake": fake, "base": ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_port}"
    handler.base = base
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
