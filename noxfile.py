"""Developer and CI entry points. ``nox -l`` lists them.

* ``tests``   every test layer: unit, contract (SQLite + Firestore emulator), integration
              (Pub/Sub emulator, real tmux, fake docker/GCE/Secret Manager), e2e (Chromium).
* ``lint``    ruff + mypy, both clean.
* ``dev``     the local platform (``clarateach local up``); args after ``--`` are passed on.
* ``bench``   every benchmark in ``benchmarks/`` (or the ones named after ``--``).
* ``package`` the Cloud Functions source archive used by Terraform.

Each slow step is skipped when its inputs have not changed since it last succeeded (a
stamp holding their SHA-256): ``pip install -e .`` (pyproject.toml and the extras, stamped
in the session's venv), ``npm ci`` (package-lock.json, stamped in web/node_modules) and the
Vite build (package-lock.json and every web source file, stamped in web/dist). A fresh
clone or a new venv has no stamps, so everything runs there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import nox

ROOT = Path(__file__).parent
WEB = ROOT / "web"
NPM_FLAGS = ("--no-audit", "--no-fund")
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def _digest(paths: Iterable[Path], *extra: str) -> str:
    sha = hashlib.sha256()
    for path in sorted(paths):
        sha.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    for item in extra:
        sha.update(item.encode() + b"\0")
    return sha.hexdigest()


def _unless_unchanged(
    session: nox.Session, stamp: Path, digest: str, step: Callable[[], None]
) -> None:
    """Run ``step`` unless ``stamp`` records ``digest`` (the step's inputs last time)."""
    if stamp.is_file() and stamp.read_text().strip() == digest:
        session.log(f"{stamp.parent.name}: inputs unchanged, skipping ({stamp.name})")
        return
    stamp.unlink(missing_ok=True)
    step()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")


def install_project(session: nox.Session, spec: str) -> None:
    """``pip install -e <spec>`` unless pyproject.toml and ``spec`` are as last installed."""
    venv = Path(getattr(session.virtualenv, "location", "") or ROOT / ".nox" / session.name)
    key = hashlib.sha256(spec.encode()).hexdigest()[:12]
    digest = _digest([ROOT / "pyproject.toml"], spec)
    _unless_unchanged(
        session, venv / f".clarateach-install-{key}", digest, lambda: session.install("-e", spec)
    )


def _web_sources() -> list[Path]:
    skip = {"node_modules", "dist"}
    return [
        path
        for path in WEB.rglob("*")
        if path.is_file() and not skip.intersection(path.relative_to(WEB).parts)
    ]


def build_web(session: nox.Session) -> None:
    """Bundle the learner client with Vite (everything from npm, no CDN)."""
    if not (WEB / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        session.error("npm is required to build web/ (install Node.js 20)")
    lock = WEB / "package-lock.json"
    with session.chdir(WEB):
        _unless_unchanged(
            session,
            WEB / "node_modules" / ".clarateach-npm-ci",
            _digest([p for p in (lock, WEB / "package.json") if p.exists()]),
            lambda: session.run(
                npm, "ci" if lock.exists() else "install", *NPM_FLAGS, external=True
            ),
        )
        _unless_unchanged(
            session,
            WEB / "dist" / ".clarateach-build",
            _digest(_web_sources()),
            lambda: session.run(npm, "run", "build", external=True),
        )


def install_claude_code(session: nox.Session) -> None:
    """The pinned Claude Code the seats and the real-CLI tests use (cached per version)."""
    session.run("python", "-m", "clarateach.claude_code")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    install_project(session, ".[test,bench]")
    build_web(session)
    install_claude_code(session)
    if (WEB / "package.json").exists() and not session.posargs:
        with session.chdir(WEB):
            session.run("npm", "test", external=True)  # vitest: the web client's unit tests
    args = session.posargs or ["-ra", "tests"]
    session.run("pytest", *args, env={"PYTHONUNBUFFERED": "1"})


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    install_project(session, ".[lint,test]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python="3.11")
def dev(session: nox.Session) -> None:
    install_project(session, ".")
    build_web(session)
    # `clarateach` on the instructor's PATH: ~/.local/bin/clarateach -> this venv's CLI, only
    # if ~/.local/bin is on PATH (else the platform's hints print the full path).
    session.run("python", "-m", "clarateach.shim")
    # Ctrl-C reaches the platform directly; give its graceful stop (workshops, agents,
    # tmux servers) time before nox escalates to SIGTERM/SIGKILL.
    session.run(
        "clarateach",
        "local",
        "up",
        *session.posargs,
        interrupt_timeout=30,
        terminate_timeout=10,
    )


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    install_project(session, ".[test,bench]")
    names = session.posargs or sorted(
        p.stem for p in (ROOT / "benchmarks").glob("*.py") if not p.stem.startswith("_")
    )
    for name in names:
        session.run("python", "-m", f"benchmarks.{name}", env={"PYTHONPATH": str(ROOT)})


@nox.session(python="3.11")
def package(session: nox.Session) -> None:
    """Write dist/functions-source.zip: main.py at the root, as Cloud Functions expects."""
    session.install("-e", ".")
    session.run("python", "-m", "functions.package", os.fspath(ROOT / "dist"))
