"""``WS /seats/{seat}/watch`` (issue 21): the seat's changes pushed to a page, bounded.

Real inotify on the real workspace. Every wait is a deadline; the rate cap is checked as an
upper bound on messages for the time that passed (always true if the cap holds, however
loaded the machine is), never as a timing assertion.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import WEB_ORIGIN, Tokens
from tests.support.wait import async_wait_for
from workspace_agent.settings import AgentSettings
from workspace_agent.watch.hub import WatchHub, WatchLimits
from workspace_agent.watch.routes import HUB, WATCH_SUBPROTOCOL

Client = TestClient[Any, Any]


def inotify_watches() -> int:
    """Kernel inotify watches held by this process: ``inotify wd:`` lines in fdinfo."""
    total = 0
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            with open(f"/proc/self/fdinfo/{fd}") as info:
                total += sum(1 for line in info if line.startswith("inotify wd:"))
        except OSError:
            continue
    return total


class Page:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.paths: set[str] = set()

    @classmethod
    async def open(cls, agent: Client, token: str, seat: int = 1, **kw: Any) -> Page:
        ws = await agent.ws_connect(
            f"/seats/{seat}/watch", protocols=(WATCH_SUBPROTOCOL, f"bearer.{token}"), **kw
        )
        page = cls(ws)
        hello = json.loads((await ws.receive(timeout=10)).data)
        assert hello["type"] == "hello" and "node_modules" in hello["excluded"]
        return page

    async def pump(self, timeout: float = 0.05) -> None:
        try:
            message = await self.ws.receive(timeout=timeout)
        except TimeoutError:
            return
        if message.type is aiohttp.WSMsgType.TEXT:
            body = json.loads(message.data)
            self.messages.append(body)
            self.paths.update(body.get("paths", []))

    async def until(self, predicate: Any, message: str, timeout: float = 10) -> None:
        async def check() -> bool:
            await self.pump()
            return bool(predicate())

        await async_wait_for(check, timeout=timeout, message=message)


def count_real_dirs(root: Path) -> int:
    """The root and every real directory under it, not the links to outside."""
    return 1 + sum(
        1 for top, dirs, _ in os.walk(root) for d in dirs if not Path(top, d).is_symlink()
    )


def workspace(settings: AgentSettings) -> Path:
    return settings.workspace(1)


async def test_create_write_delete_and_nested_dirs_are_pushed(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    page = await Page.open(agent, tokens.learner(1))
    root = workspace(settings)
    (root / "app.py").write_text("x = 1\n")
    await page.until(lambda: "app.py" in page.paths, "create pushed")
    (root / "pkg" / "sub").mkdir(parents=True)  # created before its watch exists
    (root / "pkg" / "sub" / "mod.py").write_text("y = 2\n")
    await page.until(lambda: "pkg/sub/mod.py" in page.paths, "file in a new nested dir")
    page.paths.clear()
    (root / "pkg" / "sub" / "mod.py").write_text("y = 3\n")
    await page.until(lambda: "pkg/sub/mod.py" in page.paths, "write in a new dir pushed")
    page.paths.clear()
    (root / "pkg").rename(root / "lib")
    await page.until(lambda: {"pkg", "lib"} <= page.paths, "dir move pushed")
    page.paths.clear()
    (root / "lib" / "sub" / "mod.py").unlink()
    await page.until(lambda: "lib/sub/mod.py" in page.paths, "moved dir is watched at its new path")
    await page.ws.close()


async def test_refusals_before_upgrade(agent: Client, tokens: Tokens) -> None:
    cases = [
        ({"protocols": (WATCH_SUBPROTOCOL,)}, 401),
        ({"protocols": (WATCH_SUBPROTOCOL, f"bearer.{tokens.learner(2)}")}, 403),
        ({"protocols": ("clarateach.terminal.v1", f"bearer.{tokens.learner(1)}")}, 401),
        (
            {
                "protocols": (WATCH_SUBPROTOCOL, f"bearer.{tokens.learner(1)}"),
                "headers": {"Origin": "https://evil.example"},
            },
            403,
        ),
    ]
    for kw, status in cases:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await agent.ws_connect("/seats/1/watch", **kw)
        assert refused.value.status == status, kw
    # a token in the URL is never read
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await agent.ws_connect(
            f"/seats/1/watch?token={tokens.learner(1)}", protocols=(WATCH_SUBPROTOCOL,)
        )
    assert refused.value.status == 401
    page = await Page.open(agent, tokens.learner(1), headers={"Origin": WEB_ORIGIN})
    await page.ws.close()


async def test_excluded_dirs_are_listed_but_not_watched(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    page = await Page.open(agent, tokens.learner(1))
    root = workspace(settings)
    (root / "node_modules" / "left-pad").mkdir(parents=True)
    (root / ".git" / "objects").mkdir(parents=True)
    (root / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
    (root / ".git" / "objects" / "ab").write_text("blob")
    (root / "marker.txt").write_text("after the excluded writes\n")
    await page.until(lambda: "marker.txt" in page.paths, "marker pushed")
    assert {"node_modules", ".git"} <= page.paths  # their entries do show in the tree
    assert not [p for p in page.paths if p.startswith(("node_modules/", ".git/"))]
    await page.ws.close()


async def test_symlinks_out_of_the_workspace_are_not_followed(
    agent: Client, tokens: Tokens, settings: AgentSettings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    root = workspace(settings)
    (root / "real").mkdir()
    (root / "escape").symlink_to(outside)
    (root / "real" / "escape2").symlink_to(outside / "deep")
    before = inotify_watches()
    page = await Page.open(agent, tokens.learner(1))
    hub: WatchHub = agent.app[HUB]
    seat_watch = hub._seats[1]
    real_dirs = count_real_dirs(root)
    assert real_dirs == 2
    assert seat_watch.watch_count == real_dirs
    assert inotify_watches() - before == real_dirs
    (outside / "secret.txt").write_text("not yours\n")
    (outside / "deep" / "secret.txt").write_text("not yours\n")
    (root / "marker.txt").write_text("done\n")
    await page.until(lambda: "marker.txt" in page.paths, "marker pushed")
    assert not [p for p in page.paths if "secret" in p]
    # a symlinked dir appearing later is not followed either
    (root / "late").symlink_to(outside)
    (root / "marker2.txt").write_text("done\n")
    await page.until(lambda: "marker2.txt" in page.paths, "second marker pushed")
    assert seat_watch.watch_count == real_dirs
    await page.ws.close()


async def test_watching_stops_when_the_last_page_closes_no_leak_over_100_cycles(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    root = workspace(settings)
    for i in range(5):
        (root / f"d{i}" / "inner").mkdir(parents=True)
    hub: WatchHub = agent.app[HUB]
    baseline = inotify_watches()
    token = tokens.learner(1)
    first = await Page.open(agent, token)
    second = await Page.open(agent, token)
    assert inotify_watches() - baseline == 11  # root + 10 dirs, shared by both pages
    await first.ws.close()
    await async_wait_for(lambda: hub.active_seats() == {1}, message="still watched for 2nd")
    await second.ws.close()
    await async_wait_for(lambda: not hub.active_seats(), message="watch stopped")
    for _ in range(100):
        page = await Page.open(agent, token)
        await page.ws.close()
    await async_wait_for(lambda: not hub.active_seats(), message="watch stopped after cycles")
    await async_wait_for(lambda: inotify_watches() == baseline, message="no leaked watches")


async def test_git_clone_like_bursts_of_10000_files_are_coalesced_and_capped(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    limits: WatchLimits = agent.app[HUB].limits
    page = await Page.open(agent, tokens.learner(1))
    root = workspace(settings)
    started = time.monotonic()
    for d in range(100):  # a clone checks out directory after directory
        folder = root / "repo" / f"pkg{d:03}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"f{f:03}.py").write_text("x = 1\n")
        await page.pump(0)  # read what has arrived meanwhile, like a page would
    (root / "repo" / "DONE").write_text("ok\n")

    def saw_end() -> bool:
        last = page.messages[-1] if page.messages else {}
        return "repo/DONE" in page.paths or last.get("type") == "resync"

    await page.until(saw_end, "the end of the burst reached the page", timeout=30)
    elapsed = time.monotonic() - started
    assert all(len(m.get("paths", [])) <= limits.max_paths for m in page.messages)
    sent = [m for m in page.messages if m["type"] in ("changes", "resync")]
    assert len(sent) <= elapsed / limits.min_interval + 2, (len(sent), elapsed)
    assert len(sent) < 10_000 / 10  # coalesced: far fewer messages than files
    await page.ws.close()


async def test_instructor_may_watch_any_seat(agent: Client, tokens: Tokens) -> None:
    page = await Page.open(agent, tokens.instructor(), seat=2)
    await page.ws.close()


async def test_a_slow_page_gets_merged_paths_then_resync_never_a_queue() -> None:
    """A page that does not read: its pending paths merge; past ``max_paths`` one resync."""
    limits = WatchLimits(max_paths=3)
    hub = WatchHub(lambda seat: Path("/nonexistent"), limits)
    sub = await hub.subscribe(1)
    sub.offer({"a"}, resync=False, limited=False)
    sub.offer({"a", "b"}, resync=False, limited=False)
    batch = await sub.next()
    assert batch.paths == {"a", "b"} and not batch.resync
    sub.offer({"a", "b"}, resync=False, limited=False)
    sub.offer({"c", "d"}, resync=False, limited=True)
    sub.offer({"e"}, resync=False, limited=False)
    batch = await sub.next()
    assert batch.resync and not batch.paths and batch.limited
    await sub.close()
    assert not hub.active_seats()


async def test_more_changes_than_a_batch_holds_become_one_resync(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    limits: WatchLimits = agent.app[HUB].limits
    page = await Page.open(agent, tokens.learner(1))
    bulk = workspace(settings) / "bulk"
    bulk.mkdir()
    await page.until(lambda: "bulk" in page.paths, "folder pushed")
    page.messages.clear()
    for i in range(limits.max_paths * 3):  # one burst, no yielding: one pending set
        (bulk / f"f{i}.txt").write_text("x")
    await page.until(lambda: any(m["type"] == "resync" for m in page.messages), "a resync")
    assert all(len(m.get("paths", [])) <= limits.max_paths for m in page.messages)
    await page.ws.close()


async def test_token_expiry_closes_the_watch_with_4401_and_stops_watching(
    agent: Client, tokens: Tokens
) -> None:
    token = tokens.learner(1, now=int(time.time()) - 3599, ttl_seconds=3600)  # ~1 s left
    page = await Page.open(agent, token)
    message = await page.ws.receive(timeout=10)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert page.ws.close_code == 4401
    hub: WatchHub = agent.app[HUB]
    await async_wait_for(lambda: not hub.active_seats(), message="watch stopped")


async def test_sockets_per_seat_are_capped_before_upgrade(agent: Client, tokens: Tokens) -> None:
    from workspace_agent.watch.routes import MAX_SOCKETS_PER_SEAT

    token = tokens.learner(1)
    pages = [await Page.open(agent, token) for _ in range(MAX_SOCKETS_PER_SEAT)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await Page.open(agent, token)
    assert refused.value.status == 429
    for page in pages:
        await page.ws.close()
