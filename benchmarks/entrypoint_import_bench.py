"""Cold start of each function: what a fresh instance imports and how long it takes.

For every entry point in ``functions.package.ENTRY_POINTS`` this starts fresh interpreters
(``--rounds`` each, one after the other) that do what Cloud Run's functions-framework does with
``FUNCTION_TARGET=<entry>``: build the app from ``functions/main.py`` in GCP mode and serve the
first request (``tests.support.coldstart.FIRST_REQUESTS``; the CloudEvent functions are only
loaded). No request reaches Google. It reports the medians of:

* ``load ms``    - building the app (importing ``functions/main.py`` and what it imports);
* ``1st req ms`` - serving the first request (importing the function's handlers, services and
  the adapters that request builds);
* ``import ms``  - the total self time ``python -X importtime`` attributes to imports;
* ``modules``    - how many modules were loaded after the first request, and which of the
  heavy Google client libraries (Firestore, Pub/Sub, Compute, Secret Manager) were among them.

Timing is reported, never asserted (``tests/api/test_entrypoint_imports.py`` asserts what each
function never imports).

    python -m benchmarks.entrypoint_import_bench [--rounds 5] [entry ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from functions.package import ENTRY_POINTS
from tests.support import coldstart

HEAVY = {
    "firestore": "google.cloud.firestore",
    "pubsub": "google.cloud.pubsub_v1",
    "compute": "google.cloud.compute_v1",
    "secretmanager": "google.cloud.secretmanager",
}


def import_ms(stderr: str) -> float:
    """The summed self time of every ``-X importtime`` line, in ms."""
    total_us = 0
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            field = line.split(":", 1)[1].split("|")[0].strip()
            if field.isdigit():
                total_us += int(field)
    return total_us / 1000


def measure(
    target: str, env: dict[str, str], workdir: Path
) -> tuple[float, float, float, int, str]:
    process = coldstart.start(target, env, workdir, "-X", "importtime")
    report, stderr = coldstart.result(process, timeout=300)
    modules = set(report["modules"])
    heavy = ",".join(short for short, name in HEAVY.items() if name in modules) or "-"
    return (
        report["load_ms"],
        report["first_request_ms"],
        import_ms(stderr),
        len(modules),
        heavy,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("targets", nargs="*", default=list(ENTRY_POINTS))
    options = parser.parse_args()
    print(f"cold start per entry point (GCP mode, median of {options.rounds} fresh processes)")
    print(
        f"{'entry point':<16} {'load ms':>8} {'1st req ms':>10} {'import ms':>10} "
        f"{'modules':>8}  heavy clients"
    )
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        workdir = Path(tmp)
        env = coldstart.gcp_env(workdir)
        for target in options.targets:
            runs = [measure(target, env, workdir) for _ in range(options.rounds)]
            load, first, imported = (statistics.median(r[i] for r in runs) for i in range(3))
            _, _, _, modules, heavy = runs[-1]
            first_text = f"{first:>10.0f}" if target in coldstart.FIRST_REQUESTS else f"{'-':>10}"
            print(f"{target:<16} {load:>8.0f} {first_text} {imported:>10.0f} {modules:>8}  {heavy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
