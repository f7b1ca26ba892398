"""Reading request bodies with a size cap in aiohttp handlers (local platform and agent).

``StreamReader.read(n)`` returns what is already buffered, up to ``n`` bytes, not ``n``
bytes: a body that arrives in several TCP segments must be read in a loop, or it is cut short.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import StreamReader


class _Request(Protocol):
    @property
    def content(self) -> StreamReader: ...

    @property
    def content_length(self) -> int | None: ...


async def read_capped(request: _Request, limit: int) -> bytes:
    """The whole body if it has at most ``limit`` bytes; otherwise ``limit + 1`` bytes.

    Callers answer 413 when ``len(result) > limit``. A declared ``Content-Length`` above the
    limit is refused without reading the stream (the result is ``limit + 1`` zero bytes).
    """
    cap = limit + 1
    if request.content_length is not None and request.content_length >= cap:
        return b"\0" * cap
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await request.content.read(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
