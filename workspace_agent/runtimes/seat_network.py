"""The network a sandboxed local seat sees (``CLARATEACH_AGENT_SEAT_NETWORK``).

A learner's shell is hostile, and on a local host it shares the machine with the platform:
the local provisioner's push endpoint, the API, sibling hosts' agents and their seats'
listeners all sit on the machine's loopback. On the machine's network a seat can connect to
every one of them (and read their ports from ``/proc/net/tcp``).

``isolated`` gives each sandboxed shell its own network namespace (bubblewrap's
``--unshare-net``), wired up by Debian's ``passt``/``pasta`` user-mode networking
(``netns_launch.py``): outbound TCP/UDP through the host's sockets (``pip install``, ``git
clone``), the agent's own port forwarded from the sandbox's loopback (so
``ANTHROPIC_BASE_URL=http://127.0.0.1:<port>/seats/<n>/model`` keeps working), and nothing
else of the host's loopback; nothing the seat listens on is published on the host. What
remains reachable: the agent's port (every route on it authenticates: learner JWTs, the
seat's gateway token, instructor tokens on ``/control``), and anything the machine itself can
reach on the network, including services bound to a non-loopback address of the machine
other than the one the sandbox copies (pasta gives the sandbox the host's addresses, so the
host's primary address is the sandbox's own).

``host`` is the machine's network: the documented minimum, where every platform listener
must authenticate its callers because a seat reaches them all. ``auto`` (the default) is
``isolated`` wherever bubblewrap and pasta can build it (probed once, by running the real
launcher), else ``host`` with a warning in the log. Without bubblewrap a seat is never
isolated (there is no sandbox to put the namespace in).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workspace_agent.logs import log_event
from workspace_agent.runtimes.sandbox import sandbox_argv
from workspace_agent.settings import SeatNetworkMode

log = logging.getLogger("workspace_agent.runtime.network")

LAUNCHER = Path(__file__).with_name("netns_launch.py")
PROBE_TIMEOUT = 20.0


@dataclass(frozen=True)
class SeatNetwork:
    """How sandboxed shells are started: ``pasta`` None = on the machine's network."""

    pasta: str | None = None
    forward: tuple[int, ...] = ()

    @property
    def isolated(self) -> bool:
        return self.pasta is not None

    def wrap(self, bwrap_argv: Sequence[str], announce: Path | None = None) -> list[str]:
        """The command that runs ``bwrap_argv`` on this network; ``announce``: the file the
        launcher writes the sandbox's PID to (the app preview's way into the namespace)."""
        if self.pasta is None:
            return list(bwrap_argv)
        argv = [sys.executable, "-I", str(LAUNCHER), "--pasta", self.pasta]
        for port in self.forward:
            argv += ["--forward", str(port)]
        if announce is not None:
            argv += ["--announce", str(announce)]
        return [*argv, "--", *bwrap_argv]


def isolation_works(bwrap: str, pasta: str) -> bool:
    """Whether an isolated seat can be built here: ``true`` run through the real launcher
    (bubblewrap's namespaces, then pasta attached), on a scratch workspace."""
    with tempfile.TemporaryDirectory(prefix="ct-seatnet-probe-") as scratch:
        argv = SeatNetwork(pasta).wrap(sandbox_argv(bwrap, Path(scratch), "/bin/true"))
        try:
            done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0


def choose_seat_network(
    mode: SeatNetworkMode, bwrap: str | None, forward: Sequence[int]
) -> SeatNetwork:
    """The seat network for ``mode``; raises ``RuntimeError`` if ``isolated`` cannot be had.
    Logs the decision (``seat_network``; a warning whenever seats share the machine's)."""
    ports = tuple(port for port in forward if port)
    pasta = shutil.which("pasta")
    reason = "configured" if mode == "host" else _why_not_isolated(bwrap, pasta)
    if reason is None and pasta is not None:
        log_event(log, "seat_network", network="isolated", forwarded_ports=list(ports))
        return SeatNetwork(pasta, ports)
    if mode == "isolated":
        raise RuntimeError(f"CLARATEACH_AGENT_SEAT_NETWORK=isolated: {reason}")
    log_event(log, "seat_network", level=logging.WARNING, network="host", reason=reason)
    return SeatNetwork()


def _why_not_isolated(bwrap: str | None, pasta: str | None) -> str | None:
    if bwrap is None:
        return "seats are not sandboxed (CLARATEACH_AGENT_BWRAP)"
    if pasta is None:
        return "pasta is not installed (apt-get install passt)"
    if not isolation_works(bwrap, pasta):
        return "pasta cannot set up the sandbox's network namespace here"
    return None
