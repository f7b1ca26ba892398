"""``clarateach local up --demo``: time from process start to the join code being printed.

Each run starts ``python -m clarateach.cli local up --demo --port 0`` in a fresh state
directory and timestamps the lines a user sees:

* ``server up``     "ClaraTeach is running at ..." (imports, SQLite, provisioner, HTTP bound)
* ``demo created``  "Demo workshop ... created"    (API create: key stored, workshop row)
* ``join code``     "Join code: CLAUDE-XXXX"       (start -> provisioner -> agent + tmux seats
                                                    -> host.ready -> running)

then sends SIGTERM and times the clean stop (``stopped``: until the process exited). Prints
the median and worst of each phase. Timing is reported, never asserted; exits 1 only if a run
fails to print a join code or does not exit cleanly.

    python -m benchmarks.local_up_bench [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._stats import print_table

PHASES = (
    ("server up", re.compile(r"ClaraTeach is running at")),
    ("demo created", re.compile(r"Demo workshop \S+ created")),
    ("join code", re.compile(r"Join code:\s+CLAUDE-")),
)
TIMEOUT_S = 120.0


def one_run(state_dir: Path) -> dict[str, float]:
    """Seconds from spawn to each phase's line, plus the time SIGTERM takes to exit."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    env.pop("ANTHROPIC_API_KEY", None)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clarateach.cli",
            "local",
            "up",
            "--demo",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen: dict[str, float] = {}
    output: list[str] = []
    try:
        # Blocks per line; the demo itself gives up (and says so) after 120 s, so a line comes.
        for line in proc.stdout:
            output.append(line)
            for name, pattern in PHASES:
                if name not in seen and pattern.search(line):
                    seen[name] = time.perf_counter() - start
            if "join code" in seen or time.perf_counter() - start > TIMEOUT_S:
                break
        if "join code" not in seen:
            raise RuntimeError("no join code printed:\n" + "".join(output))
        stop_started = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        seen["stopped"] = time.perf_counter() - stop_started
        if code != 0:
            raise RuntimeError(f"local up exited with {code} after SIGTERM")
        return seen
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    runs: list[dict[str, float]] = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="local-up-bench-") as tmp:
            try:
                runs.append(one_run(Path(tmp) / "state"))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"run {i + 1} failed: {exc}", file=sys.stderr)
                return 1
    rows = []
    for name in [*(n for n, _ in PHASES), "stopped"]:
        samples = [run[name] for run in runs if name in run]
        rows.append(
            {
                "phase": name,
                "n": len(samples),
                "median s": statistics.median(samples),
                "max s": max(samples),
            }
        )
    print_table(
        f"local up --demo ({args.runs} runs; phases are seconds since process start, "
        "'stopped' is seconds from SIGTERM to exit)",
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
