"""Listening TCP ports in a network namespace, read from ``/proc/<pid>/net/tcp{,6}``.

``/proc/<pid>/net`` shows the tables of the network namespace ``pid`` is in (the agent's own
for ``self``), so no helper process is needed to list a seat's listeners.
"""

from __future__ import annotations

from pathlib import Path

LISTEN = "0A"
MIN_PORT, MAX_PORT = 1024, 65535


def parse_listening(table: str) -> set[int]:
    """Local ports of the ``LISTEN`` rows of one ``/proc/net/tcp``-format table."""
    ports: set[int] = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != LISTEN:
            continue
        try:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except (IndexError, ValueError):
            continue
    return ports


def listening_ports(pid: int | None, exclude: frozenset[int] = frozenset()) -> list[int]:
    """Previewable ports (1024-65535) listening in ``pid``'s namespace (None: the agent's)."""
    base = Path("/proc") / (str(pid) if pid else "self") / "net"
    found: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            found |= parse_listening((base / name).read_text())
        except OSError:
            continue
    return sorted(p for p in found if MIN_PORT <= p <= MAX_PORT and p not in exclude)
