"""Local runtime: one foreground tmux server per seat, owned by the agent.

Layout under ``<state>/seats/<n>/``: ``work/`` (the workspace, also HOME and cwd),
``tmux.conf``, and ``tmux.sock`` (moved to a short private directory when the path would exceed
the UNIX socket limit). The server runs with ``tmux -D`` as the agent's child, in the agent's
process group, so killing the agent's group (the local provisioner's delete) also ends the
seats; a graceful stop runs ``kill-server`` for every seat.

The seat environment is explicit (HOME, USER, SHELL, PATH, LANG, TERM, seat ids and the
caller's ``extra_env``), never a copy of the agent's ``os.environ``. In this runtime the shells
run as the agent's UID: the files API's fd-relative ``O_NOFOLLOW`` discipline is what keeps
a learner's symlinks from redirecting the agent. With ``bwrap`` enabled (and installed) each
shell runs in bubblewrap (``sandbox.py``): only its workspace writable, nothing of the host
visible but the system trees, and (``CLARATEACH_AGENT_SEAT_NETWORK``, ``seat_network.py``) its
own network namespace with outbound access and the agent's port, not the machine's loopback.

With the ``buffered`` terminal backend no tmux server is started: ``ensure_seat`` prepares the
workspace and environment, and ``shell_command`` is the login shell the agent runs itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from workspace_agent.files.safe_fs import FsError, SeatFS
from workspace_agent.logs import log_event
from workspace_agent.runtimes.base import (
    SESSION,
    Command,
    SeatRuntime,
    attach_argv,
    capture_argv,
    tmux_conf,
)
from workspace_agent.runtimes.sandbox import sandbox_argv, sandbox_works
from workspace_agent.runtimes.seat_network import choose_seat_network
from workspace_agent.settings import AgentSettings

log = logging.getLogger("workspace_agent.runtime.local")

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROFILE = """\
# Written by ClaraTeach when this seat started (it is yours to change).
if [ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi
# The workshop's Claude Code first on PATH (/etc/profile has just reset PATH).
case ":$PATH:" in
  *":$CLARATEACH_CLAUDE_CODE_BIN:"*) ;;
  *) [ -n "$CLARATEACH_CLAUDE_CODE_BIN" ] && PATH="$CLARATEACH_CLAUDE_CODE_BIN:$PATH" ;;
esac
"""
SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes; keep a margin
SERVER_START_TIMEOUT = 10.0


class LocalRuntime(SeatRuntime):
    name = "local"

    def __init__(self, settings: AgentSettings) -> None:
        self._settings = settings
        self._uses_tmux = settings.terminal_backend == "tmux"
        tmux = shutil.which("tmux")
        if tmux is None and self._uses_tmux:
            raise RuntimeError("the local runtime needs tmux on PATH")
        self._tmux = tmux or "tmux"
        bwrap = shutil.which("bwrap")
        if settings.bwrap is None:  # auto: sandboxed where bubblewrap can build the sandbox
            self._bwrap = bwrap if bwrap and sandbox_works(bwrap) else None
        elif settings.bwrap and bwrap is None:
            raise RuntimeError("CLARATEACH_AGENT_BWRAP is set but bwrap is not installed")
        else:
            self._bwrap = bwrap if settings.bwrap else None
        # Probed (like bubblewrap) only where a sandbox exists to hold the network namespace.
        self._network = choose_seat_network(settings.seat_network, self._bwrap, [settings.port])
        self._servers: dict[int, subprocess.Popen[bytes] | None] = {}
        self._env: dict[int, dict[str, str]] = {}

    # -- paths ---------------------------------------------------------------------------
    def seat_dir(self, seat: int) -> Path:
        return self._settings.seats_dir / str(seat)

    def workspace(self, seat: int) -> Path:
        return self._settings.workspace(seat)

    def socket_path(self, seat: int) -> Path:
        preferred = self.seat_dir(seat).resolve() / "tmux.sock"
        if len(str(preferred)) <= SOCKET_PATH_LIMIT:
            return preferred
        digest = hashlib.sha256(str(self._settings.state_dir.resolve()).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"clarateach-{os.getuid()}" / digest
        return short / f"seat{seat}.sock"

    def _tmux_base(self, seat: int) -> list[str]:
        conf = self.seat_dir(seat) / "tmux.conf"
        return [self._tmux, "-S", str(self.socket_path(seat)), "-f", str(conf)]

    # -- port ----------------------------------------------------------------------------
    def seat_env(self, seat: int, extra_env: Mapping[str, str]) -> dict[str, str]:
        user = getpass.getuser()
        env = {
            "HOME": str(self.workspace(seat).resolve()),
            "USER": user,
            "LOGNAME": user,
            "SHELL": self._settings.shell,
            "PATH": self._path(),
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            "CLARATEACH_WORKSHOP_ID": self._settings.workshop_id,
            "CLARATEACH_SEAT": str(seat),
        }
        if self._settings.claude_code_dir:
            env["CLARATEACH_CLAUDE_CODE_BIN"] = self._claude_bin()
        env.update(extra_env)
        return env

    def _claude_bin(self) -> str:
        return str(Path(self._settings.claude_code_dir).resolve() / "bin")

    def _path(self) -> str:
        """The system PATH, behind the platform's pinned Claude Code when there is one."""
        if self._settings.claude_code_dir:
            return f"{self._claude_bin()}:{SAFE_PATH}"
        return SAFE_PATH

    def _write_profile(self, seat: int) -> None:
        """A login shell's /etc/profile resets PATH, so the seat's ``~/.profile`` (written
        once, if the learner has none) puts the platform's Claude Code back in front."""
        fs = SeatFS(self.workspace(seat))
        try:
            fs.stat(".profile")
            return  # the learner's own (or ours from an earlier start)
        except FsError as exc:
            if exc.status != 404:
                return
        try:
            with fs.writer(".profile", 64 * 1024) as writer:
                writer.write(PROFILE.encode())
                writer.commit()
        except FsError as exc:
            log_event(log, "seat_profile_not_written", level=logging.WARNING, error=exc.code)

    async def ensure_seat(self, seat: int, extra_env: Mapping[str, str]) -> None:
        work = self.workspace(seat)
        work.mkdir(mode=self.workspace_mode, parents=True, exist_ok=True)
        if self._settings.claude_code_dir:
            self._write_profile(seat)
        if not self._uses_tmux:  # buffered backend: the agent spawns the shell on attach
            self._env[seat] = self.seat_env(seat, extra_env)
            log_event(log, "seat_started", seat=seat, backend="buffered")
            return
        sock = self.socket_path(seat)
        sock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._write_conf(seat)
        env = self.seat_env(seat, extra_env)
        self._env[seat] = env
        if await self._run([*self._tmux_base(seat), "has-session", "-t", SESSION], env) == 0:
            log_event(log, "seat_adopted", seat=seat)
            self._servers.setdefault(seat, None)  # adopted: stopped with kill-server too
            return
        sock.unlink(missing_ok=True)  # a stale socket from a dead server
        # -D: foreground server, our child and in our process group (see module docstring).
        server = subprocess.Popen(  # noqa: ASYNC220 - returns at once; reaped in stop()
            [*self._tmux_base(seat), "-D"],
            env=env,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self._servers[seat] = server
        await self._wait_for_session(seat, server, env)
        log_event(log, "seat_started", seat=seat, tmux_pid=server.pid)

    async def _wait_for_session(
        self, seat: int, server: subprocess.Popen[bytes], env: dict[str, str]
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SERVER_START_TIMEOUT
        has = [*self._tmux_base(seat), "has-session", "-t", SESSION]
        sock = self.socket_path(seat)
        # tmux -D offers no readiness notification; the config creates the session before the
        # socket accepts clients, so wait (bounded) for the socket, then confirm.
        while loop.time() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"tmux server for seat {seat} exited ({server.returncode})")
            if sock.exists() and await self._run(has, env) == 0:
                return
            await asyncio.sleep(0.01)
        raise RuntimeError(f"tmux session for seat {seat} did not start")

    def _write_conf(self, seat: int) -> None:
        work = str(self.workspace(seat).resolve())
        lines = [f'new-session -d -s {SESSION} -c "{work}"']
        if self._bwrap:
            # tmux hands default-command to sh -c: shell-quote the argv, then escape what a
            # double-quoted tmux string would interpret (backslash, quote, $ expansion).
            command = shlex.join(self._bwrap_argv(seat))
            for char in ("\\", '"', "$"):
                command = command.replace(char, "\\" + char)
            lines.insert(0, f'set -g default-command "{command}"')
        conf = tmux_conf(
            login_shell=self._settings.shell,
            history=max(self._settings.scrollback_lines, 2000),
            extra="\n".join(lines) + "\n",
        )
        path = self.seat_dir(seat) / "tmux.conf"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(conf)
        tmp.replace(path)

    def _bwrap_argv(self, seat: int, command: Sequence[str] | None = None) -> list[str]:
        assert self._bwrap is not None
        extra = [Path(self._settings.claude_code_dir)] if self._settings.claude_code_dir else []
        argv = sandbox_argv(self._bwrap, self.workspace(seat), self._settings.shell, extra, command)
        # Only the seat's shell names its sandbox for the app preview; a one-off command
        # (a content check) must not take that place.
        announce = self.netns_file(seat) if command is None else None
        return self._network.wrap(argv, announce=announce)

    def netns_file(self, seat: int) -> Path:
        """Where the seat's launcher names its sandbox (``netns_launch.py --announce``)."""
        return self.seat_dir(seat).resolve() / "netns.pid"

    async def network_pid(self, seat: int) -> int | None:
        """The seat's most recent sandboxed shell (the one its launcher announced), checked
        against its start time so a reused PID is never taken for it."""
        if not self._network.isolated:
            return None
        return self._announced_pid(seat)

    def _announced_pid(self, seat: int) -> int:
        try:
            pid_text, started = self.netns_file(seat).read_text().split()
            pid = int(pid_text)
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError) as exc:
            raise LookupError(f"seat {seat} has no running shell") from exc
        if stat[stat.rindex(")") + 2 :].split()[19] != started:
            raise LookupError(f"seat {seat} has no running shell")
        return pid

    def exec_command(self, seat: int, argv: Sequence[str], extra_env: Mapping[str, str]) -> Command:
        """``argv`` in the seat's sandbox (its network namespace too), or plainly as the
        agent's UID when seats are not sandboxed, with the seat's environment."""
        command = self._bwrap_argv(seat, argv) if self._bwrap else list(argv)
        env = {**self._env_of(seat), **extra_env}
        return Command(command, env, cwd=str(self.workspace(seat).resolve()))

    def attach_command(self, seat: int, *, readonly: bool) -> Command:
        cwd = str(self.workspace(seat).resolve())
        return Command(
            attach_argv(self._tmux_base(seat), readonly=readonly, cwd=cwd), self._env_of(seat)
        )

    def capture_command(self, seat: int, lines: int) -> Command:
        return Command(capture_argv(self._tmux_base(seat), lines), self._env_of(seat))

    def shell_command(self, seat: int) -> Command:
        """The seat's login shell for the buffered backend: what tmux's default-command runs."""
        argv = self._bwrap_argv(seat) if self._bwrap else [self._settings.shell, "-l"]
        cwd = str(self.workspace(seat).resolve())
        return Command(argv, self._env_of(seat), cwd=cwd)

    def _env_of(self, seat: int) -> dict[str, str]:
        return self._env.get(seat) or self.seat_env(seat, {})

    def server_pid(self, seat: int) -> int | None:
        server = self._servers.get(seat)
        return server.pid if server is not None else None

    async def stop(self) -> None:
        for seat in list(self._servers):
            await self._run([*self._tmux_base(seat), "kill-server"], self._env_of(seat))
        for seat, server in list(self._servers.items()):
            if server is not None:
                await _reap(server)
            self._servers.pop(seat, None)
            self._remove_socket(seat)
        log_event(log, "seats_stopped")

    def _remove_socket(self, seat: int) -> None:
        """tmux leaves its socket file behind; the short directory under /tmp is ours alone."""
        sock = self.socket_path(seat)
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        if sock.parent != self.seat_dir(seat).resolve():
            with contextlib.suppress(OSError):  # not empty yet: another seat's socket remains
                sock.parent.rmdir()

    async def _run(self, argv: list[str], env: dict[str, str]) -> int:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return await proc.wait()


async def _reap(server: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """Wait for an exiting server without blocking the loop; SIGKILL after ``grace``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while server.poll() is None and loop.time() < deadline:
        await asyncio.sleep(0.02)
    if server.poll() is None:
        server.send_signal(signal.SIGKILL)
        await loop.run_in_executor(None, server.wait)
