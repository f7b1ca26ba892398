"""``clarateach loadtest --local`` at workshop-day sizes, plus a search for the knee.

Each scenario runs the real command (a private local platform with real agents and seat
shells, a fake Anthropic upstream) as a child process with ``--json`` and prints one row:
join / code → prompt / echo percentiles, failures, the hosts' CPU, the loadtest's own CPU
and the machine's load average before the run (the conditions). Timing is reported, never
asserted; a NOT READY verdict is a result, not an error.

    python -m benchmarks.loadtest_bench [day] [large] [burst] [knee]

* ``day``:   100 learners arriving over 20 s (10 hosts of 10);
* ``large``: 500 learners over 60 s, 10 hosts of 50;
* ``burst``: 200 learners at once (4 hosts of 50);
* ``knee``:  bursts of growing size; the largest with code → prompt p99 < 2 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from benchmarks._stats import print_table

SCENARIOS: dict[str, list[str]] = {
    "day": ["--learners", "100", "--over", "20", "--seats-per-host", "10"],
    "large": ["--learners", "500", "--over", "60", "--seats-per-host", "50"],
    "burst": ["--learners", "200", "--burst", "--seats-per-host", "50"],
}
COMMON = ["--duration", "10", "--type-rate", "5", "--model-requests", "2"]
KNEE_SIZES = (25, 50, 75, 100, 150, 200, 300)
KNEE_P99_S = 2.0


def loadtest(args: list[str]) -> dict[str, Any]:
    """One ``clarateach loadtest --local --json`` run; its report."""
    done = subprocess.run(
        [sys.executable, "-m", "clarateach.cli", "loadtest", "--local", "--json", *COMMON, *args],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode not in (0, 7):
        raise RuntimeError(f"loadtest exited {done.returncode}: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout))


def row(name: str, report: dict[str, Any], load_before: float) -> dict[str, Any]:
    lat = report["latency_s"]
    hosts = report["hosts"]
    cpu = [h["host_cpu_percent"]["mean"] for h in hosts if h["host_cpu_percent"]["mean"]]
    agent_cpu = sum(h["agent_cpu_seconds"] or 0 for h in hosts)

    def ms(metric: str, q: str) -> str:
        value = lat[metric][q]
        return "-" if value is None else f"{value * 1000:.0f}"

    return {
        "name": name,
        "load1 before": load_before,
        "arrive s": report["arrival_spread_s"] or 0.0,
        "start→run s": report["start_to_running_s"] or 0.0,
        "join p50/p99 ms": f"{ms('join', 'p50')}/{ms('join', 'p99')}",
        "ws p50/p99 ms": f"{ms('terminal_connect', 'p50')}/{ms('terminal_connect', 'p99')}",
        "1st out p50/p99 ms": f"{ms('first_output', 'p50')}/{ms('first_output', 'p99')}",
        "prompt p50/p95/p99/max ms": "/".join(
            ms("code_to_prompt", q) for q in ("p50", "p95", "p99", "max")
        ),
        "echo p50/p99/max ms": "/".join(ms("echo", q) for q in ("p50", "p99", "max")),
        "model p99 ms": ms("model_request", "p99"),
        "failed": report["learners"]["failed"],
        "causes": ",".join(f"{k}={v}" for k, v in report["failures"].items()) or "-",
        "host cpu% mean": max(cpu) if cpu else 0.0,
        "agents cpu-s": agent_cpu,
        "loadtest cpu-s": report["loadtest_process"]["cpu_seconds"],
        "platform cpu-s": report.get("platform_process", {}).get("cpu_seconds", "-"),
        "verdict": "READY" if report["verdict"]["pass"] else "NOT READY",
    }


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [*SCENARIOS, "knee"]
    rows = []
    for name in names:
        if name == "knee":
            knee = None
            for size in KNEE_SIZES:
                load = os.getloadavg()[0]
                report = loadtest(["--learners", str(size), "--burst", "--seats-per-host", "50"])
                rows.append(row(f"knee burst {size}", report, load))
                p99 = report["latency_s"]["code_to_prompt"]["p99"]
                if p99 is None or p99 >= KNEE_P99_S or report["learners"]["failed"]:
                    break
                knee = size
            print(f"knee: largest burst with code → prompt p99 < {KNEE_P99_S:g} s: {knee}")
            continue
        load = os.getloadavg()[0]
        rows.append(row(name, loadtest(SCENARIOS[name]), load))
        print(json.dumps(rows[-1]), flush=True)
    print_table("clarateach loadtest --local (2-core machine, shared)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
