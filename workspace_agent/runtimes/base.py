"""The seat runtime port: create a seat's persistent tmux session and say how to attach.

Contract for implementations:
* ``ensure_seat`` is idempotent: it creates the workspace directory and the tmux session
  named ``SESSION`` if they do not exist and adopts them if they do. ``extra_env`` (e.g. the
  model gateway's per-seat variables) reaches the seat's shell through process environments
  only, never argv. Raises ``RuntimeError`` with a readable message if the seat cannot start.
* ``attach_command`` is the argv + environment of a process that, run on a fresh PTY, attaches
  one viewer to the seat's session (read-only for shadows) and recreates the session if the
  learner exited their shell. Killing that process never kills the session.
* ``capture_command`` prints the pane's recent history (escape sequences kept) on stdout.
* ``shell_command`` (``buffered`` terminal backend only) is the argv + environment + cwd of
  the seat's login shell, run directly on a PTY the agent owns (no tmux). Runtimes that do not
  support the buffered backend raise ``NotImplementedError``.
* ``exec_command`` is the argv + environment + cwd of a one-off process run in the seat as
  the learner, confined like the learner's shell (sandbox or container), with cwd = the
  workspace and stdin/stdout usable as pipes (content checks, ``workspace_agent/content``).
  ``extra_env`` is added to the seat's environment, through process environments only.
* ``network_pid`` (app preview) is the PID of a process inside the seat's network namespace
  (the agent connects to the seat's loopback from there), or None when the seat shares the
  agent's network. Raises ``LookupError`` when the seat has no network right now (no shell).
* ``stop`` releases what the runtime runs on this host for its seats; after it returns no
  seat process started by this runtime remains (local). Called once, at agent shutdown.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SESSION = "seat"  # fixed server-side name: nothing a client sends ever becomes a tmux target


@dataclass(frozen=True)
class Command:
    """A subprocess to run: list argv, explicit environment (never inherited wholesale)."""

    argv: list[str]
    env: dict[str, str] = field(repr=False)  # may hold secrets: never logged or shown
    cwd: str | None = None


class SeatRuntime(abc.ABC):
    name: str
    #: Permission bits of a seat's workspace directory when the runtime creates it.
    workspace_mode: int = 0o700

    @abc.abstractmethod
    async def ensure_seat(self, seat: int, extra_env: Mapping[str, str]) -> None: ...

    @abc.abstractmethod
    def attach_command(self, seat: int, *, readonly: bool) -> Command: ...

    @abc.abstractmethod
    def capture_command(self, seat: int, lines: int) -> Command: ...

    def shell_command(self, seat: int) -> Command:
        raise NotImplementedError(f"the {self.name} runtime has no buffered terminal backend")

    def exec_command(self, seat: int, argv: Sequence[str], extra_env: Mapping[str, str]) -> Command:
        raise NotImplementedError(f"the {self.name} runtime cannot run commands in a seat")

    async def network_pid(self, seat: int) -> int | None:
        return None

    @abc.abstractmethod
    async def stop(self) -> None: ...


TMUX_CONF = """\
# Written by the ClaraTeach agent. The web terminal is the only UI: no status line, no
# alternate screen (so output scrolls into xterm.js's own scrollback), no ESC delay.
set -s escape-time 0
set -g status off
set -g history-limit {history}
set -g mouse off
set -g default-terminal "tmux-256color"
set -ga terminal-overrides ",xterm*:smcup@:rmcup@"
set -g window-size latest
set -g aggressive-resize on
set -g set-titles off
set -g default-shell "{shell}"
{extra}"""


def tmux_conf(*, login_shell: str, history: int, extra: str = "") -> str:
    return TMUX_CONF.format(shell=login_shell, history=max(history, 100), extra=extra)


def capture_argv(tmux: list[str], lines: int) -> list[str]:
    """History above the visible screen only: the attach redraws the screen itself."""
    return [*tmux, "capture-pane", "-p", "-e", "-S", f"-{max(lines, 0)}", "-E", "-1", "-t", SESSION]


def attach_argv(tmux: list[str], *, readonly: bool, cwd: str) -> list[str]:
    if readonly:
        # ignore-size: a shadowing instructor's window never resizes the learner's terminal.
        return [*tmux, "attach-session", "-r", "-f", "ignore-size", "-t", SESSION]
    return [*tmux, "new-session", "-A", "-s", SESSION, "-c", cwd]
