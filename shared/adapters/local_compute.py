"""Local hosts: each host is a ``python -m workspace_agent`` child process (embedded mode).

Layout under ``hosts_dir``::

    <host name>/host.json   pid, process start time, labels (written atomically)
    <host name>/state/      the agent's CLARATEACH_AGENT_STATE_DIR
    <host name>/agent.log   the agent's stdout and stderr

Each agent gets only its agent configuration plus a minimal PATH/HOME/LANG (and the
operator's ``extra_env`` overrides), never a copy of the platform's environment, which may
hold credentials. The one secret it gets is ``CLARATEACH_AGENT_EVENTS_TOKEN`` (from
``host_tokens``): its host events token, which proves to ``POST /api/hosts/events`` that it is
this host of this start attempt; it travels in the environment only (never argv, never on disk),
and seat shells see neither the agent's environment nor its ``/proc`` (the sandbox).

Where bubblewrap works the agent sandboxes its seats' shells (``CLARATEACH_AGENT_BWRAP=auto``
unless the operator says otherwise). It runs in its own session and process group, so
``delete_host`` can signal everything it started: SIGTERM first (the agent stops its seats'
tmux servers, or releases its buffered shells to the host's terminal holder), SIGKILL to the
group after ``stop_timeout``; then the host's terminal holder
(``<state>/terminal-holder/holder.pid``, the agent's ``workspace_agent.terminal.holder``
process, which owns the buffered backend's shells and outlives agent restarts) gets SIGTERM,
hangs every shell up and exits (SIGKILL after ``stop_timeout`` + its grace).

``restart_host`` starts a recorded host's agent again (same configuration and port, so its
endpoint stays valid) when it died while the platform was away: the new agent adopts the
shells its holder kept.

``host.json`` outlives the platform: after a restart ``list_hosts`` still reports agents
started by the previous run (adoption), so the reconciler can keep or delete them, and
``cleanup_orphans`` kills every recorded agent outright. A record is trusted only if the pid's
start time matches, so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

from shared.domain.errors import PermanentError, TransientError
from shared.ports.compute import Compute, HostInfo, HostSpec
from shared.settings import Settings

log = logging.getLogger(__name__)

_RECORD = "host.json"
_PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


class LocalCompute(Compute):
    def __init__(
        self,
        hosts_dir: Path,
        *,
        python: str = sys.executable,
        module: str = "workspace_agent",
        stop_timeout: float = 5.0,
        extra_env: dict[str, str] | None = None,
        host_tokens: Callable[[HostSpec], str] | None = None,
    ) -> None:
        self.hosts_dir = Path(hosts_dir)
        self._host_tokens = host_tokens
        self._argv = [python, "-m", module]
        self._stop_timeout = stop_timeout
        self._extra_env = dict(extra_env or {})
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> LocalCompute:
        return cls(settings.state_dir / "hosts", host_tokens=host_tokens_for(settings), **options)

    # ------------------------------------------------------------------- port
    def create_host(self, spec: HostSpec) -> HostInfo:
        with self._lock(spec.name):
            existing = self._alive_record(spec.name)
            if existing is not None:
                return self._info(spec.name, existing, alive=True)
            return self._spawn(spec)

    def delete_host(self, name: str) -> None:
        with self._lock(name):
            record = self._read_record(name)
            if record is not None:
                self._terminate(name, record)
            self._forget(name)

    def get_host(self, name: str) -> HostInfo | None:
        record = self._read_record(name)
        if record is None:
            return None
        return self._info(name, record, alive=self._is_alive(record))

    def list_hosts(self, labels: dict[str, str] | None = None) -> list[HostInfo]:
        wanted = labels or {}
        hosts = []
        for name in self._recorded_names():
            info = self.get_host(name)
            if info is not None and all(info.labels.get(k) == v for k, v in wanted.items()):
                hosts.append(info)
        return hosts

    def restart_host(self, name: str) -> bool:
        """Start the recorded host ``name`` again if its agent is not running (same spec, same
        port); True if it was restarted. The terminal holder, if it survived, keeps the shells
        and the new agent adopts them."""
        with self._lock(name):
            record = self._read_record(name)
            if record is None or self._is_alive(record) or not isinstance(record.get("spec"), dict):
                return False
            raw = record["spec"]
            config = dict(raw.get("agent_config") or {})
            endpoint = self._host_dir(name) / "state" / "agent-endpoint"
            with contextlib.suppress(OSError, ValueError):
                config["CLARATEACH_AGENT_PORT"] = str(int(endpoint.read_text().rsplit(":", 1)[1]))
            spec = HostSpec(
                workshop_id=str(raw["workshop_id"]),
                index=int(raw["index"]),
                name=name,
                seat_first=int(raw["seat_first"]),
                seat_last=int(raw["seat_last"]),
                agent_config=config,
                attempt=int(raw.get("attempt", 0)),
            )
            self._spawn(spec)
            return True

    def cleanup_orphans(self, keep: Iterable[str] = ()) -> list[str]:
        """Stop and forget every recorded host not named in ``keep``; return the names removed.

        The local platform calls this at start-up (with the hosts of live workshops in
        ``keep``, or nothing to start from a clean slate).
        """
        kept = set(keep)
        removed = [name for name in self._recorded_names() if name not in kept]
        for name in removed:
            self.delete_host(name)
        return removed

    def close(self) -> None:
        """Agents keep running (a restarted platform adopts them); only reap exited children."""
        for child in list(self._children.values()):
            child.poll()

    # ------------------------------------------------------------- processes
    def _spawn(self, spec: HostSpec) -> HostInfo:
        host_dir = self._host_dir(spec.name)
        state_dir = host_dir / "state"
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(host_dir, 0o700)
            env = self._agent_env(spec, state_dir)
            with (host_dir / "agent.log").open("ab") as log_file:
                child = subprocess.Popen(
                    self._argv,
                    env=env,
                    cwd=host_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except FileNotFoundError as exc:
            raise PermanentError(f"cannot start the workspace agent: {exc.strerror}") from exc
        except OSError as exc:
            raise TransientError(f"cannot start host {spec.name}: {exc.strerror}") from exc
        self._children[spec.name] = child
        record = {
            "name": spec.name,
            "pid": child.pid,
            "create_time": _create_time(child.pid),
            "labels": spec.labels,
            # Non-secret (HostSpec holds references only): enough to restart the agent.
            "spec": {
                "workshop_id": spec.workshop_id,
                "index": spec.index,
                "seat_first": spec.seat_first,
                "seat_last": spec.seat_last,
                "agent_config": spec.agent_config,
                "attempt": spec.attempt,
            },
        }
        self._write_record(spec.name, record)
        log.info(
            "local host started",
            extra={"workshop_id": spec.workshop_id, "host": spec.index, "pid": child.pid},
        )
        return self._info(spec.name, record, alive=True)

    def _agent_env(self, spec: HostSpec, state_dir: Path) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
        env["HOME"] = str(state_dir)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(spec.agent_config)
        env.update(self._extra_env)  # the operator's overrides win (e.g. an emulator's address)
        if self._host_tokens is not None:
            env["CLARATEACH_AGENT_EVENTS_TOKEN"] = self._host_tokens(spec)
        env["CLARATEACH_AGENT_STATE_DIR"] = str(state_dir)
        # Local seats run as the platform's user: without the sandbox a learner's shell could
        # read the platform's state (secrets, the instructor token file). The agent decides
        # whether bubblewrap can build it on this machine.
        env.setdefault("CLARATEACH_AGENT_BWRAP", "auto")
        env.setdefault("CLARATEACH_AGENT_BIND", "127.0.0.1")
        env.setdefault("CLARATEACH_AGENT_PORT", "0")
        return env

    def _terminate(self, name: str, record: dict[str, Any]) -> None:
        self._terminate_agent(name, record)
        self._terminate_holder(name)

    def _terminate_holder(self, name: str) -> None:
        """The final stop of the host's buffered shells: SIGTERM its terminal holder."""
        state = self._host_dir(name) / "state"
        try:
            pid = int((state / "terminal-holder" / "holder.pid").read_text())
            holder = psutil.Process(pid)
            if "workspace_agent.terminal.holder" not in " ".join(holder.cmdline()):
                return  # a recycled pid: not ours to signal
            shells = holder.children(recursive=True)
        except (OSError, ValueError, psutil.Error):
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            holder.terminate()
        _gone, alive = psutil.wait_procs([holder], timeout=self._stop_timeout + 3.0)
        for proc in [*alive, *shells]:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs([*alive, *shells], timeout=self._stop_timeout)

    def _terminate_agent(self, name: str, record: dict[str, Any]) -> None:
        if not self._is_alive(record):
            return
        pid = int(record["pid"])
        try:
            process = psutil.Process(pid)
            descendants = process.children(recursive=True)
        except psutil.NoSuchProcess:
            return
        _signal_group(pid, signal.SIGTERM)
        _gone, alive = psutil.wait_procs([process], timeout=self._stop_timeout)
        if alive:
            log.warning("host did not stop on SIGTERM; killing", extra={"host": name, "pid": pid})
        # Whatever is left of the group (and children that changed group) gets SIGKILL.
        _signal_group(pid, signal.SIGKILL)
        for proc in [*alive, *descendants]:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs([*alive, *descendants], timeout=self._stop_timeout)
        child = self._children.pop(name, None)
        if child is not None:
            child.wait(timeout=self._stop_timeout)  # reap our own child: no zombie

    # ---------------------------------------------------------------- records
    def _host_dir(self, name: str) -> Path:
        path = (self.hosts_dir / name).resolve()
        if not path.is_relative_to(self.hosts_dir.resolve()) or path == self.hosts_dir.resolve():
            raise PermanentError(f"invalid host name {name!r}")
        return path

    def _recorded_names(self) -> list[str]:
        if not self.hosts_dir.is_dir():
            return []
        return sorted(p.parent.name for p in self.hosts_dir.glob(f"*/{_RECORD}"))

    def _read_record(self, name: str) -> dict[str, Any] | None:
        try:
            record = json.loads((self._host_dir(name) / _RECORD).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return record if isinstance(record, dict) and "pid" in record else None

    def _write_record(self, name: str, record: dict[str, Any]) -> None:
        path = self._host_dir(name) / _RECORD
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)

    def _forget(self, name: str) -> None:
        host_dir = self._host_dir(name)
        (host_dir / _RECORD).unlink(missing_ok=True)
        shutil.rmtree(host_dir / "state", ignore_errors=True)  # learner files go with the host

    def _alive_record(self, name: str) -> dict[str, Any] | None:
        record = self._read_record(name)
        return record if record is not None and self._is_alive(record) else None

    def _is_alive(self, record: dict[str, Any]) -> bool:
        child = self._children.get(str(record.get("name")))
        if child is not None and child.pid == record["pid"] and child.poll() is not None:
            return False
        try:
            process = psutil.Process(int(record["pid"]))
            same = abs(process.create_time() - float(record["create_time"])) < 0.01
            return same and process.status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, TypeError, ValueError):
            return False

    @staticmethod
    def _info(name: str, record: dict[str, Any], *, alive: bool) -> HostInfo:
        return HostInfo(
            name=name,
            state="running" if alive else "terminated",
            labels=dict(record.get("labels") or {}),
            address="127.0.0.1",
        )

    def _lock(self, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())


def host_tokens_for(settings: Settings) -> Callable[[HostSpec], str]:
    """Each host's events token, derived from the platform secret of ``settings.state_dir``."""
    from shared.auth.platform_keys import host_events_token

    def token(spec: HostSpec) -> str:
        return host_events_token(settings.state_dir, spec.workshop_id, spec.index, spec.attempt)

    return token


def _create_time(pid: int) -> float:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return 0.0


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
