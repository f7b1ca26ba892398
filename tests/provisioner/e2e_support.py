"""Shared wiring for the end-to-end provisioner test and benchmark.

``served_provisioner`` serves functions-framework's ``provisioner`` app (functions/events.py)
on a free port; ``agent_processes`` finds every process that belongs to local hosts (the
agents and anything that mentions their state directories, such as tmux servers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import functions_framework
import psutil

from tests.support.net import serve_wsgi

EVENTS_SOURCE = Path(__file__).resolve().parents[2] / "functions" / "events.py"


@contextmanager
def served_provisioner() -> Iterator[str]:
    """The production ``provisioner`` entry point behind HTTP; yields its push URL."""
    app = functions_framework.create_app(
        target="provisioner", source=str(EVENTS_SOURCE), signature_type="cloudevent"
    )
    with serve_wsgi(app) as url:
        yield url + "/"


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
