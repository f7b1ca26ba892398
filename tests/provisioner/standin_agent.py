"""A stand-in for ``python -m workspace_agent``: just enough to exercise ``LocalCompute``.

Reads the agent environment (docs/protocol.md section 5), serves ``/healthz`` on the port it
is given (0 = any), appends one line to ``CLARATEACH_STANDIN_SPAWN_LOG`` per start, starts a
long-lived child process (to prove the whole group is stopped), and, unless
``CLARATEACH_STANDIN_MODE`` says otherwise, publishes ``host.ready`` through the bus named by
``CLARATEACH_AGENT_EVENTS``. Modes: ``ready`` (default), ``never_ready`` (NeverReadyHost),
``ignore_sigterm`` (ready, but only SIGKILL stops it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared.adapters.local_bus import LocalBus
from shared.adapters.urls import bus_from_url
from shared.domain.events import HOST_READY, Event


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    env = os.environ
    mode = env.get("CLARATEACH_STANDIN_MODE", "ready")
    server = ThreadingHTTPServer(
        (env["CLARATEACH_AGENT_BIND"], int(env["CLARATEACH_AGENT_PORT"])), _Health
    )
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    child = subprocess.Popen(["sleep", "600"])  # stands in for the agent's seat processes
    spawn_log = env.get("CLARATEACH_STANDIN_SPAWN_LOG")
    if spawn_log:
        with open(spawn_log, "a") as log:
            log.write(
                f"{env['CLARATEACH_AGENT_WORKSHOP_ID']} {env['CLARATEACH_AGENT_HOST_INDEX']} "
                f"{os.getpid()} {child.pid}\n"
            )
    stop = threading.Event()
    if mode == "ignore_sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if mode != "never_ready":
        endpoint = f"http://127.0.0.1:{server.server_port}"
        bus = bus_from_url(
            env["CLARATEACH_AGENT_EVENTS"], token=env.get("CLARATEACH_AGENT_EVENTS_TOKEN")
        )
        bus.publish(
            Event(
                HOST_READY,
                env["CLARATEACH_AGENT_WORKSHOP_ID"],
                {
                    "host_index": int(env["CLARATEACH_AGENT_HOST_INDEX"]),
                    "attempt": int(env.get("CLARATEACH_AGENT_ATTEMPT", "0")),
                    "endpoint": endpoint,
                    "timings": {},
                },
            )
        )
        if isinstance(bus, LocalBus):
            bus.drain(timeout=30)
    stop.wait()
    server.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
