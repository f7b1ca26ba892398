"""Docker runtime (GCP hosts): one locked-down container per seat.

Each seat runs ``ct-<workshop>-seat<n>`` as UID 1000 with ``--cap-drop=ALL``,
``no-new-privileges``, pids/memory/CPU limits, on an IPv4-only bridge network without
inter-container traffic (``enable_icc=false``; IPv6 disabled in the container), and no Docker
socket. The host's firewall (``shared/host_bootstrap/firewall.sh``) admits from the seat
bridges only the agent's port and keeps them from the metadata server and private ranges.
The workspace ``<state>/seats/<n>/work`` is bind-mounted at
``/home/learner/work``: the agent serves files from the host side of that mount, while the
learner's processes are confined to the container (a learner symlink to ``/etc`` names the
*container's* ``/etc``; the files API refuses to follow it either way).

Environment values never appear in argv: ``docker run -e NAME`` passes names, and the
values sit in the docker CLI's own environment, from which the CLI copies them.

Terminals: with the default ``buffered`` backend the host's terminal holder runs
``docker exec -it … bash -l`` on a PTY (``shell_command``) that outlives agent restarts;
with ``tmux`` a tmux session is started inside the container at ``ensure_seat`` and every
viewer attaches to it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from workspace_agent.logs import log_event
from workspace_agent.runtimes.base import (
    SESSION,
    Command,
    SeatRuntime,
    attach_argv,
    capture_argv,
    tmux_conf,
)
from workspace_agent.settings import AgentSettings

log = logging.getLogger("workspace_agent.runtime.docker")

LEARNER_UID = "1000:1000"
LEARNER_HOME = "/home/learner"
CONTAINER_WORK = f"{LEARNER_HOME}/work"
CONTAINER_CONF = "/etc/clarateach/tmux.conf"
# Variables the docker CLI itself may need; everything else in its environment is seat data.
_CLI_PASSTHROUGH = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT")


class DockerRuntime(SeatRuntime):
    name = "docker"
    workspace_mode = 0o755

    def __init__(self, settings: AgentSettings) -> None:
        self._settings = settings
        self._docker = shutil.which("docker") or "docker"
        self._network_ready = False
        self._network_lock = asyncio.Lock()  # seats come up concurrently; create it once
        self._seat_env: dict[int, dict[str, str]] = {}

    def container(self, seat: int) -> str:
        return f"ct-{self._settings.workshop_id}-seat{seat}"

    @property
    def network(self) -> str:
        return f"ct-{self._settings.workshop_id}-seats"

    def _cli_env(self, values: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: os.environ[k] for k in _CLI_PASSTHROUGH if k in os.environ}
        env.update(values or {})
        return env

    async def ensure_seat(self, seat: int, extra_env: Mapping[str, str]) -> None:
        work = self._settings.workspace(seat)
        work.mkdir(mode=self.workspace_mode, parents=True, exist_ok=True)
        conf = self._settings.seats_dir / str(seat) / "tmux.conf"
        conf.write_text(
            tmux_conf(
                login_shell="/bin/bash",
                history=self._settings.scrollback_lines,
            )
        )
        seat_env = {
            "CLARATEACH_WORKSHOP_ID": self._settings.workshop_id,
            "CLARATEACH_SEAT": str(seat),
            **extra_env,
        }
        self._seat_env[seat] = seat_env
        await self._ensure_network()
        name = self.container(seat)
        state = await self._docker_out(["inspect", "-f", "{{.State.Running}}", name])
        if state is None:
            await self._check(self._run_argv(seat, work, conf, seat_env), seat_env, "docker run")
        elif state.strip() != "true":
            await self._check(["start", name], {}, "docker start")
        if self._settings.terminal_backend == "tmux":
            await self._ensure_tmux_session(name)
        log_event(log, "seat_started", seat=seat, container=name)

    async def _ensure_tmux_session(self, name: str) -> None:
        has = [
            "exec",
            "-u",
            LEARNER_UID,
            name,
            "tmux",
            "-f",
            CONTAINER_CONF,
            "has-session",
            "-t",
            SESSION,
        ]
        if await self._docker_rc(has) != 0:
            new = [
                "exec",
                "-u",
                LEARNER_UID,
                "-w",
                CONTAINER_WORK,
                name,
                "tmux",
                "-f",
                CONTAINER_CONF,
                "new-session",
                "-d",
                "-s",
                SESSION,
            ]
            await self._check(new, {}, "tmux new-session")

    def _run_argv(
        self, seat: int, work: Path, conf: Path, seat_env: Mapping[str, str]
    ) -> list[str]:
        s = self._settings
        argv = [
            "run",
            "-d",
            "--name",
            self.container(seat),
            "--hostname",
            f"seat{seat}",
            "--user",
            LEARNER_UID,
            "--cap-drop=ALL",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            str(s.seat_pids),
            "--memory",
            s.seat_memory,
            "--cpus",
            s.seat_cpus,
            "--network",
            self.network,
            # IPv4 only: no link-local IPv6 path to the host or a sibling around the firewall.
            "--sysctl",
            "net.ipv6.conf.all.disable_ipv6=1",
            "--restart",
            "unless-stopped",
            "--label",
            f"clarateach.workshop={s.workshop_id}",
            "--label",
            f"clarateach.seat={seat}",
            "-v",
            f"{work.resolve()}:{CONTAINER_WORK}",
            "-v",
            f"{conf.resolve()}:{CONTAINER_CONF}:ro",
            "-w",
            CONTAINER_WORK,
            "-e",
            f"HOME={LEARNER_HOME}",
            "-e",
            "LANG=C.UTF-8",
            "-e",
            "TERM=xterm-256color",
        ]
        for name in sorted(seat_env):
            argv += ["-e", name]  # value comes from the CLI's environment, never argv
        return [*argv, s.seat_image, "sleep", "infinity"]

    async def _ensure_network(self) -> None:
        async with self._network_lock:
            await self._create_network_once()

    async def _create_network_once(self) -> None:
        if self._network_ready:
            return
        if await self._docker_rc(["network", "inspect", self.network]) != 0:
            create = [
                "network",
                "create",
                "--driver",
                "bridge",
                "-o",
                "com.docker.network.bridge.enable_icc=false",
                "--label",
                f"clarateach.workshop={self._settings.workshop_id}",
                self.network,
            ]
            await self._check(create, {}, "docker network create")
        self._network_ready = True

    def attach_command(self, seat: int, *, readonly: bool) -> Command:
        tmux = ["tmux", "-f", CONTAINER_CONF]
        argv = [
            self._docker,
            "exec",
            "-it",
            "-u",
            LEARNER_UID,
            "-w",
            CONTAINER_WORK,
            "-e",
            "TERM=xterm-256color",
            self.container(seat),
            *attach_argv(tmux, readonly=readonly, cwd=CONTAINER_WORK),
        ]
        return Command(argv, self._cli_env())

    def shell_command(self, seat: int) -> Command:
        """Buffered backend: a login shell in the seat's container. ``-it`` because the agent
        runs this on a PTY it owns: the docker CLI relays it (and its SIGWINCH) to a PTY in
        the container. With the terminal holder (default) the CLI is the holder's child, so
        the exec session survives agent restarts (docs/protocol.md §6). Untested against a
        real engine (no Docker in CI). Without the holder, or if the holder or dockerd dies, a
        ``docker exec`` process may outlive its CLI, leaving an orphaned shell in the
        container (bounded by the pids limit) until the VM goes."""
        argv = [
            self._docker,
            "exec",
            "-it",
            "-u",
            LEARNER_UID,
            "-w",
            CONTAINER_WORK,
            "-e",
            "TERM=xterm-256color",
            self.container(seat),
            "/bin/bash",
            "-l",
        ]
        return Command(argv, self._cli_env())

    def exec_command(self, seat: int, argv: Sequence[str], extra_env: Mapping[str, str]) -> Command:
        """``docker exec -i`` as the learner in the seat's container, cwd = the workspace;
        the seat's environment by name only (values in the CLI's own environment)."""
        values = {**self._seat_env.get(seat, {}), **extra_env}
        args = [self._docker, "exec", "-i", "-u", LEARNER_UID, "-w", CONTAINER_WORK]
        for name in sorted(values):
            args += ["-e", name]
        return Command([*args, self.container(seat), *argv], self._cli_env(values))

    def capture_command(self, seat: int, lines: int) -> Command:
        argv = [
            self._docker,
            "exec",
            "-u",
            LEARNER_UID,
            self.container(seat),
            *capture_argv(["tmux", "-f", CONTAINER_CONF], lines),
        ]
        return Command(argv, self._cli_env())

    async def stop(self) -> None:
        """Containers outlive the agent on purpose (an agent restart keeps every shell);
        the VM's deletion removes them."""

    # -- docker CLI ------------------------------------------------------------------------
    async def _spawn(
        self, args: list[str], values: Mapping[str, str] | None
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self._docker,
            *args,
            env=self._cli_env(values),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    async def network_pid(self, seat: int) -> int | None:
        """The container's init process: the preview connects from inside its network."""
        out = await self._docker_out(["inspect", "-f", "{{.State.Pid}}", self.container(seat)])
        try:
            pid = int((out or "").strip())
        except ValueError:
            pid = 0
        if pid <= 0:
            raise LookupError(f"seat {seat}'s container is not running")
        return pid

    async def _docker_rc(self, args: list[str]) -> int:
        proc = await self._spawn(args, None)
        await proc.communicate()
        return proc.returncode or 0

    async def _docker_out(self, args: list[str]) -> str | None:
        proc = await self._spawn(args, None)
        out, _ = await proc.communicate()
        return out.decode(errors="replace") if proc.returncode == 0 else None

    async def _check(self, args: list[str], values: Mapping[str, str], what: str) -> None:
        proc = await self._spawn(args, values)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip()[-300:]
            raise RuntimeError(f"{what} failed ({proc.returncode}): {detail}")
