"""Claude Code for local seats: a pinned version installed into the platform's own prefix.

``ensure_installed(version, root)`` runs ``npm install @anthropic-ai/claude-code@<version>``
into ``<root>/<version>/`` (never globally), checks that ``claude --version`` reports exactly
that version (npm can resolve another one), and links ``<root>/<version>/bin/claude``. The
install happens once per version: a finished prefix carries a marker file and is reused, so
a repeated ``./dev up`` costs one ``stat``. A half-finished install (killed mid-way) is built
again in a scratch directory and moved into place atomically.

The version is pinned in ``images/seat/claude-code.version``: the seat image builds from the
same file, so local seats and docker seats run the same Claude Code.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "@anthropic-ai/claude-code"
PIN_FILE = Path(__file__).resolve().parents[1] / "images" / "seat" / "claude-code.version"
_MARKER = ".clarateach-installed"
_VERSION = re.compile(r"\d+\.\d+\.\d+")
INSTALL_TIMEOUT = 600.0


class ClaudeCodeInstallError(RuntimeError):
    """Claude Code could not be installed; the message says why and what to do."""


@dataclass(frozen=True)
class Installation:
    version: str
    #: The prefix: bind it read-only into sandboxes; ``bin/`` goes on seat PATHs.
    prefix: Path
    #: Seconds the install took (0.0 when an earlier install was reused).
    seconds: float

    @property
    def bin_dir(self) -> Path:
        return self.prefix / "bin"

    @property
    def claude(self) -> Path:
        return self.bin_dir / "claude"


def pinned_version() -> str:
    """The version in ``images/seat/claude-code.version``."""
    try:
        version = PIN_FILE.read_text().strip()
    except OSError as exc:
        raise ClaudeCodeInstallError(f"cannot read the Claude Code pin {PIN_FILE}: {exc}") from exc
    if not _VERSION.fullmatch(version):
        raise ClaudeCodeInstallError(f"{PIN_FILE}: not an exact x.y.z version: {version!r}")
    return version


def default_root() -> Path:
    """``$XDG_CACHE_HOME/clarateach/claude-code`` (else ``~/.cache/...``): shared by every
    state directory and by the test suite, so each version downloads once per machine."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clarateach" / "claude-code"


def is_installed(version: str, root: Path | None = None) -> bool:
    return _complete((root or default_root()).resolve() / version, version)


def ensure_installed(version: str, root: Path | None = None) -> Installation:
    """The installation of exactly ``version`` under ``root``, installing it if needed."""
    if not _VERSION.fullmatch(version):
        raise ClaudeCodeInstallError(f"Claude Code version must be x.y.z, got {version!r}")
    root = (root or default_root()).resolve()
    prefix = root / version
    if _complete(prefix, version):
        return Installation(version, prefix, 0.0)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{version}.lock"):
        if _complete(prefix, version):  # another process finished it while we waited
            return Installation(version, prefix, 0.0)
        started = time.monotonic()
        _install(version, prefix)
        return Installation(version, prefix, time.monotonic() - started)


def reported_version(claude: Path) -> str:
    """What ``claude --version`` prints first (e.g. ``2.1.332``), or '' if it cannot run."""
    try:
        out = subprocess.run(
            [str(claude), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(claude.parent),
                 "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    found = _VERSION.search(out.stdout)
    return found.group(0) if out.returncode == 0 and found else ""


def _complete(prefix: Path, version: str) -> bool:
    try:
        return (prefix / _MARKER).read_text().strip() == version and (
            prefix / "bin" / "claude"
        ).exists()
    except OSError:
        return False


def _install(version: str, prefix: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ClaudeCodeInstallError("npm is needed to install Claude Code (install Node.js)")
    scratch = prefix.with_name(f".{version}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        # --ignore-scripts: no package code runs at install time. The native binary comes
        # in the platform package (e.g. @anthropic-ai/claude-code-linux-x64); the main
        # package's postinstall would only copy it over its bin/claude.exe placeholder, so
        # the seat PATH links the platform binary directly (and needs no Node.js at run time).
        argv = [npm, "install", "--prefix", str(scratch), "--no-save", "--no-audit", "--no-fund",
                "--ignore-scripts", "--loglevel=error", f"{PACKAGE}@{version}"]  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise ClaudeCodeInstallError(f"npm install {PACKAGE}@{version} timed out") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise ClaudeCodeInstallError(
                f"npm install {PACKAGE}@{version} failed: " + " | ".join(tail)
            )
        natives = sorted((scratch / "node_modules" / "@anthropic-ai").glob("claude-code-*/claude"))
        if not natives:
            raise ClaudeCodeInstallError(
                f"{PACKAGE}@{version} brought no native binary for this platform"
            )
        target = natives[0]
        (scratch / "bin").mkdir()
        (scratch / "bin" / "claude").symlink_to(os.path.relpath(target, scratch / "bin"))
        got = reported_version(scratch / "bin" / "claude")
        if got != version:
            raise ClaudeCodeInstallError(
                f"asked npm for Claude Code {version}, but claude --version reports {got!r}"
            )
        (scratch / _MARKER).write_text(version + "\n")
        shutil.rmtree(prefix, ignore_errors=True)  # an older, unfinished attempt
        scratch.rename(prefix)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path):  # type: ignore[no-untyped-def]
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> int:
    """``python -m clarateach.claude_code``: install the pinned version (nox, CI)."""
    try:
        installation = ensure_installed(pinned_version())
    except ClaudeCodeInstallError as exc:
        print(f"error: {exc}")
        return 1
    how = f"installed in {installation.seconds:.1f}s" if installation.seconds else "cached"
    print(f"Claude Code {installation.version}: {installation.claude} ({how})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
