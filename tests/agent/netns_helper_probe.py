"""Run as an unprivileged user (standard library only): a server in a bubblewrap sandbox with
its own user and network namespaces, reached through ``netns_connect.py`` with ``--userns``
(the path a non-root agent takes). Prints the first line of the server's answer.

``python3 netns_helper_probe.py HELPER SERVERS_PY PORT SCRATCH_DIR``
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    helper, servers, port, scratch = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [bwrap, "--ro-bind", "/", "/", "--bind", scratch, scratch, "--chdir", scratch,
            "--unshare-net", "--unshare-user", "--die-with-parent",
            sys.executable, servers, str(port)]  # fmt: skip
    sandbox = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(f"{scratch}/server-{port}.ready"):
            if time.monotonic() > deadline or sandbox.poll() is not None:
                print("server did not start")
                return 1
            time.sleep(0.02)  # bounded poll of a readiness file
        own_net = os.readlink("/proc/self/ns/net")
        pid = next(
            int(p) for p in os.listdir("/proc")
            if p.isdigit() and os.stat(f"/proc/{p}").st_uid == os.geteuid()
            and b"server" in Path(f"/proc/{p}/cmdline").read_bytes()
            and os.readlink(f"/proc/{p}/ns/net") != own_net
        )  # fmt: skip
        net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        user = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        args = ["--netns", str(net), "--userns", str(user), "--control", str(theirs.fileno())]
        proc = subprocess.Popen(
            [sys.executable, "-I", helper, *args], pass_fds=(net, user, theirs.fileno())
        )
        theirs.close()
        if ours.recv(1) != b"\x00":
            print("helper could not join the namespaces")
            return 1
        ours.send(struct.pack("!H", port))
        status, fds, _, _ = socket.recv_fds(ours, 1, 1)
        if status != b"\x00" or not fds:
            print(f"helper status {status!r}")
            return 1
        with socket.socket(fileno=fds[0]) as conn:
            conn.sendall(b"GET /headers HTTP/1.0\r\nHost: probe\r\n\r\n")
            print(conn.recv(4096).split(b"\r\n", 1)[0].decode())
        ours.close()
        proc.wait(timeout=5)
        return 0
    finally:
        sandbox.kill()
        sandbox.wait()


if __name__ == "__main__":
    sys.exit(main())
