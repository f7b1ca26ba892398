"""App preview proxy overhead against direct loopback (workspace_agent/preview/).

Three processes: a learner's server (aiohttp: ``/small`` = 256 bytes, ``/large`` = a streamed
body), the agent (``create_app`` with the preview, its seat on the machine's network so the
seat's server is on this loopback too) and this client. The client makes the same requests
directly to the server and through the agent's preview origin (``Host: p<port>-s1-…``, the
preview cookie), alternating per round so drift hits both equally:

* small responses: requests/s and p50/p99 latency at a fixed concurrency over keep-alive;
* a large response: MB/s of one streamed body.

Ratios are printed (preview / direct). In an isolated seat only connection set-up differs
(through the namespace helper), which keep-alive amortises. Timing is reported, never
asserted.

    python -m benchmarks.preview_bench [--requests 2000] [--concurrency 16] [--mb 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from benchmarks._stats import percentile, print_table, summarize

SMALL = b"x" * 256
BLOCK = b"y" * (64 * 1024)


def _server_app() -> web.Application:
    async def small(request: web.Request) -> web.Response:
        return web.Response(body=SMALL, content_type="text/plain")

    async def large(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(int(request.query.get("mb", "1")) * 16):
            await response.write(BLOCK)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_get("/large", large)
    return app


async def _serve_upstream() -> None:
    runner = web.AppRunner(_server_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"port": site._server.sockets[0].getsockname()[1]}), flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


async def _serve_agent(state_dir: str, upstream: int) -> None:
    import socket

    from workspace_agent.app import create_app
    from workspace_agent.preview import PREVIEW
    from workspace_agent.preview.grants import Viewer
    from workspace_agent.settings import AgentSettings

    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    settings = AgentSettings(
        workshop_id="wbench", host_index=0, seats=(1,), issuer="https://bench", gateway=False,
        state_dir=Path(state_dir), port=port, public_url=f"http://127.0.0.1:{port}",
        bwrap=False, seat_network="host", terminal_backend="buffered", shell_holder=False,
    )  # fmt: skip
    app = create_app(settings, keys={})
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    preview = app[PREVIEW]
    cookie = preview.grants.start_session(Viewer(1, upstream, False, int(time.time())))
    host = f"{preview.origins.host(1, upstream)}:{port}"
    print(json.dumps({"port": port, "host": host, "cookie": f"ct_preview={cookie}"}), flush=True)
    await asyncio.Event().wait()


async def _small_round(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], n: int, concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = iter(range(n))

    async def worker() -> None:
        for _ in queue:
            start = time.perf_counter()
            async with session.get(url, headers=headers) as resp:
                body = await resp.read()
            assert resp.status == 200 and body == SMALL, resp.status
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start


async def _large(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> float:
    start, size = time.perf_counter(), 0
    async with session.get(url, headers=headers) as resp:
        async for chunk in resp.content.iter_chunked(1 << 20):
            size += len(chunk)
    return size / (time.perf_counter() - start) / 1e6


def _child(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.preview_bench", *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


async def run(args: argparse.Namespace) -> None:
    upstream, up = _child("--upstream")
    with tempfile.TemporaryDirectory(prefix="ct-pvbench-") as state:
        agent, ag = _child("--agent", state, str(up["port"]))
        try:
            direct = (f"http://127.0.0.1:{up['port']}", {})
            proxied = (
                f"http://127.0.0.1:{ag['port']}",
                {"Host": ag["host"], "Cookie": ag["cookie"]},
            )
            connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
            async with aiohttp.ClientSession(connector=connector) as session:
                for base, headers in (direct, proxied):  # warm-up (connections, caches)
                    await _small_round(session, base + "/small", headers, 200, args.concurrency)
                rows, ratios = [], {"req/s": [], "p99": [], "MB/s": []}
                for r in range(args.rounds):
                    results = {}
                    for name, (base, headers) in (("direct", direct), ("preview", proxied)):
                        lat, wall = await _small_round(
                            session, base + "/small", headers, args.requests, args.concurrency
                        )
                        mbs = await _large(session, f"{base}/large?mb={args.mb}", headers)
                        results[name] = (len(lat) / wall, percentile(lat, 99), mbs)
                        rows.append(
                            summarize(
                                f"{name} #{r + 1}",
                                lat,
                                wall,
                                **{"req/s": len(lat) / wall, "large MB/s": mbs},
                            )
                        )
                    d, p = results["direct"], results["preview"]
                    ratios["req/s"].append(p[0] / d[0])
                    ratios["p99"].append(p[1] / d[1])
                    ratios["MB/s"].append(p[2] / d[2])
            print_table(
                f"App preview vs direct loopback ({args.requests} x 256 B at concurrency "
                f"{args.concurrency}; one {args.mb} MiB streamed body)",
                rows,
            )
            print(
                "\nmedian ratio preview/direct: "
                + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in ratios.items())
            )
        finally:
            for proc in (agent, upstream):
                proc.terminate()
                proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--agent", nargs=2, metavar=("STATE", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        asyncio.run(_serve_upstream())
    elif args.agent:
        asyncio.run(_serve_agent(args.agent[0], int(args.agent[1])))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
