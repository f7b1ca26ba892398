"""The seat launcher (``workspace_agent/runtimes/netns_launch.py``) with stand-ins for
bubblewrap and pasta, to drive the one failure real ones produce only under load: the
sandbox dying after it reported its PID but before the launcher released it (bubblewrap's
loopback setup racing pasta's). That is a failed setup, not a session: the launcher starts
the sandbox again instead of dying with a traceback in the learner's terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workspace_agent.runtimes import netns_launch

LAUNCHER = Path(netns_launch.__file__)

#: bubblewrap stand-in: ``--info-fd N --block-fd M`` as bwrap has them. Attempt numbers are
#: counted in $FAKE_COUNT; the first $FAKE_FAILURES attempts drop the block fd without waiting
#: (as a sandbox that died during setup), later ones wait for the release and run the rest.
FAKE_BWRAP = r"""#!/usr/bin/env python3
import json, os, signal, sys
args = sys.argv[1:]
info = int(args[args.index("--info-fd") + 1])
block = int(args[args.index("--block-fd") + 1])
rest = args[args.index("--block-fd") + 2:]
count_file = os.environ["FAKE_COUNT"]
n = int(open(count_file).read() or 0) + 1 if os.path.exists(count_file) else 1
open(count_file, "w").write(str(n))
os.write(info, json.dumps({"child-pid": os.getpid()}).encode())
os.close(info)
if n <= int(os.environ["FAKE_FAILURES"]):
    os.close(block)
    signal.pause()  # until the launcher kills it
    sys.exit(1)
os.read(block, 1)
os.execvp(rest[0], rest)
"""

#: pasta stand-in: writes its PID file (pasta's "initialised" signal) and waits to be ended.
FAKE_PASTA = r"""#!/usr/bin/env python3
import os, signal, sys
args = sys.argv[1:]
open(args[args.index("--pid") + 1], "w").write(str(os.getpid()))
signal.pause()  # until the launcher terminates it
"""


def run_launcher(tmp_path: Path, failures: int) -> tuple[subprocess.CompletedProcess[str], int]:
    bwrap, pasta = tmp_path / "bwrap", tmp_path / "pasta"
    bwrap.write_text(FAKE_BWRAP)
    pasta.write_text(FAKE_PASTA)
    bwrap.chmod(0o755)
    pasta.chmod(0o755)
    count = tmp_path / "count"
    argv = [sys.executable, "-I", str(LAUNCHER), "--pasta", str(pasta), "--"]
    argv += [str(bwrap), "/bin/echo", "shell-ran"]
    env = {"FAKE_COUNT": str(count), "FAKE_FAILURES": str(failures), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    return done, int(count.read_text())


def test_a_sandbox_that_dies_before_its_release_is_started_again(tmp_path: Path) -> None:
    done, attempts = run_launcher(tmp_path, failures=1)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "shell-ran"
    assert attempts == 2
    assert "Traceback" not in done.stderr


def test_a_setup_that_keeps_failing_says_so_once_without_a_traceback(tmp_path: Path) -> None:
    done, attempts = run_launcher(tmp_path, failures=netns_launch.SETUP_ATTEMPTS)
    assert done.returncode == 1
    assert attempts == netns_launch.SETUP_ATTEMPTS
    assert "could not be started" in done.stderr and "Traceback" not in done.stderr
    assert "shell-ran" not in done.stdout
