"""How a printed hint names this CLI so that the command in it actually runs.

``cli_command()`` is ``clarateach`` when the ``clarateach`` the user's shell finds is this very
program (for ``./dev up``: the ``~/.local/bin/clarateach`` link that ``clarateach.shim``
installs), else the full path of this program. ``hint(args, state_dir)`` adds
``--state-dir DIR`` when the platform runs on a state directory the CLI would not find by
itself (the CLI looks in ``$CLARATEACH_STATE_DIR``, then the default).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from shared.settings import default_state_dir


def cli_command() -> str:
    """``clarateach`` if that is on PATH and is this CLI, else this CLI's full path.

    Under ``./dev up`` (nox) the CLI lives in ``.nox/dev/bin``; without the shim that
    directory is not on the user's PATH. nox puts it first on *this* process's PATH, so this
    program's own directory is not searched: only what the user's shell would find counts.
    """
    beside = Path(sys.executable).with_name("clarateach")
    own_dir = beside.parent.resolve()
    searched = [
        entry
        for entry in os.environ.get("PATH", os.defpath).split(os.pathsep)
        if entry and Path(entry).resolve() != own_dir
    ]
    on_path = shutil.which("clarateach", path=os.pathsep.join(searched))
    if on_path is not None and (not beside.exists() or Path(on_path).resolve() == beside.resolve()):
        return "clarateach"
    if beside.exists():
        return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m clarateach.cli"


def needs_state_dir(state_dir: Path) -> bool:
    """Whether a CLI started from a fresh shell would look somewhere else than ``state_dir``."""
    found = Path(os.environ.get("CLARATEACH_STATE_DIR") or default_state_dir()).expanduser()
    return found.resolve() != state_dir.expanduser().resolve()


def hint(args: str, state_dir: Path | None = None) -> str:
    """``<cli> <args>`` (plus ``--state-dir DIR`` when needed), ready to paste into a shell."""
    command = f"{cli_command()} {args}"
    if state_dir is not None and needs_state_dir(state_dir):
        command += f" --state-dir {shlex.quote(str(state_dir))}"
    return command
