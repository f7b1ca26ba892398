"""The bubblewrap command line that confines a local seat's shell (``CLARATEACH_AGENT_BWRAP``).

The sandbox is built from an allowlist, not by hiding things from a read-only ``/``: the
system trees a shell and Claude Code need (``/usr``, ``/etc``, the merged-usr links, ``/opt``
and the resolver's ``/run/systemd/resolve``) read-only, a private ``/dev``, ``/proc`` (of a
new PID namespace, so no other process's environment or command line is visible) and
``/tmp``, and the seat's workspace — the one writable path, also HOME and cwd. Everything else
on the machine does not exist inside: sibling seats, the agent's and the platform's state
(gateway tokens, secrets, the instructor token file), the operator's home, ``/run`` with its
sockets (a read-only bind would still let a process connect to a Docker socket).

Not ``--new-session``: the shell keeps the PTY as its controlling terminal, so job control
and Ctrl-C work. The TIOCSTI injection that flag guards against only reaches the seat's own
terminal here, which nothing outside the sandbox reads as a shell.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

READ_ONLY_TREES = ("/usr", "/etc", "/opt", "/run/systemd/resolve")
MERGED_USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def sandbox_argv(
    bwrap: str,
    workspace: Path,
    shell: str,
    read_only: Sequence[Path] = (),
    command: Sequence[str] | None = None,
) -> list[str]:
    """argv running ``shell -l`` (or ``command``, e.g. a content check) in bubblewrap with
    only ``workspace`` writable; each of ``read_only`` (e.g. the Claude Code prefix) is bound
    read-only at its own path."""
    work = str(workspace.resolve())
    argv = [bwrap]
    for tree in READ_ONLY_TREES:
        argv += ["--ro-bind-try", tree, tree]
    for link in MERGED_USR_LINKS:
        if os.path.islink(link):  # /bin -> usr/bin on merged-usr systems
            argv += ["--symlink", os.readlink(link), link]
        else:
            argv += ["--ro-bind-try", link, link]
    argv += [
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",  # noqa: S108 - a private tmpfs inside the sandbox
        "--bind", work, work,
    ]  # fmt: skip
    for path in read_only:  # after --tmpfs /tmp, which would hide a path under /tmp
        argv += ["--ro-bind", str(path.resolve()), str(path.resolve())]
    argv += [
        "--chdir", work,
        "--setenv", "HOME", work,
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--cap-drop", "ALL",
        "--die-with-parent",
    ]  # fmt: skip
    return [*argv, *(command if command is not None else (shell, "-l"))]


def sandbox_works(bwrap: str) -> bool:
    """Whether ``bwrap`` can build this sandbox here (it cannot in some unprivileged
    containers, which lack user or PID namespaces): ``true`` run in it, on a scratch
    workspace."""
    with tempfile.TemporaryDirectory(prefix="ct-sandbox-probe-") as scratch:
        argv = sandbox_argv(bwrap, Path(scratch), "/bin/true")
        try:
            return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False
