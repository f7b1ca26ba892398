"""Security checklist, files API: traversal matrix, learner symlinks, sibling seats, races."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from tests.agent.conftest import Tokens
from tests.support.wait import async_wait_for
from workspace_agent.files import safe_fs
from workspace_agent.files.safe_fs import FsError, SeatFS
from workspace_agent.settings import AgentSettings

Client = TestClient[Any, Any]

# Raw query values, sent exactly as written (the server decodes them once).
TRAVERSALS = [
    "..",
    "../outside.txt",
    "../../outside.txt",
    "a/../../outside.txt",
    "./../outside.txt",
    "%2e%2e/outside.txt",
    "%2e%2e%2f%2e%2e%2foutside.txt",
    "%252e%252e%252foutside.txt",
    "..%5c..%5coutside.txt",
    "%5c..%5coutside.txt",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "~root/.bashrc",
    "~/../outside.txt",
    "%00",
    "ok.txt%00.png",
    "....//outside.txt",
    "..%2f..%2f..%2f..%2fetc%2fpasswd",
]


# These decode to literal names: "~root" is no home directory, "%2e%2e%2f" no parent.
LITERAL = {"~root/.bashrc", "%252e%252e%252foutside.txt"}


@pytest.fixture
def auth(tokens: Tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.learner(1)}"}


@pytest.fixture
def layout(settings: AgentSettings) -> dict[str, Path]:
    """Seat 1 and seat 10 workspaces, an outside file, and the learner's hostile links."""
    work, sibling = settings.workspace(1), settings.workspace(10)
    outside = settings.seats_dir / "outside.txt"
    outside.write_text("outside")
    outside_dir = settings.state_dir / "outside-dir"
    outside_dir.mkdir()
    (outside_dir / "keep.txt").write_text("keep")
    (sibling / "secret.txt").write_text("seat 10 secret")
    (work / "sub").mkdir()
    (work / "sub" / "ok.txt").write_text("ok")
    links = {
        "etc": "/etc",
        "passwd": "/etc/passwd",
        "sib": str(sibling.resolve()),
        "sibrel": "../../10/work",
        "outlink": str(outside.resolve()),
        "outdir": str(outside_dir.resolve()),
        "inside": "sub",
        "abs_inside": str((work / "sub").resolve()),
        "broken": "does-not-exist",
        "loop1": "loop2",
        "loop2": "loop1",
        "sneaky": "sub/../../../outside.txt",
    }
    for name, target in links.items():
        os.symlink(target, work / name)
    return {"work": work, "sibling": sibling, "outside": outside, "outside_dir": outside_dir}


def snapshot(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if not path.is_symlink() and path.is_file():
                out[str(path)] = path.read_bytes()
    return out


def url(path: str, raw_query: str) -> URL:
    return URL(f"{path}?{raw_query}", encoded=True)


async def test_traversal_matrix_touches_nothing_outside(
    agent: Client, auth: dict[str, str], settings: AgentSettings, layout: dict[str, Path]
) -> None:
    # The agent's first review bases (seats/N/review-base, outside the workspace) are written
    # in the background once the seats are up; only changes made after them are the matrix's.
    await async_wait_for(
        lambda: all(
            (settings.seats_dir / str(seat) / "review-base" / "manifest.json").is_file()
            for seat in settings.seats
        ),
        timeout=30,
        message="the first review bases",
    )
    before = snapshot(settings.state_dir)
    outside_entries = sorted(os.listdir(settings.seats_dir))
    for raw in TRAVERSALS:
        q = f"path={raw}"
        calls = [
            ("GET", url("/seats/1/files", q), None),
            ("GET", url("/seats/1/files/stat", q), None),
            ("GET", url("/seats/1/files/content", q), None),
            ("PUT", url("/seats/1/files/content", q), b"pwned"),
            ("POST", url("/seats/1/files/mkdir", q), None),
            ("DELETE", url("/seats/1/files", q + "&recursive=1"), None),
        ]
        for method, target, body in calls:
            resp = await agent.request(method, target, data=body, headers=auth)
            if raw in LITERAL:  # names inside the workspace, created and deleted like any other
                assert resp.status in (200, 201, 204, 404, 409), (method, raw, resp.status)
                continue
            assert resp.status in (400, 403, 404), (method, raw, resp.status)
            assert (await resp.json())["error"]["code"]
        if raw in LITERAL:
            continue
        decoded = unquote(raw)
        for body_json in ({"from": decoded, "to": "moved"}, {"from": "sub/ok.txt", "to": decoded}):
            resp = await agent.post("/seats/1/files/rename", json=body_json, headers=auth)
            assert resp.status in (400, 403, 404, 409), (body_json, resp.status)
    after = snapshot(settings.state_dir)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert all(Path(k).is_relative_to(layout["work"]) for k in changed), changed
    assert sorted(os.listdir(settings.seats_dir)) == outside_entries
    assert layout["outside"].read_text() == "outside"


@pytest.mark.parametrize(
    "path",
    [
        "passwd",
        "etc/hostname",
        "sib/secret.txt",
        "sibrel/secret.txt",
        "outlink",
        "sneaky",
        "outdir/keep.txt",
    ],
)
async def test_links_leading_out_are_refused_for_read_and_stat(
    agent: Client, auth: dict[str, str], layout: dict[str, Path], path: str
) -> None:
    resp = await agent.get("/seats/1/files/content", params={"path": path}, headers=auth)
    assert resp.status == 403
    body = await resp.json()
    assert body["error"]["code"] in ("outside_workspace", "symlink_refused")
    assert "secret" not in await resp.text() and "root:" not in await resp.text()


@pytest.mark.parametrize("path", ["etc", "sib", "sibrel", "outdir"])
async def test_listing_through_links_leading_out_is_refused(
    agent: Client, auth: dict[str, str], layout: dict[str, Path], path: str
) -> None:
    resp = await agent.get("/seats/1/files", params={"path": path}, headers=auth)
    assert resp.status == 403


@pytest.mark.parametrize(
    "path", ["outlink", "sib/new.txt", "outdir/keep.txt", "outdir/new.txt", "inside/new.txt"]
)
async def test_writes_never_follow_learner_links(
    agent: Client, auth: dict[str, str], layout: dict[str, Path], path: str
) -> None:
    resp = await agent.put(
        "/seats/1/files/content", params={"path": path}, data=b"pwned", headers=auth
    )
    assert resp.status == 403
    assert layout["outside"].read_text() == "outside"
    assert (layout["outside_dir"] / "keep.txt").read_text() == "keep"
    assert not (layout["sibling"] / "new.txt").exists()
    assert not (layout["outside_dir"] / "new.txt").exists()


async def test_delete_removes_links_not_targets(
    agent: Client, auth: dict[str, str], layout: dict[str, Path]
) -> None:
    for link in ("outlink", "outdir", "sib"):
        resp = await agent.delete(
            "/seats/1/files", params={"path": link, "recursive": "1"}, headers=auth
        )
        assert resp.status == 204
        assert not (layout["work"] / link).is_symlink()
    through = await agent.delete("/seats/1/files", params={"path": "etc/hostname"}, headers=auth)
    assert through.status == 403
    assert layout["outside"].read_text() == "outside"
    assert (layout["outside_dir"] / "keep.txt").exists()
    assert (layout["sibling"] / "secret.txt").exists()


async def test_recursive_delete_does_not_cross_links(
    agent: Client, auth: dict[str, str], layout: dict[str, Path]
) -> None:
    nest = layout["work"] / "nest"
    nest.mkdir()
    os.symlink(layout["outside_dir"].resolve(), nest / "escape")
    os.symlink(layout["sibling"].resolve(), nest / "sibling")
    resp = await agent.delete(
        "/seats/1/files", params={"path": "nest", "recursive": "1"}, headers=auth
    )
    assert resp.status == 204 and not nest.exists()
    assert (layout["outside_dir"] / "keep.txt").read_text() == "keep"
    assert (layout["sibling"] / "secret.txt").exists()


async def test_rename_cannot_move_through_links(
    agent: Client, auth: dict[str, str], layout: dict[str, Path]
) -> None:
    steal = await agent.post(
        "/seats/1/files/rename", json={"from": "sib/secret.txt", "to": "stolen.txt"}, headers=auth
    )
    assert steal.status == 403
    plant = await agent.post(
        "/seats/1/files/rename",
        json={"from": "sub/ok.txt", "to": "outdir/planted.txt"},
        headers=auth,
    )
    assert plant.status == 403
    assert not (layout["outside_dir"] / "planted.txt").exists()


async def test_links_inside_the_workspace_work_and_odd_links_do_not_break_listing(
    agent: Client, auth: dict[str, str], layout: dict[str, Path]
) -> None:
    for path in ("inside/ok.txt", "abs_inside/ok.txt"):
        resp = await agent.get("/seats/1/files/content", params={"path": path}, headers=auth)
        assert resp.status == 200 and await resp.read() == b"ok"
    listing = await agent.get("/seats/1/files", headers=auth)
    assert listing.status == 200
    types = {e["name"]: e["type"] for e in (await listing.json())["entries"]}
    assert types["broken"] == types["loop1"] == types["etc"] == "symlink"
    assert types["sub"] == "dir"
    loop = await agent.get("/seats/1/files/content", params={"path": "loop1"}, headers=auth)
    assert loop.status in (400, 403)
    broken = await agent.get("/seats/1/files/content", params={"path": "broken"}, headers=auth)
    assert broken.status == 404


async def test_sibling_seat_with_shared_prefix_is_unreachable(
    agent: Client, tokens: Tokens, layout: dict[str, Path]
) -> None:
    # seat 1's workspace path is a string prefix of seat 10's ("…/seats/1" vs "…/seats/10").
    seat1 = {"Authorization": f"Bearer {tokens.learner(1)}"}
    resp = await agent.get("/seats/10/files/content", params={"path": "secret.txt"}, headers=seat1)
    assert resp.status == 403
    for path in ("sib/secret.txt", "sibrel/secret.txt"):
        resp = await agent.get("/seats/1/files/content", params={"path": path}, headers=seat1)
        assert resp.status == 403


def test_a_directory_swapped_for_a_link_mid_walk_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the fd discipline exists for: lstat says "directory", then the learner swaps
    it for a symlink to /etc before the open. O_NOFOLLOW makes the open fail."""
    work = tmp_path / "work"
    (work / "d").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    real_stat = os.stat
    swapped = []

    def racing_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        result = real_stat(path, *args, **kwargs)
        if path == "d" and not swapped:
            os.rmdir(work / "d")
            os.symlink(outside, work / "d")
            swapped.append(True)
        return result

    monkeypatch.setattr(safe_fs.os, "stat", racing_stat)
    with pytest.raises(FsError) as refused:
        SeatFS(work).open_for_read("d/secret")
    assert swapped and refused.value.status == 403


def test_fifo_is_not_read(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    os.mkfifo(work / "pipe")
    with pytest.raises(FsError) as refused:
        SeatFS(work).open_for_read("pipe")  # must not block waiting for a writer
    assert refused.value.status == 400
