"""Terminal benchmark: the workspace agent (both terminal backends) vs terminado, one run.

``python -m benchmarks.terminal_bench`` (``--quick`` for a smoke run, ``--backends tmux`` for
a subset). The servers run as separate processes driving ``bash``, one after the other: the
agent with ``CLARATEACH_AGENT_TERMINAL_BACKEND=tmux``, the agent with ``buffered`` (the
default), and terminado. One aiohttp client drives all of them. Measured:

* keystroke echo latency p50/p99 over 2,000 keystrokes (send one byte → first output frame);
* bulk output: ``cat`` of a ≈202 MB base64 text file (76-column lines, written once into
  ``/dev/shm``) until a marker appears, in MB/s, and server CPU-seconds per 100 MB.
  "Server" is what serving costs: the agent process plus its tmux server/client processes
  (tmux backend) or the agent process plus its terminal holder (buffered backend: the
  holder's children are the shells; it sleeps while the agent is connected), versus the
  terminado process; the shells and ``cat`` are excluded everywhere;
* p99 echo with 50 concurrent sessions, each typing a key every 100 ms;
* server RSS growth over 10 s with a client that reads nothing while ``yes`` runs.

Prints one markdown table: each backend's value, its ratio to terminado, and the issue-5
target verdict; then two ceilings measured in the same run (a bare PTY read loop, and tmux
alone) for the same bulk output.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
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
DEFAULT_BACKEND = AgentSettings.from_env({}).terminal_backend
ACK_EVERY = 64 * 1024

TERMINADO_SERVER = """
import asyncio, sys
import tornado.web
from terminado import TermSocket, UniqueTermManager

async def main():
    manager = UniqueTermManager(shell_command=["bash"], max_terminals=200)
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


class AgentTerm(Term):
    """docs/protocol.md §3: binary frames both ways, JSON acks."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self.unacked = 0

    async def send(self, text: str) -> None:
        await self.ws.send_bytes(text.encode())

    async def next_output(self) -> str:
        while True:
            msg = await self.ws.receive()
            if msg.type is aiohttp.WSMsgType.BINARY:
                n = len(msg.data)
                self.received += n
                self.unacked += n
                if self.unacked >= ACK_EVERY:
                    await self.ws.send_str(json.dumps({"type": "ack", "bytes": self.unacked}))
                    self.unacked = 0
                return msg.data.decode("utf-8", "replace")
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"socket closed: {msg.type}")


class TerminadoTerm(Term):
    """terminado's protocol: JSON arrays ``["stdin", text]`` / ``["stdout", text]``."""

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
async def agent_server(state: Path, seats: int, backend: str) -> AsyncIterator[Server]:
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
        "CLARATEACH_AGENT_MAX_VIEWERS_PER_SEAT": "4",
        "CLARATEACH_AGENT_TERMINAL_BACKEND": backend,
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
        yield Server(f"agent ({backend}{default})", proc, connect, tmux_pids)
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
        [sys.executable, "-c", TERMINADO_SERVER, str(port)],
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
) -> list[float]:
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

    await asyncio.gather(*(typist(t, n * 0.1 / sessions) for n, t in enumerate(terms)))
    await asyncio.gather(*(t.close() for t in terms))
    return samples


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


async def measure(server: Server, source: BulkSource, quick: bool) -> dict[str, float]:
    keystrokes = 300 if quick else 2000
    results: dict[str, float] = {}
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        term = await ready_term(server, session, 1)
        await echo_latency(term, 100)  # warm-up
        lat = await echo_latency(term, keystrokes)
        results["echo_p50_us"] = percentile(lat, 50) * 1e6
        results["echo_p99_us"] = percentile(lat, 99) * 1e6
        await term.close()
        term = await ready_term(server, session, 2)
        mbps, cpu, own, delivered = await bulk(server, term, source)
        results.update(
            bulk_mb_s=mbps,
            cpu_s_per_100mb=cpu,
            own_cpu_s_per_100mb=own,
            delivered_mb=delivered / 1e6,
        )
        await term.close()
        sessions = 10 if quick else SESSIONS
        lat = await concurrent_echo(server, session, sessions, 3.0 if quick else 8.0)
        results["multi_p50_us"] = percentile(lat, 50) * 1e6
        results["multi_p99_us"] = percentile(lat, 99) * 1e6
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


TARGETS: list[tuple[str, str, str, Callable[[float, float], bool] | None]] = [
    # (label, key, target, verdict(value, terminado's value)); None = informational
    ("echo p50 (µs)", "echo_p50_us", "≤ 0.8x terminado", lambda v, r: v <= 0.8 * r),
    ("echo p99 (µs)", "echo_p99_us", "≤ terminado", lambda v, r: v <= r),
    ("bulk throughput (MB/s)", "bulk_mb_s", "≥ 1.2x terminado", lambda v, r: v >= 1.2 * r),
    ("serving CPU-s per 100 MB", "cpu_s_per_100mb", "≤ 0.7x terminado", lambda v, r: v <= 0.7 * r),
    ("server process alone, CPU-s per 100 MB", "own_cpu_s_per_100mb", "(info)", None),
    ("bytes delivered to client (MB)", "delivered_mb", "(info)", None),
    (f"{SESSIONS}-session echo p50 (µs)", "multi_p50_us", "(info)", None),
    (f"{SESSIONS}-session echo p99 (µs)", "multi_p99_us", "< 1000 µs", lambda v, r: v < 1000),
    ("stalled reader RSS growth, 10 s (MB)", "slow_rss_mb", "< 5 MB", lambda v, r: v < 5),
    ("stalled reader peak RSS growth (MB)", "slow_peak_mb", "(info)", None),
]


def table(backends: dict[str, dict[str, float]], ref: dict[str, float]) -> str:
    """One row per metric: terminado, then per backend its value, ratio and verdict."""
    head = "| metric | target | terminado |"
    rule = "|---|---|---:|"
    for name in backends:
        head += f" {name} | x terminado | met |"
        rule += "---:|---:|---|"
    lines = [head, rule]
    for label, key, target, verdict in TARGETS:
        row = f"| {label} | {target} | {ref[key]:.1f} |"
        for results in backends.values():
            value = results[key]
            ratio = value / ref[key] if ref[key] else float("inf")
            met = "" if verdict is None else ("yes" if verdict(value, ref[key]) else "**no**")
            row += f" {value:.1f} | {ratio:.2f} | {met} |"
        lines.append(row)
    return "\n".join(lines)


async def main(quick: bool, names: list[str]) -> None:
    backends: dict[str, dict[str, float]] = {}
    # The bulk file lives in memory (/dev/shm) where there is one: on disk, the writeback of
    # 200 MB of dirty pages would run during the latency measurements that follow.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with (
        tempfile.TemporaryDirectory(prefix="ctb-") as tmp,
        tempfile.TemporaryDirectory(prefix="ctb-bulk-", dir=shm) as bulk_dir,
    ):
        source = bulk_file(Path(bulk_dir), 15_000_000 if quick else BULK_INPUT)
        seats = 10 if quick else SESSIONS
        for backend in names:
            async with agent_server(Path(tmp) / backend, seats, backend) as agent:
                backends[agent.name] = await measure(agent, source, quick)
        async with terminado_server() as ref:
            ref_results = await measure(ref, source, quick)
        ceiling = await asyncio.to_thread(tmux_ceiling, Path(tmp), source)
        bare = await asyncio.to_thread(pty_ceiling, source)
    print(
        f"\n## Terminal benchmark ({'quick' if quick else 'full'}; {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f} at the end, loopback, same client for all)\n"
    )
    print(table(backends, ref_results))
    print(
        f"\ntmux alone (detached, no client, same command): {ceiling:.1f} MB/s -- the ceiling "
        "for bulk output with tmux in the data path on this machine."
    )
    print(
        f"bare PTY read loop (no server, no client, same command): {bare:.1f} MB/s -- the "
        "ceiling for any server on this machine."
    )
    print("\nraw:", json.dumps({**backends, "terminado": ref_results}, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--backends",
        default="buffered,tmux",
        help="comma-separated agent terminal backends to measure (default: buffered,tmux)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.backends.split(",")))
