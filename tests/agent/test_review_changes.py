"""The "Changes" view's API (issue 21): files changed since the learner last looked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import Tokens
from tests.support.wait import async_wait_for
from workspace_agent.settings import AgentSettings

Client = TestClient[Any, Any]


@pytest.fixture
def auth(tokens: Tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.learner(1)}"}


async def changes(agent: Client, auth: dict[str, str]) -> dict[str, str]:
    response = await agent.get("/seats/1/changes", headers=auth)
    assert response.status == 200
    return {c["path"]: c["status"] for c in (await response.json())["files"]}


async def test_added_modified_deleted_since_the_base_then_reviewed(
    agent: Client, auth: dict[str, str], settings: AgentSettings
) -> None:
    root = settings.workspace(1)
    base_dir = settings.seats_dir / "1" / "review-base"
    await async_wait_for(lambda: (base_dir / "manifest.json").is_file(), message="first base")
    (root / "keep.py").write_text("same\n")
    (root / "edit.py").write_text("old\n")
    (root / "gone.py").write_text("bye\n")
    assert (await agent.post("/seats/1/changes/reviewed", headers=auth)).status == 200
    assert await changes(agent, auth) == {}

    (root / "edit.py").write_text("new\n")
    (root / "gone.py").unlink()
    (root / "src").mkdir()
    (root / "src" / "new.py").write_text("fresh\n")
    (root / "keep.py").touch()  # touched, same bytes: not a change
    (root / "node_modules").mkdir()
    (root / "node_modules" / "dep.js").write_text("ignored\n")
    assert await changes(agent, auth) == {
        "edit.py": "modified",
        "gone.py": "deleted",
        "src/new.py": "added",
    }
    original = await agent.get(
        "/seats/1/changes/original", params={"path": "edit.py"}, headers=auth
    )
    assert await original.read() == b"old\n"
    missing = await agent.get(
        "/seats/1/changes/original", params={"path": "src/new.py"}, headers=auth
    )
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_in_base"
    assert (await agent.post("/seats/1/changes/reviewed", headers=auth)).status == 200
    assert await changes(agent, auth) == {}


async def test_links_out_of_the_workspace_are_not_snapshotted(
    agent: Client, auth: dict[str, str], settings: AgentSettings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours\n")
    root = settings.workspace(1)
    (root / "escape").symlink_to(outside)
    (root / "file-link").symlink_to(outside / "secret.txt")
    assert (await agent.post("/seats/1/changes/reviewed", headers=auth)).status == 200
    blobs = list((settings.seats_dir / "1" / "review-base" / "blobs").iterdir())
    assert all(b.read_bytes() != b"not yours\n" for b in blobs)
    assert await changes(agent, auth) == {}
    for path in ("escape/secret.txt", "file-link", "../x"):
        response = await agent.get("/seats/1/changes/original", params={"path": path}, headers=auth)
        assert response.status in (403, 404), path


async def test_auth_rules(agent: Client, tokens: Tokens) -> None:
    assert (await agent.get("/seats/1/changes")).status == 401
    other = {"Authorization": f"Bearer {tokens.learner(2)}"}
    assert (await agent.get("/seats/1/changes", headers=other)).status == 403
    teacher = {"Authorization": f"Bearer {tokens.instructor()}"}
    assert (await agent.get("/seats/1/changes", headers=teacher)).status == 200
    refused = await agent.post("/seats/1/changes/reviewed", headers=teacher)
    assert refused.status == 403
