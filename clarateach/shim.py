"""``python -m clarateach.shim``: put ``clarateach`` on the instructor's PATH after ``./dev up``.

``./dev up`` installs the CLI into the nox venv (``.nox/dev/bin/clarateach``), a directory no
shell searches. This links ``~/.local/bin/clarateach`` (``$XDG_BIN_HOME`` if set, as the XDG
base directory spec suggests) to that program, so every hint the platform prints can say
just ``clarateach``. The rules:

* only when that directory is already on ``PATH`` (we never edit shell start-up files); if it
  is not, nothing is installed and the hints print the full path instead;
* never over a file that is not such a link (a pip-installed ``clarateach``, say): the user's
  own program wins and the hints print the full path;
* a link of ours to an older checkout or venv is replaced (a link into a ``.nox/*/bin``).

``./dev up`` calls this once per start; removing the link is ``rm ~/.local/bin/clarateach``.
"""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path

NAME = "clarateach"


class Outcome(enum.Enum):
    INSTALLED = "installed"
    ALREADY = "already installed"
    NOT_ON_PATH = "directory not on PATH"
    TAKEN = "another clarateach is there"


def bin_dir(environ: os._Environ[str] | dict[str, str]) -> Path:
    """``$XDG_BIN_HOME`` or ``~/.local/bin``."""
    configured = environ.get("XDG_BIN_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path(environ.get("HOME") or Path.home()) / ".local" / "bin"


def on_path(directory: Path, path_env: str) -> bool:
    wanted = directory.expanduser().resolve()
    for entry in path_env.split(os.pathsep):
        if entry and Path(entry).expanduser().resolve() == wanted:
            return True
    return False


def _is_ours(link: Path) -> bool:
    """A symlink to some ``.nox/<session>/bin/clarateach`` (this or an older checkout)."""
    if not link.is_symlink():
        return False
    target = Path(os.readlink(link))
    return target.name == NAME and target.parent.name == "bin" and ".nox" in target.parts


def install(target: Path, directory: Path, path_env: str) -> Outcome:
    """Link ``directory/clarateach`` to ``target`` under the rules in the module docstring."""
    if not on_path(directory, path_env):
        return Outcome.NOT_ON_PATH
    link = directory / NAME
    if link.is_symlink() and link.resolve() == target.resolve():
        return Outcome.ALREADY
    if link.exists() or link.is_symlink():
        if not _is_ours(link):
            return Outcome.TAKEN
        link.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return Outcome.INSTALLED


def main() -> int:
    target = Path(sys.executable).with_name(NAME).absolute()
    if not target.exists():
        print(f"clarateach shim: {target} does not exist; nothing linked", file=sys.stderr)
        return 1
    directory = bin_dir(os.environ)
    outcome = install(target, directory, os.environ.get("PATH", ""))
    where = directory / NAME
    messages = {
        Outcome.INSTALLED: f"`clarateach` is on your PATH: {where} -> {target}",
        Outcome.ALREADY: f"`clarateach` is on your PATH: {where} -> {target}",
        Outcome.NOT_ON_PATH: f"{directory} is not on PATH, so no `clarateach` link was made; "
        f"hints print the full path ({target}).",
        Outcome.TAKEN: f"{where} is another program; left alone (hints print {target}).",
    }
    print(messages[outcome])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
