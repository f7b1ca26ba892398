"""Drive ``clarateach local up`` as a real subprocess and inspect what it leaves behind."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

JOIN_CODE_RE = re.compile(r"Join code:\s+(CLAUDE-[A-Z0-9]{4})")
URL_RE = re.compile(r"running at (http://\S+)")


class LocalUp:
    """``python -m clarateach.cli local up <args>`` with its stdout read line by line."""

    def __init__(self, state_dir: Path, *args: str) -> None:
        self.state_dir = state_dir
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        env.pop("ANTHROPIC_API_KEY", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clarateach.cli",
                "local",
                "up",
                "--state-dir",
                str(state_dir),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first line (seen so far or arriving before ``timeout``) matching ``pattern``."""
        for line in self.lines:
            if found := pattern.search(line):
                return found
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"local up exited ({self.proc.wait()}): {self.output}")
            self.lines.append(line)
            if found := pattern.search(line):
                return found
        raise AssertionError(f"no line matching {pattern.pattern!r} in {timeout}s: {self.output}")

    def finish(self, sig: signal.Signals, timeout: float = 60) -> int:
        """Send ``sig`` and wait for the exit code; collect the remaining output."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def kill_group(self) -> None:
        """Last-resort cleanup for a failed test: the platform's group, then every process
        still under its state directory (agents run in sessions of their own and, by design,
        outlive a platform killed with SIGKILL so that a restart can adopt them)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for leftover in processes_using(self.state_dir):
            with contextlib.suppress(psutil.Error):
                leftover.kill()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def processes_using(state_dir: Path) -> list[psutil.Process]:
    """Every live process whose command line or working directory is under ``state_dir``."""
    marker = str(state_dir)
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
        except psutil.Error:
            continue
        if marker in text:
            found.append(proc)
    return found


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` still running (same pid *and* start time, zombies excluded)."""
    result = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                result.append(proc)
        except psutil.NoSuchProcess:
            continue
    return result
