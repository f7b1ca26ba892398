"""Developer and CI entry points. ``nox -l`` lists them.

* ``tests``   every test layer: unit, contract (SQLite + Firestore emulator), integration
              (Pub/Sub emulator, real tmux, fake docker/GCE/Secret Manager), e2e (Chromium).
* ``lint``    ruff + mypy, both clean.
* ``dev``     the local platform (``clarateach local up``); args after ``--`` are passed on.
* ``bench``   every benchmark in ``benchmarks/`` (or the ones named after ``--``).
* ``package`` the Cloud Functions source archive used by Terraform.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
WEB = ROOT / "web"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def build_web(session: nox.Session) -> None:
    """Bundle the learner client with Vite (everything from npm, no CDN)."""
    if not (WEB / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        session.error("npm is required to build web/ (install Node.js 20)")
    with session.chdir(WEB):
        lock = WEB / "package-lock.json"
        session.run(
            npm, "ci" if lock.exists() else "install", "--no-audit", "--no-fund", external=True
        )
        session.run(npm, "run", "build", external=True)


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test,bench]")
    build_web(session)
    if (WEB / "package.json").exists() and not session.posargs:
        with session.chdir(WEB):
            session.run("npm", "test", external=True)  # vitest: the web client's unit tests
    args = session.posargs or ["-ra", "tests"]
    session.run("pytest", *args, env={"PYTHONUNBUFFERED": "1"})


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("-e", ".[lint,test]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python="3.11")
def dev(session: nox.Session) -> None:
    session.install("-e", ".")
    build_web(session)
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
    session.install("-e", ".[test,bench]")
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
