"""Shared wiring for the end-to-end provisioner test and benchmark.

``served_provisioner`` serves functions-framework's ``provisioner`` app (functions/events.py)
on a free port (behind the push-token check the local platform puts in front of it, when given
a token); ``served_join_function`` serves the ``join`` function (functions/main.py), which
takes the hosts' ``POST /api/hosts/events``; ``agent_processes`` finds every process that
belongs to local hosts (the agents and anything that mentions their state directories, such as
tmux servers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import functions_framework
import psutil

from clarateach.provisioner_server import require_push_token
from tests.support.net import serve_wsgi

EVENTS_SOURCE = Path(__file__).resolve().parents[2] / "functions" / "events.py"
MAIN_SOURCE = Path(__file__).resolve().parents[2] / "functions" / "main.py"


@contextmanager
def served_provisioner(push_token: str | None = None) -> Iterator[str]:
    """The production ``provisioner`` entry point behind HTTP; yields its push URL.

    With ``push_token`` only deliveries carrying it are heard, as in ``clarateach local up``."""
    app = functions_framework.create_app(
        target="provisioner", source=str(EVENTS_SOURCE), signature_type="cloudevent"
    )
    if push_token is not None:
        app = require_push_token(app, push_token)
    with serve_wsgi(app) as url:
        yield url + "/"


@contextmanager
def served_join_function() -> Iterator[str]:
    """The production ``hosts`` function (it serves ``/api/hosts/*``); yields its base URL."""
    app = functions_framework.create_app(
        target="hosts", source=str(MAIN_SOURCE), signature_type="http"
    )
    with serve_wsgi(app) as url:
        yield url


def agent_processes(hosts_dir: Path) -> list[psutil.Process]:
    """Live processes started for hosts under ``hosts_dir`` (agents, tmux servers, shells)."""
    marker = str(hosts_dir.resolve())
    found = []
    for proc in psutil.process_iter(["cmdline", "environ", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(proc.info["cmdline"] or ())
            state = (proc.info["environ"] or {}).get("CLARATEACH_AGENT_STATE_DIR", "")
            if marker in cmdline or state.startswith(marker):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
