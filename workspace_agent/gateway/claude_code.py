"""Each seat's Claude Code configuration, from the workshop's ``ModelPolicy.claude_code``.

Written before the seat's shell starts (``GatewayHandle.prepare_seat``), so the first
``claude`` a learner runs already has it:

* **Environment** (``seat_env``): the gateway's ``ANTHROPIC_BASE_URL``/``ANTHROPIC_AUTH_TOKEN``
  plus ``PLATFORM_ENV`` (no autoupdater, no telemetry or error reports, no non-essential
  traffic: a seat reaches only the gateway) and the workshop's default model
  (``ANTHROPIC_MODEL``; also the small/fast model, so Claude Code's background calls stay
  on an allowed model).
* **Settings** ``<workspace>/.claude/settings.json``: the instructor's settings, with the
  platform's keys on top (``env`` above, ``model``, ``availableModels`` = the allowlist,
  ``autoUpdates`` off). In a local seat HOME is the workspace, so this is also the user
  settings file. Keys a learner added to the file are kept; the platform's are rewritten.
* **Instructions** ``<workspace>/.claude/CLAUDE.md``: the instructor's ``claude_md`` (project
  memory: Claude Code reads it from the working directory, which is the workspace).
* **Onboarding** ``<workspace>/.claude.json`` (local seats, whose HOME is the workspace):
  onboarding done and the workspace trusted, if the file does not exist yet; the docker seat
  image ships the same file.

These are learner-writable files, not managed settings: Claude Code would read those only
from ``/etc/claude-code``, which a local seat shares with the host. What must hold does not
depend on them: the gateway itself refuses models outside the allowlist, and budgets.
Every write goes through ``SeatFS`` (no symlink in the workspace is followed).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from shared.domain.model_policy import ClaudeCodeSettings
from workspace_agent.files.safe_fs import FsError, SeatFS
from workspace_agent.logs import log_event

log = logging.getLogger("workspace_agent.gateway")

#: Always set in every seat: Claude Code talks to the gateway and nothing else.
PLATFORM_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}
SETTINGS_FILE = ".claude/settings.json"
CLAUDE_MD_FILE = ".claude/CLAUDE.md"
ONBOARDING_FILE = ".claude.json"
_MAX_FILE = 1024 * 1024


def model_env(settings: ClaudeCodeSettings) -> dict[str, str]:
    """The default-model variables (empty without a default model)."""
    model = settings.default_model
    if not model:
        return {}
    return {
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
    }


def seat_settings(settings: ClaudeCodeSettings, existing: dict[str, Any]) -> dict[str, Any]:
    """``settings.json`` content: existing keys < instructor's keys < the platform's."""
    merged: dict[str, Any] = {**existing, **(settings.settings or {})}
    env = merged.get("env")
    merged["env"] = {
        **(env if isinstance(env, dict) else {}),
        **PLATFORM_ENV,
        **model_env(settings),
    }
    merged["autoUpdates"] = False
    if settings.default_model:
        merged["model"] = settings.default_model
    if settings.allowed_models is not None:
        merged["availableModels"] = list(settings.allowed_models)
    return merged


def write_seat_files(workspace: Path, settings: ClaudeCodeSettings, *, home: bool) -> None:
    """Write the seat's Claude Code files into ``workspace`` (created 0700 if missing).
    ``home``: the workspace is also the seat's HOME (local runtime). Failures are logged:
    a seat without them still works, with Claude Code's defaults."""
    workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
    fs = SeatFS(workspace)
    try:
        _mkdir(fs, ".claude")
        existing = _read_json(fs, SETTINGS_FILE)
        _write(fs, SETTINGS_FILE, seat_settings(settings, existing))
        if settings.claude_md is not None:
            _write_bytes(fs, CLAUDE_MD_FILE, settings.claude_md.encode())
        if home and not _exists(fs, ONBOARDING_FILE):
            real = str(workspace.resolve())
            _write(fs, ONBOARDING_FILE, {
                "hasCompletedOnboarding": True,
                "autoUpdates": False,
                "projects": {real: {"hasTrustDialogAccepted": True}},
            })  # fmt: skip
    except FsError as exc:
        log_event(log, "claude_settings_not_written", level=logging.WARNING, error=exc.code)


def _mkdir(fs: SeatFS, name: str) -> None:
    try:
        fs.mkdir(name)
    except FsError as exc:
        if exc.status != 409:  # exists: fine if it is a directory (the write checks)
            raise


def _read_json(fs: SeatFS, name: str) -> dict[str, Any]:
    """A JSON object from the workspace (links may not lead out of it), else ``{}``."""
    try:
        fd, _, _ = fs.open_for_read(name)
    except FsError:
        return {}
    with open(fd, "rb") as handle:
        raw = handle.read(_MAX_FILE + 1)
    try:
        doc = json.loads(raw) if len(raw) <= _MAX_FILE else None
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _exists(fs: SeatFS, name: str) -> bool:
    try:
        fs.stat(name)
    except FsError as exc:
        return exc.status != 404
    return True


def _write(fs: SeatFS, name: str, doc: dict[str, Any]) -> None:
    _write_bytes(fs, name, (json.dumps(doc, indent=2) + "\n").encode())


def _write_bytes(fs: SeatFS, name: str, data: bytes) -> None:
    with fs.writer(name, _MAX_FILE) as writer:
        writer.write(data)
        writer.commit()
