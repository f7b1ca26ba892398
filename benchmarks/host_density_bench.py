"""A host's real load: 50 seats on one agent, each with an idle Claude Code process.

``python -m benchmarks.host_density_bench`` (``--seats N``, ``--package NAME``). One agent
(buffered backend, gateway and sandbox off, ``bash --norc --noprofile`` as in
``terminal_bench``) serves ``--seats`` seats. In every seat's shell, Claude Code (the pinned
version, ``python -m clarateach.claude_code``) starts interactively inside a detached tmux
session (so the seat's terminal stays free for the typists), pointed at the fake Anthropic
upstream (``clarateach/loadtest/fake_upstream.py``). Once they are all idle:

* RSS per seat: the seat's whole process tree (shell, tmux, Claude Code), median and max,
  and Claude Code alone; plus the agent's and the terminal holder's own RSS;
* echo latency of the other seats (one key per 100 ms each, acked as the web client does)
  for 20 s with nothing else running, then while one seat runs ``npm install`` of a small
  package from the npm registry (``--package``, default ``express``).

Prints one markdown table; the README's seats-per-host guidance comes from it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time

import aiohttp
import psutil
from aiohttp import web

from benchmarks._stats import percentile
from benchmarks.terminal_bench import Server, Term, agent_server, ready_term
from clarateach.claude_code import ensure_installed, pinned_version
from clarateach.loadtest.fake_upstream import FAKE_KEY, FakeAnthropic
from shared.domain.model_policy import ClaudeCodeSettings
from workspace_agent.gateway.claude_code import PLATFORM_ENV, write_seat_files
from workspace_agent.settings import AgentSettings

WINDOW = 20.0
IDLE_CPU_PERCENT = 5.0  # all Claude Code processes together, per core, to count as idle


async def typists(terms: list[Term], seconds: float, until: asyncio.Event | None) -> list[float]:
    """Each term types one key per 100 ms for ``seconds`` (or until ``until`` is set)."""
    samples: list[float] = []

    async def one(term: Term, offset: float) -> None:
        await asyncio.sleep(offset)
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline and not (until is not None and until.is_set()):
            tick = time.monotonic()
            start = time.perf_counter()
            await term.send("x" if i % 2 == 0 else "\x7f")
            await term.next_output()
            samples.append(time.perf_counter() - start)
            i += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))

    await asyncio.gather(*(one(t, n * 0.1 / len(terms)) for n, t in enumerate(terms)))
    return samples


def _tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


def _rss(procs: list[psutil.Process]) -> int:
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def _seat_tmux_servers(tmp: str) -> list[psutil.Process]:
    """The seats' tmux servers running Claude Code: the tmux processes whose socket lives in
    a seat's home (under ``tmp``) and that have a child (the clients have none)."""
    found = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            cmd = p.cmdline()
            tmux = cmd and cmd[0].startswith("tmux") and any(tmp in part for part in cmd)
            if tmux and p.children():
                found.append(p)
    return found


async def _wait_idle(tmp: str, seats: int, timeout: float = 900) -> list[psutil.Process]:
    """Every seat's tmux runs Claude Code, and all of them together use < IDLE_CPU_PERCENT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        servers = _seat_tmux_servers(tmp)
        if len(servers) >= seats:
            trees = [q for s in servers for q in _tree(s.pid)]
            for q in trees:
                with contextlib.suppress(psutil.Error):
                    q.cpu_percent()
            await asyncio.sleep(3)
            busy = 0.0
            for q in trees:
                with contextlib.suppress(psutil.Error):
                    busy += q.cpu_percent()
            if busy < IDLE_CPU_PERCENT:
                return servers
        else:
            await asyncio.sleep(2)
    raise TimeoutError("Claude Code did not start (or settle) in every seat")


async def main(seats: int, package: str) -> None:
    install = await asyncio.to_thread(ensure_installed, pinned_version())
    runner = web.AppRunner(FakeAnthropic().app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    upstream = f"http://127.0.0.1:{runner.addresses[0][1]}"
    timeout = aiohttp.ClientTimeout(total=None)
    with tempfile.TemporaryDirectory(prefix="ctd-") as tmp:
        env = {"CLARATEACH_AGENT_CLAUDE_CODE_DIR": str(install.prefix)}
        state = AgentSettings.from_env(
            {"CLARATEACH_AGENT_STATE_DIR": f"{tmp}/agent", "CLARATEACH_AGENT_SEATS": f"1-{seats}"}
        )
        try:
            async with (
                agent_server(state.state_dir, seats, "buffered", env) as server,
                aiohttp.ClientSession(timeout=timeout) as session,
            ):
                result = await _measure(server, session, state, tmp, upstream, package)
        finally:
            for seat in range(1, seats + 1):  # tmux daemonised: the shells' hang-up misses it
                sock = state.workspace(seat) / ".cc.sock"
                await asyncio.to_thread(
                    subprocess.run,
                    ["tmux", "-S", str(sock), "kill-server"],
                    check=False,
                    stderr=subprocess.DEVNULL,
                )
    await runner.cleanup()
    print(_table(result, seats, package))
    print("\nraw:", json.dumps(result, indent=1))


async def _measure(
    server: Server,
    session: aiohttp.ClientSession,
    state: AgentSettings,
    tmp: str,
    upstream: str,
    package: str,
) -> dict[str, float]:
    seats = len(state.seats)
    terms = await asyncio.gather(*(ready_term(server, session, s + 1) for s in range(seats)))
    for seat in range(1, seats + 1):  # what the gateway writes: onboarding done, trust
        write_seat_files(state.workspace(seat), ClaudeCodeSettings(), home=True)
    for term in terms:
        await term.send(_start_claude(upstream) + "\r")
    shells = [p.pid for p in psutil.Process(_holder_pid(server)).children()]
    # Keep reading while Claude Code starts: aiohttp answers the agent's heartbeat pings only
    # inside receive(), and an unanswered ping closes the terminal.
    readers = [asyncio.create_task(_drain(t)) for t in terms]
    try:
        servers = await _wait_idle(tmp, seats)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    for term in terms:
        await term.quiet(0.2)
    result = _memory(server, shells, servers)
    quiet = await typists(terms[:-1], WINDOW, None)
    result.update(_lat("idle", quiet))
    done = asyncio.Event()
    npm = asyncio.create_task(_npm_install(terms[-1], package, done))
    start = time.monotonic()
    busy = await typists(terms[:-1], 600, done)
    result["npm_install_s"] = time.monotonic() - start
    await npm
    result.update(_lat("npm", busy))
    for term in terms:
        await term.close()
    return result


async def _drain(term: Term) -> None:
    while True:
        await term.quiet(1.0)


def _start_claude(upstream: str) -> str:
    """The gateway's environment (pointed at the fake upstream instead), then Claude Code in
    a detached tmux session of the seat's own; the seat's terminal stays at the prompt."""
    env = {**PLATFORM_ENV, "ANTHROPIC_BASE_URL": upstream, "ANTHROPIC_AUTH_TOKEN": FAKE_KEY}
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    return f'export {exports}; tmux -S "$HOME/.cc.sock" -f /dev/null new-session -d claude'


async def _npm_install(term: Term, package: str, done: asyncio.Event) -> None:
    await term.quiet(0.2)
    await term.send(
        'cd "$(mktemp -d)" && npm install --no-audit --no-fund --prefer-online '
        f"--loglevel=error {package} >/dev/null 2>&1; echo NPM-DONE-$((1+1))\r"
    )
    try:
        await term.wait_for("NPM-DONE-2", timeout=600)
    finally:
        done.set()


def _holder_pid(server: Server) -> int:
    pids = server.serving_pids()
    if not pids:
        raise RuntimeError("the agent has no terminal holder")
    return pids[0]


def _pss(procs: list[psutil.Process]) -> int:
    """Proportional set size: shared pages (the Claude Code binary) split between users."""
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_full_info().pss
    return total


def _memory(server: Server, shells: list[int], tmuxes: list[psutil.Process]) -> dict[str, float]:
    shell_rss = [_rss(_tree(pid)) for pid in shells]
    tmux_rss = [_rss([t]) for t in tmuxes]
    claude_rss = [_rss(_tree(t.pid)[1:]) for t in tmuxes]  # Claude Code and its children
    claude_pss = [_pss(_tree(t.pid)[1:]) for t in tmuxes]
    holder = psutil.Process(_holder_pid(server))
    return {
        "claude_pss_mb_median": statistics.median(claude_pss) / 1e6,
        "seats": len(shells),
        "claude_rss_mb_median": statistics.median(claude_rss) / 1e6,
        "claude_rss_mb_max": max(claude_rss) / 1e6,
        "shell_rss_mb_median": statistics.median(shell_rss) / 1e6,
        "tmux_rss_mb_median": statistics.median(tmux_rss) / 1e6,
        "seat_rss_mb_median": statistics.median(
            a + b + c for a, b, c in zip(shell_rss, tmux_rss, claude_rss, strict=False)
        )
        / 1e6,
        "agent_rss_mb": server.rss() / 1e6,
        "holder_rss_mb": holder.memory_info().rss / 1e6,
        "available_mb": psutil.virtual_memory().available / 1e6,
    }


def _lat(prefix: str, samples: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_us": percentile(samples, 50) * 1e6,
        f"{prefix}_p99_us": percentile(samples, 99) * 1e6,
        f"{prefix}_max_us": max(samples) * 1e6,
    }


def _table(r: dict[str, float], seats: int, package: str) -> str:
    rows = [
        (
            "Claude Code RSS per seat, median / max (MB)",
            f"{r['claude_rss_mb_median']:.0f} / {r['claude_rss_mb_max']:.0f}",
        ),
        (
            "Claude Code PSS per seat (shared pages split), median (MB)",
            f"{r['claude_pss_mb_median']:.0f}",
        ),
        (
            "shell / tmux server per seat, median (MB)",
            f"{r['shell_rss_mb_median']:.1f} / {r['tmux_rss_mb_median']:.1f}",
        ),
        (
            "seat total RSS (shell + tmux + Claude Code), median (MB)",
            f"{r['seat_rss_mb_median']:.0f}",
        ),
        ("memory still available with every seat up (MB)", f"{r['available_mb']:,.0f}"),
        ("agent / terminal holder RSS (MB)", f"{r['agent_rss_mb']:.0f} / {r['holder_rss_mb']:.0f}"),
        (
            f"echo p50 / p99 / max, {seats - 1} seats typing, idle (µs)",
            f"{r['idle_p50_us']:,.0f} / {r['idle_p99_us']:,.0f} / {r['idle_max_us']:,.0f}",
        ),
        (
            f"same while one seat runs npm install {package} ({r['npm_install_s']:.1f} s)",
            f"{r['npm_p50_us']:,.0f} / {r['npm_p99_us']:,.0f} / {r['npm_max_us']:,.0f}",
        ),
    ]
    head = (
        f"## Host density ({seats} seats, idle Claude Code in each; {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f})\n\n| measure | value |\n|---|---:|"
    )
    return head + "\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--package", default="express", help="what the busy seat installs")
    args = parser.parse_args()
    asyncio.run(main(args.seats, args.package))
