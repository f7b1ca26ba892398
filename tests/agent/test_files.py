"""The files API (docs/protocol.md §3): every operation, content headers and limits."""

from __future__ import annotations

import io
import os
import zipfile
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import Tokens
from workspace_agent.settings import AgentSettings

Client = TestClient[Any, Any]


@pytest.fixture
def auth(tokens: Tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.learner(1)}"}


async def put(
    agent: Client, auth: dict[str, str], path: str, body: bytes
) -> aiohttp.ClientResponse:
    return await agent.put("/seats/1/files/content", params={"path": path}, data=body, headers=auth)


async def test_write_read_stat_and_list(agent: Client, auth: dict[str, str]) -> None:
    assert (
        await agent.post("/seats/1/files/mkdir", params={"path": "src"}, headers=auth)
    ).status == 201
    written = await put(agent, auth, "src/main.py", b"print('hi')\n")
    assert written.status == 200
    assert (await written.json())["path"] == "src/main.py"
    read = await agent.get("/seats/1/files/content", params={"path": "src/main.py"}, headers=auth)
    assert await read.read() == b"print('hi')\n"
    assert read.headers["X-Content-Type-Options"] == "nosniff"
    stat = await (
        await agent.get("/seats/1/files/stat", params={"path": "src/main.py"}, headers=auth)
    ).json()
    assert stat["type"] == "file" and stat["size"] == 12 and stat["name"] == "main.py"
    listing = await (await agent.get("/seats/1/files", params={"path": "src"}, headers=auth)).json()
    assert listing["path"] == "src"
    assert [(e["name"], e["type"], e["path"]) for e in listing["entries"]] == [
        ("main.py", "file", "src/main.py")
    ]
    root = await (await agent.get("/seats/1/files", headers=auth)).json()
    assert {"name": "src", "type": "dir"}.items() <= root["entries"][-1].items() or any(
        e["name"] == "src" and e["type"] == "dir" for e in root["entries"]
    )


async def test_write_is_atomic_and_replaces(
    agent: Client, auth: dict[str, str], settings: AgentSettings
) -> None:
    await put(agent, auth, "notes.txt", b"one")
    await put(agent, auth, "notes.txt", b"two")
    assert (settings.workspace(1) / "notes.txt").read_bytes() == b"two"
    assert not [n for n in os.listdir(settings.workspace(1)) if n.endswith(".tmp")]


async def test_html_and_svg_are_downloads_with_sandbox_csp(
    agent: Client, auth: dict[str, str]
) -> None:
    for name in ("page.html", "logo.svg"):
        await put(agent, auth, name, b"<script>alert(1)</script>")
        resp = await agent.get("/seats/1/files/content", params={"path": name}, headers=auth)
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "name",
    ["line\nbreak", "semi;colon", "$(touch pwned)", "-rf", "~user", "%2e%2e", "sp ace", "ünïcødé"],
)
async def test_odd_names_are_stored_literally(
    agent: Client, auth: dict[str, str], settings: AgentSettings, name: str
) -> None:
    resp = await put(agent, auth, name, b"literal")
    assert resp.status == 200
    assert (settings.workspace(1) / name).read_bytes() == b"literal"
    assert not (settings.workspace(1) / "pwned").exists()
    listing = await (await agent.get("/seats/1/files", headers=auth)).json()
    assert name in [e["name"] for e in listing["entries"]]


async def test_rename_respects_overwrite(agent: Client, auth: dict[str, str]) -> None:
    await put(agent, auth, "a.txt", b"a")
    await put(agent, auth, "b.txt", b"b")
    body = {"from": "a.txt", "to": "b.txt"}
    conflict = await agent.post("/seats/1/files/rename", json=body, headers=auth)
    assert conflict.status == 409
    moved = await agent.post(
        "/seats/1/files/rename", json={**body, "overwrite": True}, headers=auth
    )
    assert moved.status == 200 and (await moved.json())["path"] == "b.txt"
    gone = await agent.get("/seats/1/files/stat", params={"path": "a.txt"}, headers=auth)
    assert gone.status == 404
    for bad in [
        [],
        {"from": 1, "to": "x"},
        {"from": "b.txt"},
        {"from": "b.txt", "to": "c", "overwrite": "yes"},
    ]:
        resp = await agent.post("/seats/1/files/rename", json=bad, headers=auth)
        assert resp.status == 400, bad
    junk = await agent.post("/seats/1/files/rename", data=b"{nope", headers=auth)
    assert junk.status == 400


async def test_delete_files_and_directories(
    agent: Client, auth: dict[str, str], settings: AgentSettings
) -> None:
    await agent.post("/seats/1/files/mkdir", params={"path": "d"}, headers=auth)
    await put(agent, auth, "d/f.txt", b"x")
    refused = await agent.delete("/seats/1/files", params={"path": "d"}, headers=auth)
    assert refused.status == 409
    ok = await agent.delete("/seats/1/files", params={"path": "d", "recursive": "1"}, headers=auth)
    assert ok.status == 204 and not (settings.workspace(1) / "d").exists()
    missing = await agent.delete("/seats/1/files", params={"path": "nope"}, headers=auth)
    assert missing.status == 404


@pytest.mark.parametrize("path", ["", ".", "./", "/", "//", "./."])
async def test_deleting_the_root_is_refused(
    agent: Client, auth: dict[str, str], settings: AgentSettings, path: str
) -> None:
    await put(agent, auth, "keep.txt", b"k")
    resp = await agent.delete(
        "/seats/1/files", params={"path": path, "recursive": "1"}, headers=auth
    )
    assert resp.status == 400
    assert (settings.workspace(1) / "keep.txt").exists()


async def test_mkdir_conflict_and_missing_parent(agent: Client, auth: dict[str, str]) -> None:
    assert (
        await agent.post("/seats/1/files/mkdir", params={"path": "x"}, headers=auth)
    ).status == 201
    assert (
        await agent.post("/seats/1/files/mkdir", params={"path": "x"}, headers=auth)
    ).status == 409
    orphan = await agent.post("/seats/1/files/mkdir", params={"path": "no/such/x"}, headers=auth)
    assert orphan.status == 404


async def test_size_limits_give_413(
    agent: Client, auth: dict[str, str], settings: AgentSettings
) -> None:
    big = b"x" * (settings.max_write_bytes + 1)
    assert (await put(agent, auth, "big.bin", big)).status == 413

    async def chunked() -> Any:  # no Content-Length: the limit is enforced while streaming
        for _ in range(settings.max_write_bytes // 65536 + 2):
            yield b"y" * 65536

    streamed = await agent.put(
        "/seats/1/files/content", params={"path": "big2.bin"}, data=chunked(), headers=auth
    )
    assert streamed.status == 413
    form = aiohttp.FormData()
    form.add_field("file", big, filename="up.bin")
    up = await agent.post("/seats/1/files/upload", data=form, headers=auth)
    assert up.status == 413
    leftovers = os.listdir(settings.workspace(1))
    assert not [n for n in leftovers if "big" in n or "up.bin" in n or n.endswith(".tmp")]


async def test_upload_and_archive(
    agent: Client, auth: dict[str, str], settings: AgentSettings
) -> None:
    await agent.post("/seats/1/files/mkdir", params={"path": "in"}, headers=auth)
    form = aiohttp.FormData()
    form.add_field("file", b"one", filename="1.txt")
    form.add_field("file", b"two", filename="2.txt")
    up = await agent.post("/seats/1/files/upload", params={"path": "in"}, data=form, headers=auth)
    assert up.status == 201
    assert [e["path"] for e in (await up.json())["entries"]] == ["in/1.txt", "in/2.txt"]
    for evil in ("../escape.txt", "sub/dir.txt", "/abs.txt", ".."):
        body = (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="'
            + evil.encode()
            + b'"\r\n\r\nx\r\n--B--\r\n'
        )
        sneaky = await agent.post(
            "/seats/1/files/upload",
            data=body,
            headers={**auth, "Content-Type": "multipart/form-data; boundary=B"},
        )
        if sneaky.status == 201:  # aiohttp already reduced it to a plain name: stays inside
            (entry,) = (await sneaky.json())["entries"]
            assert "/" not in entry["path"] and ".." not in entry["path"], evil
        else:
            assert sneaky.status in (400, 403), evil
    assert not (settings.workspace(1).parent / "escape.txt").exists()
    archive = await agent.get("/seats/1/archive.zip", headers=auth)
    assert archive.status == 200 and archive.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await archive.read())) as zf:
        assert zf.read("in/1.txt") == b"one" and zf.read("in/2.txt") == b"two"


async def test_errors_are_json_never_500(agent: Client, auth: dict[str, str]) -> None:
    cases = [
        ("GET", "/seats/1/files/content", {"path": "nope"}, 404),
        ("GET", "/seats/1/files/content", {"path": ""}, 400),
        ("GET", "/seats/1/files", {"path": "nope"}, 404),
        ("POST", "/seats/1/files/upload", {}, 400),
    ]
    for method, url, params, status in cases:
        resp = await agent.request(method, url, params=params, headers=auth)
        assert resp.status == status, (url, params)
        body = await resp.json()
        assert set(body["error"]) >= {"code", "message"}
