"""Cold-start import cost of each HTTP entry point (a function imports only what it needs).

For every entry point in ``functions.package.ENTRY_POINTS`` this starts a fresh interpreter
that builds the functions-framework app for that target from ``functions/main.py`` (what a
new Cloud Functions instance does before its first request), plus the router
(``functions.http``) that an HTTP function imports on its first request, and reports:

* ``wall ms``   - the subprocess's time to import and build the app (median of ``--rounds``);
* ``import ms`` - the cumulative self time ``python -X importtime`` attributes to imports;
* ``modules``   - how many modules were loaded, and whether the heavy Google client libraries
  (Firestore, Pub/Sub, Compute, Secret Manager) were among them.

The platform itself (clients, connections) is bootstrapped lazily on the first request and
is not part of this number. Timing is reported, never asserted.

    python -m benchmarks.entrypoint_import_bench [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from functions.package import ENTRY_POINTS

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "functions" / "main.py"
HEAVY = (
    "google.cloud.firestore",
    "google.cloud.pubsub",
    "google.cloud.compute",
    "google.cloud.secretmanager",
)
PROBE = """
import sys, functions_framework
functions_framework.create_app(target=sys.argv[1], source=sys.argv[2])
if sys.argv[1] not in ("provisioner", "reconciler", "certificates"):
    import functions.http  # what the first HTTP request imports
heavy = [m for m in sys.argv[3].split(",") if m in sys.modules]
print(len(sys.modules), ",".join(heavy) or "-")
"""


def measure(target: str) -> tuple[float, float, int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLARATEACH_MODE": "local"}
    args = [sys.executable, "-X", "importtime", "-c", PROBE, target, str(MAIN), ",".join(HEAVY)]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    wall = (time.perf_counter() - started) * 1000
    self_us = 0
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            field = line.split(":", 1)[1].split("|")[0].strip()
            if field.isdigit():
                self_us += int(field)
    modules, heavy = done.stdout.split()
    return wall, self_us / 1000, int(modules), heavy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    print(f"{'entry point':<16} {'wall ms':>8} {'import ms':>10} {'modules':>8}  heavy clients")
    for target in ENTRY_POINTS:
        runs = [measure(target) for _ in range(options.rounds)]
        wall = statistics.median(r[0] for r in runs)
        imported = statistics.median(r[1] for r in runs)
        _, _, modules, heavy = runs[-1]
        print(f"{target:<16} {wall:>8.0f} {imported:>10.0f} {modules:>8}  {heavy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
