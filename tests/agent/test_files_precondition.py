"""Saving against the version the editor started from (issue 21): ETag + If-Match → 409.

``GET /files/content`` and ``PUT /files/content`` return a strong ``ETag``; a ``PUT`` with
``If-Match`` is refused with 409 ``changed_on_disk`` when the file changed in between (the
learner's shell or Claude wrote it), and nothing is written. See RFC 9110 §13.1.1.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import WEB_ORIGIN, Tokens
from workspace_agent.settings import AgentSettings

Client = TestClient[Any, Any]


@pytest.fixture
def auth(tokens: Tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.learner(1)}"}


async def _put(agent: Client, auth: dict[str, str], body: bytes, **headers: str) -> Any:
    return await agent.put(
        "/seats/1/files/content",
        params={"path": "app.py"},
        data=body,
        headers={**auth, **headers},
    )


async def test_read_and_write_carry_the_same_etag(agent: Client, auth: dict[str, str]) -> None:
    written = await _put(agent, auth, b"v1\n")
    body = await written.json()
    assert written.headers["ETag"] == body["etag"] and body["etag"].startswith('"')
    read = await agent.get("/seats/1/files/content", params={"path": "app.py"}, headers=auth)
    assert read.headers["ETag"] == body["etag"]
    stat = await (
        await agent.get("/seats/1/files/stat", params={"path": "app.py"}, headers=auth)
    ).json()
    assert stat["etag"] == body["etag"]


async def test_save_over_a_file_changed_on_disk_is_409_and_keeps_theirs(
    agent: Client, auth: dict[str, str], settings: AgentSettings
) -> None:
    etag = (await (await _put(agent, auth, b"mine v1\n")).json())["etag"]
    target = settings.workspace(1) / "app.py"
    target.write_bytes(b"changed = True\n")  # the terminal writes in place (same inode)
    refused = await _put(agent, auth, b"mine v2\n", **{"If-Match": etag})
    assert refused.status == 409
    assert (await refused.json())["error"]["code"] == "changed_on_disk"
    assert target.read_bytes() == b"changed = True\n"
    assert not [n for n in os.listdir(target.parent) if n.endswith(".tmp")]  # temp removed


async def test_save_with_the_current_etag_succeeds_and_rotates_it(
    agent: Client, auth: dict[str, str], settings: AgentSettings
) -> None:
    etag = (await (await _put(agent, auth, b"one\n")).json())["etag"]
    saved = await _put(agent, auth, b"two\n", **{"If-Match": etag})
    assert saved.status == 200
    new = (await saved.json())["etag"]
    assert new != etag
    assert (settings.workspace(1) / "app.py").read_bytes() == b"two\n"
    stale = await _put(agent, auth, b"three\n", **{"If-Match": etag})
    assert stale.status == 409


async def test_deleted_file_fails_if_match_and_create_only_fails_when_present(
    agent: Client, auth: dict[str, str], settings: AgentSettings
) -> None:
    etag = (await (await _put(agent, auth, b"x")).json())["etag"]
    (settings.workspace(1) / "app.py").unlink()
    assert (await _put(agent, auth, b"y", **{"If-Match": etag})).status == 409
    assert (await _put(agent, auth, b"y", **{"If-Match": "*"})).status == 409
    assert (await _put(agent, auth, b"y", **{"If-None-Match": "*"})).status == 200
    exists = await _put(agent, auth, b"z", **{"If-None-Match": "*"})
    assert exists.status == 409
    assert (await exists.json())["error"]["code"] == "exists"
    assert (settings.workspace(1) / "app.py").read_bytes() == b"y"


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Match": 'W/"weak"'},
        {"If-Match": '"a", "b"'},
        {"If-None-Match": '"a"'},
        {"If-Match": "*", "If-None-Match": "*"},
    ],
)
async def test_malformed_preconditions_are_400(
    agent: Client, auth: dict[str, str], headers: dict[str, str]
) -> None:
    response = await _put(agent, auth, b"x", **headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_precondition"


async def test_browser_may_send_if_match_and_read_the_etag(agent: Client) -> None:
    preflight = await agent.options(
        "/seats/1/files/content",
        headers={
            "Origin": WEB_ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, if-match",
        },
    )
    assert "If-Match" in preflight.headers["Access-Control-Allow-Headers"]
    response = await agent.get("/seats/1/files", headers={"Origin": WEB_ORIGIN})
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
