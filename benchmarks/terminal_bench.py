"""Terminal benchmark: the workspace agent vs ttyd and terminado, side by side, one run.

``python -m benchmarks.terminal_bench`` (``--quick`` for a smoke run, ``--repeats N``,
``--backends buffered,tmux`` for the agent's terminal backends, ``--servers`` to pick which
servers run). ttyd (C, libwebsockets) is built by ``scripts/build-ttyd.sh`` (bench-only);
without that build (``TTYD_BIN`` or ``.cache/ttyd/build/ttyd``) it is left out.

Every repeat starts each server afresh, in a shuffled order; one aiohttp client drives them
all. The shell is ``bash --norc --noprofile`` everywhere (for the agent, a wrapper given as
``CLARATEACH_AGENT_SHELL``); the agent runs with the gateway and the sandbox off. The client
acknowledges output as the web client does (``web/src/terminal/flowControl.ts``): every
16 KiB, or 20 ms after the first unacknowledged byte. Measured:

* keystroke echo latency p50/p99 over 2,000 keystrokes, one session (send one byte → first
  output frame);
* bulk output: ``cat`` of a ≈202 MB base64 text file (76-column lines, written once into
  ``/dev/shm``) until a marker appears, in MB/s, and server CPU-seconds per 100 MB.
  "Server" is what serving costs: the agent process plus its tmux server/client processes
  (tmux backend) or the agent process plus its terminal holder (buffered backend: the
  holder's children are the shells; it sleeps while the agent is connected), versus the
  ttyd or terminado process; the shells and ``cat`` are excluded everywhere;
* a host's worth of seats: 50 concurrent sessions, each typing a key every 100 ms for 20 s:
  echo p50/p99/max, and the server's CPU % over those 20 s;
* server RSS growth over 10 s with a client that reads nothing while ``yes`` runs.

Prints one markdown table (medians of the repeats, [min..max] beside them), each value's
ratio to ttyd's median, and the issue-22 goals (ratios to ttyd in the same run); then two
ceilings measured in the same run (a bare PTY read loop, and tmux alone) for the same bulk
output.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from benchmarks._stats import percentile
from shared.auth.tokens import SigningKey, issue_token, jwks
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.holder_client import stop_holder

WORKSHOP, ISSUER = "bench", "https://bench.local"
BULK_INPUT = 150_000_000  # base64 turns it into 200,000,000 chars + 2,631,579 newlines
SESSIONS = 50
MULTI_SECONDS = 20.0
DEFAULT_BACKEND = AgentSettings.from_env({}).terminal_backend
ACK_BYTES, ACK_DELAY = 16 * 1024, 0.020  # the web client's AckBatcher (flowControl.ts)
SHELL = ["bash", "--norc", "--noprofile"]
ROOT = Path(__file__).resolve().parent.parent
TTYD_BIN = os.environ.get("TTYD_BIN") or str(ROOT / ".cache" / "ttyd" / "build" / "ttyd")

TERMINADO_SERVER = """
import asyncio, sys
import tornado.web
from terminado import TermSocket, UniqueTermManager

async def main():
    manager = UniqueTermManager(shell_command=sys.argv[2:], max_terminals=200)
    app = tornado.web.Application([(r"/websocket", TermSocket, {"term_manager": manager})])
    app.listen(int(sys.argv[1]), "127.0.0.1")
    print("READY", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- clients -------------------------------------------------------------------------------
class Term:
    """The common client surface: send keystrokes, await output, stop reading."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.tail = ""
        self.received = 0

    async def send(self, text: str) -> None:
        raise NotImplementedError

    async def next_output(self) -> str:
        """The next output chunk (acknowledging as xterm.js would)."""
        raise NotImplementedError

    async def wait_for(self, marker: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.tail:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{marker!r} not seen; tail {self.tail[-200:]!r}")
            chunk = await asyncio.wait_for(self.next_output(), deadline - time.monotonic())
            self.tail = (self.tail + chunk)[-256:]

    async def quiet(self, seconds: float = 0.3) -> None:
        """Swallow output until none arrives for ``seconds`` (prompt redraws etc.)."""
        with contextlib.suppress(TimeoutError):
            while True:
                await asyncio.wait_for(self.next_output(), seconds)

    async def close(self) -> None:
        await self.ws.close()


class AckingTerm(Term):
    """Acknowledges output as the web client's ``AckBatcher`` does: once 16 KiB are
    unacknowledged, or 20 ms after the first unacknowledged byte, whichever comes first."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self.unacked = 0
        self._timer: asyncio.TimerHandle | None = None
        self._ack_task: asyncio.Future[None] | None = None

    def _received(self, n: int) -> None:
        self.received += n
        self.unacked += n
        if self.unacked >= ACK_BYTES:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(ACK_DELAY, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.unacked and not self.ws.closed:
            message = json.dumps({"type": "ack", "bytes": self.unacked})
            self.unacked = 0
            # send_str only queues the frame (aiohttp's writer); the task reaps the result.
            self._ack_task = asyncio.ensure_future(self._send_ack(message))

    async def _send_ack(self, message: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(message)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await super().close()


class AgentTerm(AckingTerm):
    """docs/protocol.md §3: binary frames both ways, JSON acks."""

    async def send(self, text: str) -> None:
        await self.ws.send_bytes(text.encode())

    async def next_output(self) -> str:
        while True:
            msg = await self.ws.receive()
            if msg.type is aiohttp.WSMsgType.BINARY:
                self._received(len(msg.data))
                return msg.data.decode("utf-8", "replace")
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"socket closed: {msg.type}")


class TtydTerm(Term):
    """ttyd 1.7.7's protocol (src/protocol.c): subprotocol ``tty``; the first message is JSON
    (``AuthToken``, ``columns``, ``rows``) and spawns the shell; then one command byte per
    frame: ``0`` input (client) / output (server), ``1`` title and ``2`` preferences (server).
    ttyd has no acknowledgements (its web client sends PAUSE/RESUME only when xterm.js falls
    behind, which this client never does)."""

    async def send(self, text: str) -> None:
        await self.ws.send_bytes(b"0" + text.encode())

    async def next_output(self) -> str:
        while True:
            msg = await self.ws.receive()
            if msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                raise ConnectionError(f"socket closed: {msg.type}")
            data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            if data[:1] == b"0":
                self.received += len(data) - 1
                return data[1:].decode("utf-8", "replace")


class TerminadoTerm(Term):
    """terminado's protocol: JSON arrays ``["stdin", text]`` / ``["stdout", text]`` (no
    acknowledgements)."""

    async def send(self, text: str) -> None:
        await self.ws.send_str(json.dumps(["stdin", text]))

    async def next_output(self) -> str:
        while True:
            msg = await self.ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"socket closed: {msg.type}")
            kind, *rest = json.loads(msg.data)
            if kind == "stdout":
                self.received += len(rest[0])
                return str(rest[0])


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    connect: Callable[[aiohttp.ClientSession, int], Awaitable[Term]]
    serving_pids: Callable[[], list[int]] = field(default=lambda: [])

    def serving_processes(self) -> list[psutil.Process]:
        out = []
        for pid in [self.proc.pid, *self.serving_pids()]:
            with contextlib.suppress(psutil.NoSuchProcess):
                out.append(psutil.Process(pid))
        return out

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.serving_processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def own_cpu_seconds(self) -> float:
        """The server process alone (the agent without its tmux processes)."""
        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)


# -- servers -------------------------------------------------------------------------------
class _Jwks(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.asynccontextmanager
async def agent_server(
    state: Path,
    seats: int,
    backend: str,
    extra_env: dict[str, str] | None = None,
    variant: str = "",
) -> AsyncIterator[Server]:
    state.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - setup, before any timing
    shell = state / "bench-shell"  # the agent runs "$SHELL -l": the wrapper drops the -l
    shell.write_text(f'#!/bin/sh\n[ "$1" = -l ] && shift\nexec {" ".join(SHELL)} "$@"\n')
    shell.chmod(0o755)
    key = SigningKey.generate()
    _Jwks.body = json.dumps(jwks([key])).encode()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ["PATH"],
        "CLARATEACH_AGENT_WORKSHOP_ID": WORKSHOP,
        "CLARATEACH_AGENT_SEATS": f"1-{seats}",
        "CLARATEACH_AGENT_ISSUER": ISSUER,
        "CLARATEACH_AGENT_JWKS_URL": f"http://127.0.0.1:{httpd.server_port}/jwks.json",
        "CLARATEACH_AGENT_STATE_DIR": str(state),
        "CLARATEACH_AGENT_PORT": str(free_port()),
        "CLARATEACH_AGENT_GATEWAY": "false",
        "CLARATEACH_AGENT_BWRAP": "false",
        "CLARATEACH_AGENT_SHELL": str(shell),
        "CLARATEACH_AGENT_MAX_VIEWERS_PER_SEAT": "4",
        "CLARATEACH_AGENT_TERMINAL_BACKEND": backend,
        **(extra_env or {}),
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; a long-running server
        [sys.executable, "-m", "workspace_agent"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{env['CLARATEACH_AGENT_PORT']}"
    tokens = {
        s: issue_token(key, issuer=ISSUER, workshop_id=WORKSHOP, host=0, seat=s)
        for s in range(1, seats + 1)
    }

    async def connect(session: aiohttp.ClientSession, seat: int) -> Term:
        ws = await session.ws_connect(
            f"{url}/seats/{seat}/terminal?cols=120&rows=40",
            protocols=["clarateach.terminal.v1", f"bearer.{tokens[seat]}"],
            max_msg_size=0,
        )
        hello = await ws.receive()
        assert json.loads(hello.data)["type"] == "hello"
        return AgentTerm(ws)

    def tmux_pids() -> list[int]:
        if backend != "tmux":  # buffered: the holder (its children are the learners' shells)
            with contextlib.suppress(OSError, ValueError):
                return [int((state / "terminal-holder" / "holder.pid").read_text())]
            return []
        return [c.pid for c in psutil.Process(proc.pid).children(recursive=False)]

    try:
        await _wait_http(url + "/readyz", proc)
        default = ", default" if backend == DEFAULT_BACKEND else ""
        label = f"{backend}{default}{', ' + variant if variant else ''}"
        yield Server(f"agent ({label})", proc, connect, tmux_pids)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        stop_holder(state)  # the host's final stop: the held shells end
        httpd.shutdown()


@contextlib.asynccontextmanager
async def terminado_server() -> AsyncIterator[Server]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; a long-running server
        [sys.executable, "-c", TERMINADO_SERVER, str(port), *SHELL],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"ws://127.0.0.1:{port}/websocket"

    async def connect(session: aiohttp.ClientSession, seat: int) -> Term:
        ws = await session.ws_connect(url, max_msg_size=0)
        return TerminadoTerm(ws)

    try:
        assert proc.stdout is not None
        line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
        assert line.strip() == b"READY", line
        yield Server("terminado", proc, connect)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


@contextlib.asynccontextmanager
async def ttyd_server() -> AsyncIterator[Server]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; a long-running server
        [TTYD_BIN, "--writable", "--interface", "127.0.0.1", "--port", str(port), *SHELL],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    async def connect(session: aiohttp.ClientSession, seat: int) -> Term:
        ws = await session.ws_connect(f"{url}/ws", protocols=["tty"], max_msg_size=0)
        await ws.send_str(json.dumps({"AuthToken": "", "columns": 120, "rows": 40}))
        return TtydTerm(ws)

    try:
        await _wait_http(url + "/", proc)
        yield Server("ttyd", proc, connect)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


async def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


# -- measurements --------------------------------------------------------------------------
async def ready_term(server: Server, session: aiohttp.ClientSession, seat: int) -> Term:
    term = await server.connect(session, seat)
    await term.send("PS1='$ '; stty -ixon; echo READY-$((40+2))\r")
    await term.wait_for("READY-42", timeout=30)
    await term.quiet()
    return term


async def echo_latency(term: Term, keystrokes: int) -> list[float]:
    samples = []
    for i in range(keystrokes):
        key = "x" if i % 2 == 0 else "\x7f"  # type and erase: the line stays short
        start = time.perf_counter()
        await term.send(key)
        await term.next_output()
        samples.append(time.perf_counter() - start)
        # Swallow any rest of this echo (e.g. erase sequences split over frames).
        with contextlib.suppress(TimeoutError):
            while True:
                await asyncio.wait_for(term.next_output(), 0.002)
    return samples


@dataclass(frozen=True)
class BulkSource:
    path: Path
    size: int  # bytes the command writes (the terminal adds a CR per line on top)


def bulk_file(tmp: Path, size: int) -> BulkSource:
    """``size`` zero bytes, base64-encoded in 76-column lines (what ``base64`` prints), in a file.

    The benchmark ``cat``s it rather than piping ``base64`` straight to the terminal: with a
    TTY as stdout, glibc line-buffers and base64 makes one ``write`` per 77-byte line, which
    caps every server (and a bare PTY read loop) at the generator's ~45 MB/s on this machine,
    so it measures nothing about the server. ``cat`` writes 128 KiB blocks; the PTY and the
    server are what limit.
    """
    path = tmp / "bulk.txt"
    block = 57 * 100_000  # 57 input bytes make one 76-column line
    with path.open("wb") as out:
        for start in range(0, size, block):
            out.write(base64.encodebytes(bytes(min(block, size - start))))
    return BulkSource(path, path.stat().st_size)


async def bulk(server: Server, term: Term, source: BulkSource) -> tuple[float, float, float, int]:
    """(MB/s of command output, serving CPU-s per 100 MB, server-process-only CPU-s per
    100 MB, bytes delivered to the client)."""
    cpu0, own0 = server.cpu_seconds(), server.own_cpu_seconds()
    before = term.received
    start = time.perf_counter()
    await term.send(f"cat {source.path}; echo BULK-DONE-$((1+1))\r")
    await term.wait_for("BULK-DONE-2", timeout=600)
    wall = time.perf_counter() - start
    cpu, own = server.cpu_seconds() - cpu0, server.own_cpu_seconds() - own0
    output = source.size
    await term.quiet()
    return output / wall / 1e6, cpu / (output / 1e8), own / (output / 1e8), term.received - before


async def concurrent_echo(
    server: Server, session: aiohttp.ClientSession, sessions: int, seconds: float
) -> tuple[list[float], float]:
    """(echo latencies of ``sessions`` typists, one key per 100 ms each for ``seconds``,
    the server's CPU % over those seconds)."""
    terms = await asyncio.gather(*(ready_term(server, session, s + 1) for s in range(sessions)))
    samples: list[float] = []

    async def typist(term: Term, offset: float) -> None:
        await asyncio.sleep(offset)
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            tick = time.monotonic()
            start = time.perf_counter()
            await term.send("x" if i % 2 == 0 else "\x7f")
            await term.next_output()
            samples.append(time.perf_counter() - start)
            i += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))

    spy = _py_spy(server, seconds)
    cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(typist(t, n * 0.1 / sessions) for n, t in enumerate(terms)))
    cpu_pct = (server.cpu_seconds() - cpu0) / (time.perf_counter() - wall0) * 100
    if spy is not None:
        await asyncio.to_thread(spy.wait)
    await asyncio.gather(*(t.close() for t in terms))
    return samples, cpu_pct


PROFILE_DIR: Path | None = None  # --py-spy: profile the agent during the many-session test


def _py_spy(server: Server, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy (non-blocking sampling, so the profile does not stall the agent) on the agent
    process during the many-session test; collapsed stacks, one file per run."""
    if PROFILE_DIR is None or not server.name.startswith("agent"):
        return None
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    out = PROFILE_DIR / f"{server.name.split()[1].strip('(,)')}-{server.proc.pid}.txt"
    return subprocess.Popen(
        [
            *("py-spy", "record", "--nonblocking", "--format", "raw", "--rate", "250"),
            *("--duration", str(int(seconds)), "--pid", str(server.proc.pid), "-o", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def slow_reader(
    server: Server, session: aiohttp.ClientSession, seat: int, seconds: float
) -> tuple[float, float]:
    """(RSS growth MB over ``seconds`` while a client reads nothing, peak growth MB)."""
    term = await ready_term(server, session, seat)
    base = server.rss()
    await term.send("yes\r")
    peak = base
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # the client does not read: only sample the server
        await asyncio.sleep(0.25)
        peak = max(peak, server.rss())
    grown = server.rss() - base
    await term.send("\x03")
    with contextlib.suppress(Exception):
        await asyncio.wait_for(term.close(), 5)
    return grown / 1e6, (peak - base) / 1e6


async def measure(
    server: Server, source: BulkSource, quick: bool, only: set[str] | None = None
) -> dict[str, float]:
    """Every measurement, or those named in ``only`` (echo, bulk, multi, slow)."""
    keystrokes = 300 if quick else 2000
    results: dict[str, float] = {}
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        if only is None or "echo" in only:
            term = await ready_term(server, session, 1)
            await echo_latency(term, 100)  # warm-up
            lat = await echo_latency(term, keystrokes)
            results["echo_p50_us"] = percentile(lat, 50) * 1e6
            results["echo_p99_us"] = percentile(lat, 99) * 1e6
            await term.close()
        if only is None or "bulk" in only:
            term = await ready_term(server, session, 2)
            mbps, cpu, own, delivered = await bulk(server, term, source)
            results.update(
                bulk_mb_s=mbps,
                cpu_s_per_100mb=cpu,
                own_cpu_s_per_100mb=own,
                delivered_mb=delivered / 1e6,
            )
            await term.close()
        if only is None or "multi" in only:
            sessions = 10 if quick else SESSIONS
            lat, cpu_pct = await concurrent_echo(
                server, session, sessions, 3.0 if quick else MULTI_SECONDS
            )
            results["multi_p50_us"] = percentile(lat, 50) * 1e6
            results["multi_p99_us"] = percentile(lat, 99) * 1e6
            results["multi_max_us"] = max(lat) * 1e6
            results["multi_cpu_pct"] = cpu_pct
        if only is None or "slow" in only:
            grown, peak = await slow_reader(server, session, 3, 3.0 if quick else 10.0)
            results.update(slow_rss_mb=grown, slow_peak_mb=peak)
    return results


def pty_ceiling(source: BulkSource) -> float:
    """MB/s of the same bulk command read from a bare PTY by a tight blocking loop (no
    WebSocket, no client): the ceiling for any server on this machine."""
    master, slave = os.openpty()
    command = f"cat {source.path}"
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["bash", "-c", command], stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    with contextlib.suppress(OSError):  # EIO once the command is done
        while os.read(master, 65536):
            pass
    wall = time.perf_counter() - start
    os.close(master)
    proc.wait()
    return source.size / wall / 1e6


def tmux_ceiling(tmp: Path, source: BulkSource) -> float:
    """MB/s of the same bulk command inside a *detached* tmux (no client, no agent): the
    upper bound for any design that keeps tmux in the data path."""
    sock = str(tmp / "ceiling.sock")
    tmux = ["tmux", "-S", sock, "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-s", "c", "-x", "120", "-y", "40"], check=True)
    try:
        command = f"cat {source.path}; tmux -S {sock} wait-for -S bulk-done"
        start = time.perf_counter()
        subprocess.run([*tmux, "send-keys", "-t", "c", command, "Enter"], check=True)
        subprocess.run([*tmux, "wait-for", "bulk-done"], check=True)
        wall = time.perf_counter() - start
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    return source.size / wall / 1e6


Goal = Callable[[float], bool]  # verdict on (value / ttyd's value)
TARGETS: list[tuple[str, str, str, Goal | None]] = [
    # (label, key, goal as a ratio to ttyd in the same run, verdict); None = informational
    ("echo p50, 1 session (µs)", "echo_p50_us", "≤ 1.25x", lambda r: r <= 1.25),
    ("echo p99, 1 session (µs)", "echo_p99_us", "(info)", None),
    ("bulk throughput (MB/s)", "bulk_mb_s", "≥ 1.0x", lambda r: r >= 1.0),
    ("serving CPU-s per 100 MB", "cpu_s_per_100mb", "≤ 1.0x", lambda r: r <= 1.0),
    ("server process alone, CPU-s per 100 MB", "own_cpu_s_per_100mb", "(info)", None),
    ("bytes delivered to client (MB)", "delivered_mb", "(info)", None),
    (f"{SESSIONS} sessions: echo p50 (µs)", "multi_p50_us", "(info)", None),
    (f"{SESSIONS} sessions: echo p99 (µs)", "multi_p99_us", "≤ 1.5x", lambda r: r <= 1.5),
    (f"{SESSIONS} sessions: echo max (µs)", "multi_max_us", "(info)", None),
    (f"{SESSIONS} sessions: server CPU %", "multi_cpu_pct", "≤ 2x", lambda r: r <= 2.0),
    ("stalled reader RSS growth, 10 s (MB)", "slow_rss_mb", "(info)", None),
    ("stalled reader peak RSS growth (MB)", "slow_peak_mb", "(info)", None),
]
REFERENCE = "ttyd"


def _cell(values: list[float]) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.1f}"
    return f"{med:,.1f} [{min(values):,.1f}..{max(values):,.1f}]"


def table(runs: dict[str, list[dict[str, float]]]) -> str:
    """One row per metric; per server the median [min..max] over the repeats and, for the
    agent, the ratio of medians to ttyd's with the goal's verdict."""
    names = list(runs)
    ref = runs.get(REFERENCE)
    others = [n for n in names if n != REFERENCE]
    head = "| metric | goal (x ttyd) |" + "".join(f" {n} |" for n in names)
    rule = "|---|---|" + "---:|" * len(names)
    if ref:
        head += "".join(f" {n} x ttyd | met |" for n in others)
        rule += "---:|---|" * len(others)
    lines = [head, rule]
    for label, key, goal, verdict in TARGETS:
        if not all(key in r for runs_ in runs.values() for r in runs_):
            continue
        row = f"| {label} | {goal} |" + "".join(
            f" {_cell([r[key] for r in runs[n]])} |" for n in names
        )
        if ref:
            base = statistics.median(r[key] for r in ref)
            for n in others:
                value = statistics.median(r[key] for r in runs[n])
                ratio = value / base if base else float("inf")
                met = "" if verdict is None else ("yes" if verdict(ratio) else "**no**")
                if not n.startswith("agent"):
                    met = ""  # the goals are the agent's
                row += f" {ratio:.2f} | {met} |"
        lines.append(row)
    return "\n".join(lines)


ServerFactory = Callable[[], contextlib.AbstractAsyncContextManager[Server]]


async def main(
    quick: bool,
    backends: list[str],
    servers: list[str],
    repeats: int,
    only: set[str] | None,
    agent_env: dict[str, str],
    variants: dict[str, dict[str, str]] | None = None,
) -> None:
    runs: dict[str, list[dict[str, float]]] = {}
    # The bulk file lives in memory (/dev/shm) where there is one: on disk, the writeback of
    # 200 MB of dirty pages would run during the latency measurements that follow.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with (
        tempfile.TemporaryDirectory(prefix="ctb-") as tmp,
        tempfile.TemporaryDirectory(prefix="ctb-bulk-", dir=shm) as bulk_dir,
    ):
        size = 15_000_000 if quick else BULK_INPUT
        source = bulk_file(Path(bulk_dir), size if only is None or "bulk" in only else 57)
        seats = 10 if quick else SESSIONS
        factories: list[ServerFactory] = []
        if "agent" in servers:
            for backend in backends:
                for variant, env in {"": {}, **(variants or {})}.items():

                    def agent(
                        backend: str = backend, variant: str = variant, env: Any = env
                    ) -> Any:
                        state = Path(tempfile.mkdtemp(prefix=f"{backend}-", dir=tmp))
                        return agent_server(state, seats, backend, {**agent_env, **env}, variant)

                    factories.append(agent)
        if "ttyd" in servers:
            if shutil.which(TTYD_BIN):
                factories.append(ttyd_server)
            else:
                print(f"ttyd left out: {TTYD_BIN} missing (scripts/build-ttyd.sh)")
        if "terminado" in servers:
            factories.append(terminado_server)
        for repeat in range(repeats):
            order = random.sample(factories, len(factories))
            for factory in order:
                async with factory() as server:
                    result = await measure(server, source, quick, only)
                runs.setdefault(server.name, []).append(result)
                print(f"repeat {repeat + 1}/{repeats} {server.name}: {json.dumps(result)}")
        ceiling = bare = None
        if only is None or "bulk" in only:
            ceiling = await asyncio.to_thread(tmux_ceiling, Path(tmp), source)
            bare = await asyncio.to_thread(pty_ceiling, source)
    print(
        f"\n## Terminal benchmark ({'quick' if quick else 'full'}; {repeats} repeats, shuffled; "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end, loopback, same "
        "client for all; median [min..max])\n"
    )
    print(table(runs))
    if ceiling is not None:
        print(
            f"\ntmux alone (detached, no client, same command): {ceiling:.1f} MB/s -- the "
            "ceiling for bulk output with tmux in the data path on this machine."
        )
        print(
            f"bare PTY read loop (no server, no client, same command): {bare:.1f} MB/s -- the "
            "ceiling for any server on this machine."
        )
    print("\nraw:", json.dumps(runs, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every server (3)")
    parser.add_argument(
        "--backends",
        default=DEFAULT_BACKEND,
        help=f"comma-separated agent terminal backends to measure (default: {DEFAULT_BACKEND})",
    )
    parser.add_argument(
        "--servers",
        default="agent,ttyd,terminado",
        help="comma-separated servers (default: agent,ttyd,terminado)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated subset of: echo,bulk,multi,slow"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL:NAME=VALUE[,NAME=VALUE]",
        help="also run the agent with this extra environment, labelled (A/B in one run)",
    )
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="profile the agent with py-spy during the many-session test (collapsed stacks)",
    )
    parser.add_argument(
        "--agent-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the agent (experiments; repeatable)",
    )
    args = parser.parse_args()
    PROFILE_DIR = Path(args.py_spy) if args.py_spy else None
    asyncio.run(
        main(
            args.quick,
            args.backends.split(","),
            args.servers.split(","),
            args.repeats,
            set(args.only.split(",")) if args.only else None,
            dict(kv.split("=", 1) for kv in args.agent_env),
            {
                label: dict(kv.split("=", 1) for kv in env.split(","))
                for label, _, env in (v.partition(":") for v in args.variant)
            },
        )
    )
