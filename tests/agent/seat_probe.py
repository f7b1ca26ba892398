"""Run *inside* a seat's sandbox by tests/agent/test_seat_network.py (standard library only).

``python3 seat_probe.py targets.json result.json``: tries a TCP connection to every target,
reads the seat's own ``/proc/net/tcp{,6}`` listeners, and calls the gateway with the seat's
token, the way a curious learner would. Writes what it saw as JSON; decides nothing.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.request


def listening(path: str) -> list[int]:
    ports = []
    try:
        with open(path) as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    except OSError:
        pass
    return sorted(set(ports))


def connect(family: int, address: tuple[object, ...]) -> str:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        try:
            sock.connect(address)
        except OSError as exc:
            return type(exc).__name__
        return "connected"


def http_status(url: str, token: str | None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return -1


def main(targets_path: str, result_path: str) -> None:
    with open(targets_path) as f:
        targets = json.load(f)
    result: dict[str, object] = {
        "own_listeners": listening("/proc/net/tcp") + listening("/proc/net/tcp6"),
        "v4": {str(p): connect(socket.AF_INET, ("127.0.0.1", p)) for p in targets["ports"]},
        "v6": {str(p): connect(socket.AF_INET6, ("::1", p, 0, 0)) for p in targets["ports"]},
    }
    base = os.environ["ANTHROPIC_BASE_URL"]
    result["gateway"] = http_status(f"{base}/v1/models", os.environ["ANTHROPIC_AUTH_TOKEN"])
    agent = base.rsplit("/seats/", 1)[0]
    result["agent_unauthenticated"] = {
        route: http_status(f"{agent}{route}", None)
        for route in ("/control/usage", "/seats/2/files?path=", "/seats/1/model/v1/models")
    }
    outside = targets.get("outside")
    if outside:  # a host on the internet, by name: DNS and TCP through the sandbox's network
        try:
            result["outside"] = connect(
                socket.AF_INET, (socket.gethostbyname(outside["host"]), outside["port"])
            )
        except OSError as exc:
            result["outside"] = type(exc).__name__
    tmp = result_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, result_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
