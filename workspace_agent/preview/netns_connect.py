"""Connect to ports on a seat's loopback from inside the seat's network namespace.

``python -I netns_connect.py --control FD --netns FD [--userns FD]``

The agent starts one of these per seat network namespace (``reach.py``). It joins the
namespace (first the sandbox's user namespace when the agent is not root: an unprivileged
process may only enter a network namespace owned by a user namespace it is in, and only a
single-threaded process may enter a user namespace, which is why this is a process of its
own and not a thread of the agent), then serves requests on the ``--control`` socket (a
``SOCK_SEQPACKET`` pair): each request is a 2-byte big-endian port; the answer is one status
byte, and for ``OK`` the connected socket itself, passed back with ``SCM_RIGHTS``. A socket
keeps the namespace it was created in, so the agent then talks to the seat's server with no
port opened anywhere: other seats, and the machine, see nothing new.

Only the standard library (it runs with ``-I``). It exits when the agent closes the control
socket, or dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import struct
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
CONNECT_TIMEOUT = 3.0

OK, REFUSED, TIMEOUT, FAILED = b"\x00", b"\x01", b"\x02", b"\x03"


def _setns(libc: ctypes.CDLL, fd: int, nstype: int) -> None:
    if libc.setns(fd, nstype) != 0:
        errno = ctypes.get_errno()
        kind = "user" if nstype == CLONE_NEWUSER else "network"
        raise OSError(errno, f"{kind} namespace: {os.strerror(errno)}")


def connect(port: int) -> tuple[bytes, socket.socket | None]:
    """127.0.0.1 first, then ::1 (``localhost`` binds either, depending on the tool)."""
    status = REFUSED
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect((address, port))
        except ConnectionRefusedError:
            sock.close()
            continue
        except TimeoutError:
            sock.close()
            status = TIMEOUT
            continue
        except OSError:
            sock.close()
            status = FAILED if status == REFUSED else status
            continue
        sock.setblocking(True)
        return OK, sock
    return status, None


def serve(control: socket.socket) -> int:
    while True:
        try:
            request = control.recv(16)
        except OSError:
            return 0
        if len(request) != 2:
            return 0
        (port,) = struct.unpack("!H", request)
        status, sock = connect(port) if port >= 1 else (FAILED, None)
        try:
            if sock is None:
                control.send(status)
            else:
                socket.send_fds(control, [status], [sock.fileno()])
        except OSError:
            return 0
        finally:
            if sock is not None:
                sock.close()


def main(args: list[str]) -> int:
    options = dict(zip(args[::2], args[1::2], strict=False))
    try:
        control_fd = int(options["--control"])
        netns_fd = int(options["--netns"])
        userns_fd = int(options["--userns"]) if "--userns" in options else None
    except (KeyError, ValueError):
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    control = socket.socket(fileno=control_fd)
    try:
        if userns_fd is not None:
            _setns(libc, userns_fd, CLONE_NEWUSER)
        _setns(libc, netns_fd, CLONE_NEWNET)
    except OSError as exc:
        print(f"clarateach: cannot enter the seat's network: {exc}", file=sys.stderr)
        control.send(FAILED)
        return 1
    for fd in (netns_fd, userns_fd):
        if fd is not None:
            os.close(fd)
    control.send(OK)  # ready
    return serve(control)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
