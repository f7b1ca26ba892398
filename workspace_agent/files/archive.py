"""``GET /seats/{seat}/archive.zip``: the whole workspace as a zip, streamed.

``zipfile`` is synchronous, so it runs in a worker thread writing into a file-like object that
hands each chunk to the event loop and *waits* until the response accepted it: memory stays at
one chunk however slow the client, and a client that goes away stops the walk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import zipfile
from concurrent.futures import Future

from aiohttp import web

from workspace_agent.files.safe_fs import SeatFS

CHUNK = 256 * 1024


class _LoopWriter:
    """A write-only, unseekable file whose bytes go to ``response.write`` on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, response: web.StreamResponse) -> None:
        self._loop = loop
        self._response = response
        self._buffer = bytearray()
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._offset += len(data)
        if len(self._buffer) >= CHUNK:
            self.flush()
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        if self._buffer:
            chunk, self._buffer = bytes(self._buffer), bytearray()
            future: Future[None] = asyncio.run_coroutine_threadsafe(
                self._response.write(chunk), self._loop
            )
            future.result()  # backpressure: the thread waits for the socket

    def close(self) -> None:
        self.flush()


def _write_zip(fs: SeatFS, out: _LoopWriter) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:  # type: ignore[arg-type]
        for rel, fd, st in fs.walk_files():
            try:
                info = zipfile.ZipInfo(rel, date_time=_zip_time(st.st_mtime))
                info.external_attr = (st.st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as dest:
                    while block := os.read(fd, CHUNK):
                        dest.write(block)
            finally:
                os.close(fd)
    out.flush()


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(max(mtime, 315532800))  # zip cannot represent dates before 1980
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


async def stream_archive(request: web.Request, fs: SeatFS, seat: int) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="seat{seat}-workspace.zip"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(ConnectionError):
        await loop.run_in_executor(None, _write_zip, fs, _LoopWriter(loop, response))
        await response.write_eof()
    return response
