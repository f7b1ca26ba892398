"""Start a bubblewrap seat in its own network namespace, wired up by ``pasta`` (passt).

``python -I netns_launch.py --pasta PATH [--forward PORT]... [--announce FILE] -- BWRAP [ARGS...]``

Run as the seat's login command (the buffered backend's PTY child, or tmux's
default-command), so it imports only the standard library. In order:

1. bubblewrap starts with ``--unshare-net --info-fd --block-fd``: it creates the sandbox's
   namespaces, reports the sandbox's PID, and waits before it runs the shell;
2. ``pasta`` attaches to that network namespace (``--netns /proc/PID/ns/net --netns-only``,
   so no user namespace: as root, one would leave bubblewrap unable to nest its own) and
   configures it: a tap interface with the host's addresses and routes, outbound TCP/UDP
   through the host's sockets, and ``-T`` forwarding of just ``--forward`` ports from the
   sandbox's loopback to the host's (the agent, whose ``/seats/<n>/model`` is the gateway);
   nothing inbound (``-t none -u none``: a learner's listener is not published on the host),
   no other host loopback port, and ``--no-map-gw`` (pasta would otherwise map the gateway
   address to the host's loopback, every port of it);
3. once pasta has written its PID file (its "initialised" signal) bubblewrap is released and
   the shell starts with the network already up; with ``--announce FILE`` the sandbox's PID
   and start time are written to ``FILE`` (atomically; removed again when the sandbox ends):
   how the app preview (``workspace_agent/preview/reach.py``) finds the seat's namespace.

pasta runs in the foreground as this process's child and is killed when the sandbox ends or,
through ``PR_SET_PDEATHSIG``, when this process dies; bubblewrap has ``--die-with-parent``.
Ctrl-C and friends reach the shell's jobs through the PTY; this process only catches them
(a caught signal is reset on ``exec``, an ignored one would be inherited by every job).
If the namespace cannot be set up the shell never starts: this prints why and exits 1. A
sandbox that dies before it is released (a failed setup, never a session that ran) is started
again, up to ``SETUP_ATTEMPTS`` times.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READY_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1
#: ``launch``'s answer when the sandbox died before the shell was released (never an exit
#: status: those are 0-255).
SETUP_FAILED = -1
#: Tries of a setup that failed that way before the seat says so.
SETUP_ATTEMPTS = 3


def pasta_argv(
    pasta: str, netns: str, userns: str | None, forward: list[int], pid_file: Path
) -> list[str]:
    """pasta options for a seat: outbound only, plus the forwarded agent port(s). ``userns``:
    the sandbox's user namespace, which an unprivileged pasta must join to configure it."""
    ns_ports = ",".join(str(port) for port in forward) or "none"
    argv = [pasta, "--config-net", "--quiet", "--foreground", "--pid", str(pid_file)]
    argv += ["-t", "none", "-u", "none", "-T", ns_ports, "-U", "none", "--no-map-gw"]
    if userns is None:  # root: the sandbox has no user namespace of its own
        # Else pasta switches to "nobody" and cannot open the namespace.
        return [*argv, "--runas", "0", "--netns", netns, "--netns-only"]
    return [*argv, "--userns", userns, "--netns", netns]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _read_info(fd: int) -> dict[str, int] | None:
    """bubblewrap's ``--info-fd`` JSON (written once the namespaces exist), or None at EOF."""
    data = b""
    with os.fdopen(fd, "rb", buffering=0) as stream:
        while chunk := stream.read(4096):
            data += chunk
            try:
                return json.loads(data)  # type: ignore[no-any-return]
            except ValueError:
                continue
    return None


def _wait_ready(pasta: subprocess.Popen[bytes], pid_file: Path) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if pid_file.exists() and pid_file.stat().st_size > 0:
            return True
        if pasta.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _start_time(pid: int) -> str:
    """Field 22 of ``/proc/PID/stat`` (after the parenthesised command name): with the PID,
    it names one process for good (a PID alone may be reused)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()[19]


def _announce(path: str, pid: int) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as out:
        out.write(f"{pid} {_start_time(pid)}\n")
    os.replace(tmp, path)


def _withdraw(path: str, pid: int) -> None:
    """Remove ``path`` if it still names this sandbox (a newer shell may have replaced it)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        if int(Path(path).read_text().split()[0]) == pid:
            os.unlink(path)


def launch(
    pasta: str, forward: list[int], bwrap_argv: list[str], announce: str | None = None
) -> int:
    info_r, info_w = os.pipe()
    block_r, block_w = os.pipe()
    argv = [bwrap_argv[0], "--unshare-net", "--info-fd", str(info_w), "--block-fd", str(block_r)]
    sandbox = subprocess.Popen([*argv, *bwrap_argv[1:]], pass_fds=(info_w, block_r))
    os.close(info_w)
    os.close(block_r)

    def hang_up(signum: int, _frame: object) -> None:
        sandbox.send_signal(signum)  # the shell's session is over: end the sandbox too

    signal.signal(signal.SIGHUP, hang_up)
    signal.signal(signal.SIGTERM, hang_up)
    info = _read_info(info_r)
    if info is None:  # bubblewrap failed before creating the namespaces; it said why
        os.close(block_w)
        return _exit_code(sandbox.wait())
    # Opened here and handed over as fds: until it is released the sandbox is not dumpable,
    # so pasta (which drops its capabilities) could not open /proc/PID/ns/* itself.
    pid = int(info["child-pid"])
    netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    fds = [netns]
    userns = None
    if os.geteuid() != 0:
        fds.append(os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC))
        userns = f"/proc/self/fd/{fds[-1]}"
    with tempfile.TemporaryDirectory(prefix="ct-pasta-") as scratch:
        pid_file = Path(scratch) / "pasta.pid"
        net = subprocess.Popen(
            pasta_argv(pasta, f"/proc/self/fd/{netns}", userns, forward, pid_file),
            pass_fds=tuple(fds),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # this process has one thread
        )
        for fd in fds:
            os.close(fd)
        try:
            if not _wait_ready(net, pid_file):
                print("clarateach: the seat network could not be set up (pasta)", file=sys.stderr)
                # Kill the sandbox's PID 1 (and with it its whole PID namespace) before the
                # block is released: killing only bubblewrap's outer process is not enough,
                # the blocked child would still run the shell, without its network.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                sandbox.wait()
                os.close(block_w)
                return 1
            if announce:
                with contextlib.suppress(OSError):
                    _announce(announce, pid)
            try:
                os.write(block_w, b"1")
            except BrokenPipeError:
                # The sandbox died before its release, i.e. before the shell: a failed setup
                # (seen under load: bubblewrap's own loopback setup losing a race), not the
                # learner's session ending. Clean up; the caller tries again.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                sandbox.wait()
                return SETUP_FAILED
            finally:
                os.close(block_w)
            return _exit_code(sandbox.wait())
        finally:
            if announce:
                _withdraw(announce, pid)
            net.terminate()
            try:
                net.wait(timeout=5)
            except subprocess.TimeoutExpired:
                net.kill()
                net.wait()


def main(args: list[str]) -> int:
    for signum in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, lambda *_: None)  # caught, not ignored: see the module docstring
    if "--" not in args:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    options, bwrap_argv = args[: args.index("--")], args[args.index("--") + 1 :]
    pasta, forward, announce = "", [], None
    it = iter(options)
    for option in it:
        if option == "--pasta":
            pasta = next(it, "")
        elif option == "--forward":
            forward.append(int(next(it, "0")))
        elif option == "--announce":
            announce = next(it, "") or None
        else:
            print(f"clarateach: unknown option {option!r}", file=sys.stderr)
            return 2
    if not pasta or not bwrap_argv or not all(0 < port < 65536 for port in forward):
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    for _ in range(SETUP_ATTEMPTS):
        code = launch(pasta, forward, bwrap_argv, announce)
        if code != SETUP_FAILED:
            return code
    print(
        "clarateach: the seat sandbox could not be started; reconnect to try again", file=sys.stderr
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
