"""Latency the model gateway adds to time-to-first-byte of a streamed response, on loopback.

Three processes, like production: the fake Anthropic upstream
(``clarateach/loadtest/fake_upstream``)
and the gateway (``setup_gateway`` on a plain aiohttp app) each run in a child process; this
process is the client. For every streamed ``POST /v1/messages`` the client measures the time
from sending the request to receiving the first body chunk (the ``message_start`` event), then
reads the rest. Direct-to-fake and through-gateway requests alternate on two keep-alive
connections, so drift (CPU frequency, other load) hits both equally.

Prints p50/p99 of each and the added latency (gateway minus direct) per round, then the
median over rounds (tails on a shared 2-core machine swing with other load; several rounds
show how much). Target: < 2 ms added at p99. Timing is reported, never asserted.

    python -m benchmarks.gateway_bench [--requests 500] [--warmup 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil
from aiohttp import web

from benchmarks._stats import percentile, print_table, summarize

BODY = {
    "model": "claude-sonnet-4-20250514",
    "max_tokens": 64,
    "stream": True,
    "messages": [{"role": "user", "content": "hello"}],
}
HEADERS = {"anthropic-version": "2023-06-01", "content-type": "application/json"}


# --------------------------------------------------------------------- child processes
async def _serve(app: web.Application) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def _fake_app() -> web.Application:
    from clarateach.loadtest.fake_upstream import FakeAnthropic

    return FakeAnthropic().app()


def _gateway_app(upstream: str, state_dir: str) -> web.Application:
    from shared.domain.model_policy import ModelPolicy, SeatLimits
    from tests.gateway.conftest import MemorySecrets
    from tests.gateway.fake_upstream import FAKE_KEY
    from workspace_agent.gateway import GatewayConfig, setup_gateway

    config = GatewayConfig(
        workshop_id="bench",
        host_index=0,
        seat_first=1,
        seat_last=1,
        state_dir=Path(state_dir),
        api_key_ref="key",
        policy=ModelPolicy(defaults=SeatLimits(requests_per_minute=10_000)),
        upstream=upstream,
        agent_port=1,
    )
    app = web.Application()
    setup_gateway(app, config=config, secrets=MemorySecrets({"key": FAKE_KEY}))
    return app


def _child(role: str, *args: str) -> None:
    app = _fake_app() if role == "fake" else _gateway_app(*args)
    asyncio.run(_serve(app))


def _spawn(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.gateway_bench", "--child", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"child {args[0]} did not start: {line!r}")
    return proc, int(line.split()[1])


# ------------------------------------------------------------------------ measurement
async def _ttfb(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    async with session.post(url, json=BODY, headers=headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status}: {await resp.text()}")
        await resp.content.readany()
        first = time.perf_counter() - start
        await resp.read()
    return first


async def _measure(
    direct_url: str, gateway_url: str, token: str, requests: int, warmup: int
) -> tuple[list[float], list[float], float]:
    direct, through = [], []
    started = time.perf_counter()
    gateway_headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=2)
    async with aiohttp.ClientSession(connector=connector) as session:
        for i in range(warmup + requests):
            d = await _ttfb(session, direct_url, {**HEADERS, "x-api-key": _fake_key()})
            g = await _ttfb(session, gateway_url, gateway_headers)
            if i >= warmup:
                direct.append(d)
                through.append(g)
    return direct, through, time.perf_counter() - started


def _fake_key() -> str:
    from tests.gateway.fake_upstream import FAKE_KEY

    return FAKE_KEY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0

    with tempfile.TemporaryDirectory(prefix="gw-bench-") as state:
        fake, fake_port = _spawn("fake")
        upstream = f"http://127.0.0.1:{fake_port}"
        gateway, gateway_port = _spawn("gateway", upstream, state)
        try:
            tokens = json.loads((Path(state) / "gateway" / "seat-tokens.json").read_text())
            cpu = psutil.Process(gateway.pid)
            before = cpu.cpu_times()
            added = [
                _round(
                    i + 1,
                    f"{upstream}/v1/messages",
                    f"http://127.0.0.1:{gateway_port}/seats/1/model/v1/messages",
                    tokens["1"],
                    args,
                )
                for i in range(args.rounds)
            ]
            after = cpu.cpu_times()
        finally:
            for proc in (gateway, fake):
                proc.terminate()
                proc.wait(timeout=10)

    handled = args.rounds * (args.requests + args.warmup)
    cpu_us = ((after.user - before.user) + (after.system - before.system)) / handled * 1e6
    # CPU per request is what the gateway itself costs, whatever else loads the machine.
    print(f"\ngateway CPU per streamed request (user+sys): {cpu_us:.0f} us")
    p50s, p99s = sorted(a[0] for a in added), sorted(a[1] for a in added)
    print(
        f"\nadded by the gateway, median of {args.rounds} rounds: "
        f"p50 {p50s[len(p50s) // 2]:.3f} ms, p99 {p99s[len(p99s) // 2]:.3f} ms (target p99 < 2 ms)"
    )
    return 0


def _round(
    number: int, direct_url: str, gateway_url: str, token: str, args: argparse.Namespace
) -> tuple[float, float]:
    direct, through, wall = asyncio.run(
        _measure(direct_url, gateway_url, token, args.requests, args.warmup)
    )
    print_table(
        f"Round {number}: streamed POST /v1/messages, time to first byte "
        f"({args.requests} requests each)",
        [summarize("direct to fake", direct, wall), summarize("through gateway", through, wall)],
    )
    added_p50 = (percentile(through, 50) - percentile(direct, 50)) * 1000
    added_p99 = (percentile(through, 99) - percentile(direct, 99)) * 1000
    print(f"  added: p50 {added_p50:.3f} ms, p99 {added_p99:.3f} ms")
    return added_p50, added_p99


if __name__ == "__main__":
    sys.exit(main())
