"""``/seats/{seat}/files…`` and ``/seats/{seat}/archive.zip`` (docs/protocol.md §3).

Handlers only parse, authorise and serialise; ``SeatFS`` does every filesystem operation.
Learners act on their own seat; instructors may read any seat but never write.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import BodyPartReader, web

from workspace_agent.auth import Principal
from workspace_agent.context import CONTEXT
from workspace_agent.errors import ApiError
from workspace_agent.files.archive import stream_archive
from workspace_agent.files.content_types import content_headers
from workspace_agent.files.safe_fs import FsError, SeatFS, Stat, etag_of, parse_path
from workspace_agent.schedule.routes import ensure_downloads_allowed

routes = web.RouteTableDef()
READ_CHUNK = 256 * 1024
BODY_CHUNK = 64 * 1024


async def _reader(request: web.Request) -> tuple[Principal, SeatFS]:
    ctx = request.app[CONTEXT]
    principal = await ctx.auth.http_principal(request)
    return principal, ctx.fs(principal.seat)


async def _writer(request: web.Request) -> tuple[Principal, SeatFS]:
    principal, fs = await _reader(request)
    if principal.readonly:
        raise ApiError(403, "read_only", "instructors cannot change a learner's files")
    return principal, fs


def _path(request: web.Request, name: str = "path") -> str:
    return request.query.get(name, "")


def _fs_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except FsError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


@routes.get("/seats/{seat}/files")
async def list_dir(request: web.Request) -> web.Response:
    _, fs = await _reader(request)
    path, entries = _fs_call(fs.listdir, _path(request))
    return web.json_response({"path": path, "entries": [e.to_json() for e in entries]})


@routes.get("/seats/{seat}/files/stat")
async def stat(request: web.Request) -> web.Response:
    _, fs = await _reader(request)
    return web.json_response(_fs_call(fs.stat, _path(request)).to_json())


@routes.get("/seats/{seat}/files/content")
async def read(request: web.Request) -> web.StreamResponse:
    _, fs = await _reader(request)
    fd, name, size = _fs_call(fs.open_for_read, _path(request))
    loop = asyncio.get_running_loop()
    try:
        headers = content_headers(name, size)
        headers["ETag"] = etag_of(os.fstat(fd))
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        remaining = size  # the size at open: a file growing meanwhile is cut, never overrun
        while remaining > 0:
            block = await loop.run_in_executor(None, os.read, fd, min(READ_CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            await response.write(block)
        await response.write_eof()
        return response
    finally:
        os.close(fd)


@routes.put("/seats/{seat}/files/content")
async def write(request: web.Request) -> web.Response:
    _, fs = await _writer(request)
    limit = request.app[CONTEXT].settings.max_write_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"the file exceeds the {limit}-byte limit")
    try:
        with fs.writer(_path(request), limit, if_match=_precondition(request)) as out:
            async for chunk in request.content.iter_chunked(BODY_CHUNK):
                out.write(chunk)
            result: Stat = out.commit()
    except FsError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return web.json_response(result.to_json(), headers={"ETag": result.etag})


def _precondition(request: web.Request) -> str | None:
    """``If-Match: <etag>`` / ``If-Match: *`` (must exist) / ``If-None-Match: *`` (must not).

    The editor always sends one, so a save over a file that changed on disk is a 409, never a
    silent overwrite. Without either header the write is unconditional (uploads, scripts)."""
    if_match = request.headers.get("If-Match")
    if_none_match = request.headers.get("If-None-Match")
    if if_match is not None and if_none_match is not None:
        raise ApiError(400, "invalid_precondition", "send If-Match or If-None-Match, not both")
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise ApiError(400, "invalid_precondition", "If-None-Match must be '*'")
        return ""
    if if_match is None:
        return None
    value = if_match.strip()
    if value != "*" and (len(value) > 100 or not value.startswith('"') or "," in value):
        raise ApiError(400, "invalid_precondition", "If-Match takes one strong ETag or '*'")
    return value


@routes.post("/seats/{seat}/files/mkdir")
async def mkdir(request: web.Request) -> web.Response:
    _, fs = await _writer(request)
    return web.json_response(_fs_call(fs.mkdir, _path(request)).to_json(), status=201)


@routes.post("/seats/{seat}/files/rename")
async def rename(request: web.Request) -> web.Response:
    _, fs = await _writer(request)
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be an object")
    src, dst, overwrite = body.get("from"), body.get("to"), body.get("overwrite", False)
    if not isinstance(src, str) or not isinstance(dst, str) or not isinstance(overwrite, bool):
        raise ApiError(400, "invalid_request", "'from' and 'to' are paths, 'overwrite' a boolean")
    return web.json_response(_fs_call(fs.rename, src, dst, overwrite=overwrite).to_json())


@routes.delete("/seats/{seat}/files")
async def delete(request: web.Request) -> web.Response:
    _, fs = await _writer(request)
    _fs_call(fs.delete, _path(request), recursive=request.query.get("recursive") in ("1", "true"))
    return web.Response(status=204)


@routes.post("/seats/{seat}/files/upload")
async def upload(request: web.Request) -> web.Response:
    _, fs = await _writer(request)
    limit = request.app[CONTEXT].settings.max_write_bytes
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise ApiError(413, "too_large", f"uploads are limited to {limit} bytes")
    directory = "/".join(_fs_call(parse_path, _path(request)))
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError):
        raise ApiError(400, "invalid_multipart", "expected multipart/form-data") from None
    entries: list[dict[str, Any]] = []
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        name = part.filename or ""
        if _fs_call(parse_path, name) != [name]:
            raise ApiError(400, "invalid_filename", "upload file names must be plain names")
        target = f"{directory}/{name}" if directory else name
        try:
            with fs.writer(target, limit - total) as out:
                while chunk := await part.read_chunk(BODY_CHUNK):
                    out.write(chunk)
                entries.append(out.commit().to_json())
                total += out.size
        except FsError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
    if not entries:
        raise ApiError(400, "no_files", "no 'file' parts in the upload")
    return web.json_response({"entries": entries}, status=201)


@routes.get("/seats/{seat}/archive.zip")
async def archive(request: web.Request) -> web.StreamResponse:
    principal, fs = await _reader(request)
    ensure_downloads_allowed(request)
    return await stream_archive(request, fs, principal.seat)
