"""App preview pieces without a seat: origins, codes and sessions (injected clock), and the
``/proc/net/tcp`` parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from workspace_agent.preview.grants import CODE_TTL, SESSION_IDLE, PreviewGrants, Viewer
from workspace_agent.preview.origins import PreviewOrigins, PreviewTarget
from workspace_agent.preview.ports import parse_listening
from workspace_agent.settings import AgentSettings


def origins(public_url: str, workshop: str = "wab12cd34ef") -> PreviewOrigins:
    return PreviewOrigins(
        AgentSettings(workshop_id=workshop, seats=(1, 2), public_url=public_url, gateway=False)
    )


def test_local_origins_are_localhost_subdomains_on_the_agent_port() -> None:
    local = origins("http://127.0.0.1:8123")
    assert local.origin(2, 3000) == "http://p3000-s2-wab12cd34ef.localhost:8123"
    assert not local.secure
    assert local.parse("p3000-s2-wab12cd34ef.localhost:8123") == PreviewTarget(2, 3000)
    assert local.parse("P3000-S2-WAB12CD34EF.LOCALHOST.") == PreviewTarget(2, 3000)
    for host in ("127.0.0.1:8123", "localhost:8123", "wab12cd34ef.localhost",
                 "p3000-s2-wother00000.localhost", "p3000-s02-wab12cd34ef.localhost",
                 "p999-s2-wab12cd34ef.localhost", "p65536-s2-wab12cd34ef.localhost",
                 "x.p3000-s2-wab12cd34ef.localhost", "[::1]:8123"):  # fmt: skip
        assert local.parse(host) is None, host
    assert not local.is_preview_host("127.0.0.1:8123")
    assert local.is_preview_host("anything-wab12cd34ef.localhost:8123")


def test_gcp_origins_are_subdomains_of_the_host_name() -> None:
    gcp = origins("https://h0-wab12cd34ef.hosts.example.com")
    assert gcp.origin(1, 5173) == "https://p5173-s1.h0-wab12cd34ef.hosts.example.com"
    assert gcp.secure
    assert gcp.parse("p5173-s1.h0-wab12cd34ef.hosts.example.com") == PreviewTarget(1, 5173)
    for host in ("h0-wab12cd34ef.hosts.example.com", "p5173-s1.h1-wab12cd34ef.hosts.example.com",
                 "p5173-s1.h0-wab12cd34ef.hosts.example.com.evil.test",
                 "a.p5173-s1.h0-wab12cd34ef.hosts.example.com"):  # fmt: skip
        assert gcp.parse(host) is None, host
    assert not gcp.is_preview_host("h0-wab12cd34ef.hosts.example.com")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_codes_are_single_use_short_lived_and_bound_to_seat_and_port() -> None:
    clock = Clock()
    grants = PreviewGrants(clock)
    viewer = Viewer(1, 3000, instructor=False, issued_at=1)
    code = grants.issue_code(viewer)
    assert grants.redeem(code, 2, 3000) is None  # another seat's origin (and now spent)
    assert grants.redeem(code, 1, 3000) is None
    code = grants.issue_code(viewer)
    assert grants.redeem(code, 1, 3000) == viewer
    assert grants.redeem(code, 1, 3000) is None
    late = grants.issue_code(viewer)
    clock.now += CODE_TTL
    assert grants.redeem(late, 1, 3000) is None


def test_sessions_expire_when_idle_and_follow_sharing() -> None:
    clock = Clock()
    grants = PreviewGrants(clock)
    learner = grants.start_session(Viewer(1, 3000, instructor=False, issued_at=1))
    assert grants.session(learner, 1, 3000) is not None
    assert grants.session(learner, 1, 3001) is None and grants.session(learner, 2, 3000) is None
    clock.now += SESSION_IDLE - 1
    assert grants.session(learner, 1, 3000) is not None  # used: the idle clock restarts
    clock.now += SESSION_IDLE - 1
    assert grants.session(learner, 1, 3000) is not None
    clock.now += SESSION_IDLE
    assert grants.session(learner, 1, 3000) is None

    teacher = Viewer(1, 3000, instructor=True, issued_at=1)
    assert grants.redeem(grants.issue_code(teacher), 1, 3000) is None  # not shared
    grants.share(1, 3000, True)
    value = grants.start_session(teacher)
    assert grants.session(value, 1, 3000) == teacher
    grants.share(1, 3000, False)
    assert grants.session(value, 1, 3000) is None


def test_one_seat_cannot_evict_another_seats_sessions() -> None:
    grants = PreviewGrants(Clock())
    other = grants.start_session(Viewer(2, 3000, instructor=False, issued_at=1))
    for _ in range(1000):
        grants.start_session(Viewer(1, 3000, instructor=False, issued_at=1))
    assert grants.session(other, 2, 3000) is not None


def test_listening_ports_parser() -> None:
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0\n"
        "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0\n"
        "   2: 0100007F:A5B2 0100007F:0BB8 01 00000000:00000000 00:00000000 00000000 0\n"
    )
    assert parse_listening(table) == {3000, 8080}


def test_the_launcher_announces_and_withdraws_the_sandbox(tmp_path: Path) -> None:
    from workspace_agent.runtimes import netns_launch

    path = str(tmp_path / "netns.pid")
    netns_launch._announce(path, 1)
    pid, started = Path(path).read_text().split()
    assert int(pid) == 1 and started == netns_launch._start_time(1)
    netns_launch._withdraw(path, 2)  # another sandbox's: kept
    assert Path(path).exists()
    netns_launch._withdraw(path, 1)
    assert not Path(path).exists()


@pytest.mark.parametrize("raw", ["", "abc", "3000", "p3000", "012"])
def test_garbage_hosts_are_not_previews(raw: str) -> None:
    assert origins("http://127.0.0.1:1").parse(raw) is None


def test_the_namespace_helper_joins_a_sandbox_user_namespace_when_not_root() -> None:
    """A non-root agent's path (``--userns``): run as ``nobody`` against an unprivileged
    bubblewrap sandbox; the helper's socket reaches the server on the sandbox's loopback."""
    import os
    import shutil
    import subprocess
    import tempfile

    from tests.support.net import free_port, port_open

    setpriv, bwrap = shutil.which("setpriv"), shutil.which("bwrap")
    if (
        os.geteuid() != 0
        or setpriv is None
        or bwrap is None
        or not Path("/usr/bin/python3").exists()
    ):
        pytest.skip("needs root (to become nobody), setpriv and bwrap")
    here = Path(__file__).parent
    helper = here.parent.parent / "workspace_agent" / "preview" / "netns_connect.py"
    scratch = Path(tempfile.mkdtemp(prefix="ct-pv-userns-"))  # pytest's tmp is root-only
    scratch.chmod(0o777)
    port = free_port()
    try:
        done = subprocess.run(
            [
                setpriv,
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/python3",
                str(here / "netns_helper_probe.py"),
                str(helper),
                str(here / "seat_servers.py"),
                str(port),
                str(scratch),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert done.stdout.strip() == "HTTP/1.1 200 OK", (done.stdout, done.stderr)
    assert not port_open("127.0.0.1", port)
