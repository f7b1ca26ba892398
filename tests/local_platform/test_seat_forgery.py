"""The seat-hijack attack of issue 16, run for real from inside a bubblewrap-sandboxed seat.

The attack, as a learner would try it: the seat's shell shares the machine's loopback, reads
``/proc/net/tcp`` to find the platform's listening ports, and POSTs a forged ``host.ready``
whose endpoint is a listener of the learner's (a Pub/Sub push envelope to every port's ``/``,
and the bare event to ``/api/hosts/events``). If any of them were believed, the provisioner
would overwrite the host's endpoint and the next learner to join would be sent to the attacker
(who then reads their learner token from the WebSocket subprotocol).

Against the code before the fix the push endpoint answered 2xx and the later joiner's endpoint
changed. Now every listener refuses (401/404) and the endpoint stays. The same script also
tries the agents' control route (``PUT /control/model-access``) on every port: refused too.

The seat script reads ``/proc/net/tcp`` itself, then POSTs to every port that belongs to this
platform's process tree (passed in by the test: the machine is shared with other test runs
whose listeners are none of our business), whether its own network namespace shows it or not.
With the isolated seat network (pasta) only the agent's port is reachable at all; the others
answer with a connection error, which counts as a refusal.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from tests.agent.terminal_client import Terminal
from tests.local_platform.process import JOIN_CODE_RE, URL_RE, LocalUp
from tests.support.net import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (./dev test)"),
]
DEMO_TIMEOUT = 90
ATTACKER = "http://127.0.0.1:1/attacker"

#: Runs inside the seat: ``python3 forge.py <workshop id> <attacker URL> <type> <ports...>``.
FORGE = r"""
import base64, datetime, json, os, sys, urllib.error, urllib.request, uuid
workshop, evil, allowed = sys.argv[1], sys.argv[2], {int(p) for p in sys.argv[4:]}
listening = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for row in open(table).read().splitlines()[1:]:
        fields = row.split()
        if fields[3] == "0A":  # TCP_LISTEN
            listening.add(int(fields[1].rsplit(":", 1)[1], 16))
print("SEAT_PID", os.getpid(), "VISIBLE_PROCS", sum(p.isdigit() for p in os.listdir("/proc")))
print("LISTENING", " ".join(map(str, sorted(listening & allowed))))
now = datetime.datetime.now(datetime.timezone.utc).isoformat()
def forge(kind, data):
    event = {"version": 1, "id": uuid.uuid4().hex, "type": kind, "workshop_id": workshop,
             "occurred_at": now, "data": {"host_index": 0, "attempt": 1, **data}}
    encoded = base64.b64encode(json.dumps(event).encode()).decode()
    envelope = {"message": {"data": encoded, "messageId": uuid.uuid4().hex, "publishTime": now,
                            "attributes": {"type": kind, "workshop_id": workshop},
                            "orderingKey": workshop},
                "subscription": "projects/local/subscriptions/provisioner"}
    return event, envelope
kind = sys.argv[3]
event, envelope = forge(kind, {"endpoint": evil, "timings": {}} if kind == "host.ready"
                        else {"reason": "forged"})
def post(url, body, method="POST"):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception as exc:
        return type(exc).__name__
for port in sorted(allowed):  # seen in /proc/net/tcp or not (a seat network hides them)
    for path, body in (("/", envelope), ("/api/hosts/events", event)):
        print("FORGED", port, path, post(f"http://127.0.0.1:{port}{path}", body))
    # The agents' control routes: the kill switch must not be reachable without a token.
    url = f"http://127.0.0.1:{port}/control/model-access"
    print("FORGED", port, "/control/model-access", post(url, {"paused": True}, "PUT"))
print("FORGERY", "DONE")
"""


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[LocalUp, str, str]]:
    run = LocalUp(tmp_path / "state", "--demo", "--port", str(free_port()))
    try:
        url = run.wait_for_line(URL_RE, timeout=30).group(1)
        code = run.wait_for_line(JOIN_CODE_RE, timeout=DEMO_TIMEOUT).group(1)
        yield run, url, code
    finally:
        run.kill_group()


def _join(url: str, code: str) -> dict:
    request = urllib.request.Request(
        f"{url}/api/join",
        data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def _platform_ports(run: LocalUp) -> set[int]:
    """Every TCP port the platform process and its hosts (agents) listen on."""
    root = psutil.Process(run.proc.pid)
    ports: set[int] = set()
    for proc in [root, *root.children(recursive=True), *_agents(run.state_dir)]:
        try:
            connections = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        ports |= {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}
    return ports


def _agents(state_dir: Path) -> list[psutil.Process]:
    from tests.local_platform.process import processes_using

    return [
        p for p in processes_using(state_dir / "hosts") if "workspace_agent" in str(p.cmdline())
    ]


def _admin_get(url: str, state_dir: Path, path: str) -> dict:
    token = (state_dir / "admin-token").read_text().strip()
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def _forge_from_seat(grant: dict, kind: str, ports: set[int]) -> tuple[str, list[list[str]]]:
    """Run the forgery in the learner's seat; (its output, one ``FORGED`` answer per POST)."""
    script = base64.b64encode(FORGE.encode()).decode()
    command = (
        f"echo {script} | base64 -d > forge.py && python3 forge.py "
        f"{grant['workshop']['id']} {ATTACKER} {kind} "
        + " ".join(map(str, sorted(ports)))
        + " && echo FORGERY_$((6*7))"
    )
    output = _run_in_seat(grant, command, "FORGERY_42")
    answers = [line.split() for line in output.splitlines() if line.startswith("FORGED ")]
    assert len(answers) == 3 * len(ports), output
    return output, answers


def _accepted(answers: list[list[str]]) -> list[list[str]]:
    return [a for a in answers if a[3].isdigit() and 200 <= int(a[3]) < 300]


def _run_in_seat(grant: dict, command: str, marker: str) -> str:
    async def run() -> str:
        async with aiohttp.ClientSession() as session:
            term = await Terminal.open_url(
                session, grant["endpoint"], grant["seat"], grant["token"]
            )
            await term.type(command + "\r")
            await term.read_until(marker, timeout=60)
            await term.close()
            return term.text

    return asyncio.run(run())


def test_a_forged_host_ready_from_a_sandboxed_seat_does_not_redirect_later_joiners(
    demo: tuple[LocalUp, str, str],
) -> None:
    run, url, code = demo
    attacker = _join(url, code)
    honest_endpoint = attacker["endpoint"]
    ports = _platform_ports(run)
    assert len(ports) >= 3, ports  # the API, the provisioner's push endpoint, the agent

    output, answers = _forge_from_seat(attacker, "host.ready", ports)

    # It really ran in the sandbox (a PID namespace of its own). Its /proc/net/tcp shows the
    # agent's port (the gateway must stay reachable); with the isolated seat network (pasta)
    # nothing else of ours, with the shared one every listener.
    pid_line = next(line for line in output.splitlines() if line.startswith("SEAT_PID"))
    assert int(pid_line.split()[3]) < 10, pid_line  # a handful of processes, not the machine's
    listed = next(line for line in output.splitlines() if line.startswith("LISTENING"))
    seen = {int(p) for p in listed.split()[1:]}
    agent_port = int(honest_endpoint.rsplit(":", 1)[1].split("/")[0])
    assert agent_port in seen and seen <= ports, (listed, ports)

    # A learner who joins after the attempt is still sent to the real agent.
    later = _join(url, code)
    assert later["seat"] != attacker["seat"]
    assert later["endpoint"] == honest_endpoint, "a forged host.ready redirected a later joiner"
    # And nothing on the platform believed the forgery: every listener refused it.
    assert not _accepted(answers), f"accepted forged deliveries: {_accepted(answers)}"


def test_a_forged_host_failed_from_a_sandboxed_seat_does_not_fail_the_workshop(
    demo: tuple[LocalUp, str, str],
) -> None:
    run, url, code = demo
    attacker = _join(url, code)
    workshop_id = attacker["workshop"]["id"]

    _output, answers = _forge_from_seat(attacker, "host.failed", _platform_ports(run))

    assert not _accepted(answers), f"accepted forged deliveries: {_accepted(answers)}"
    workshop = _admin_get(url, run.state_dir, f"/api/workshops/{workshop_id}")["workshop"]
    assert workshop["status"] == "running"
    assert [h["status"] for h in workshop["hosts"]] == ["ready"]
