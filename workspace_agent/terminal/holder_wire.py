"""What the agent and the terminal holder share: where the socket is, messages, peer checks.

The socket is ``<state_dir>/terminal-holder/holder.sock``, a ``SOCK_SEQPACKET`` Unix socket
(message boundaries kept, descriptors passed with ``SCM_RIGHTS``). Its directory is 0700 and
lives in the agent's state directory, which no seat can see: bubblewrap seats see only their
workspace and the system trees, docker seats only their container. Both ends address it as
``/proc/self/fd/<directory fd>/holder.sock`` so a deep state directory never hits the
108-byte ``sun_path`` limit.

The holder accepts a peer only if ``SO_PEERCRED`` names its own UID *and* the peer shares its
PID namespace. Every seat has its own (bubblewrap ``--unshare-pid``, a docker container),
while the agent shares the holder's even as a separate systemd unit (systemd gives units
their own mount namespaces, never PID namespaces), so a seat that runs as the agent's UID and
somehow learnt the path still cannot take a terminal's descriptors.

Messages are one JSON object per packet (``op`` names it); descriptors ride on the packet
that describes them. See ``holder.py`` for the operations.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from pathlib import Path
from typing import Any

DIRNAME = "terminal-holder"
SOCKET_NAME = "holder.sock"
LOCK_NAME = "holder.lock"
LOG_NAME = "holder.log"
PID_NAME = "holder.pid"
MAX_PACKET = 256 * 1024  # a spawn carries argv + environment; far below this
MAX_FDS = 8


def holder_dir(state_dir: Path) -> Path:
    return Path(state_dir) / DIRNAME


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` 0700; refuse one that is not ours or that others can enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if st.st_uid != os.getuid() or not os.path.isdir(path) or os.path.islink(path):
        raise PermissionError(f"{path} is not a directory owned by this user")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def open_dir(path: Path) -> int:
    return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)


def address(dir_fd: int) -> str:
    return f"/proc/self/fd/{dir_fd}/{SOCKET_NAME}"


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def recv(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and its descriptors (close-on-exec); ``(None, [])`` at EOF. Descriptors of
    a malformed message are closed and ``ValueError`` raised."""
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_PACKET, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
    if not data and not fds:
        return None, []
    try:
        message = json.loads(data)
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise ValueError("not a holder message")
    except ValueError:
        close_all(fds)
        raise
    return message, fds


def close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _pid_ns(pid: int | str) -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/pid")
    return st.st_dev, st.st_ino


def peer_allowed(sock: socket.socket) -> bool:
    """The peer runs as our UID in our PID namespace (see the module docstring)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.getuid() or pid <= 0:
        return False
    try:
        return _pid_ns(pid) == _pid_ns("self")
    except OSError:
        return False
