"""Which names may appear in a pack: containment and portability rules for one path.

A pack path is relative, ``/``-separated, NFC-free of tricks: no empty, ``.`` or ``..``
component, no leading ``/`` or drive letter, no backslash, NUL or other control character,
bounded length and depth. Two paths that differ only by letter case (or Unicode
normalisation) are refused as duplicates: a pack must unpack the same on a case-insensitive
disk (an instructor's laptop) as on the hosts.
"""

from __future__ import annotations

import re
import unicodedata

from shared.content.errors import ContentPackError
from shared.content.limits import PackLimits

TOP_LEVEL_FILES = frozenset({"workshop.toml", "README.md"})
TOP_LEVEL_DIRS = frozenset({"guide", "starter", "checks"})
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_path(name: str, limits: PackLimits, *, directory: bool = False) -> str:
    """Return ``name`` if it is an acceptable pack file (or ``directory``) path, else raise."""
    if "\x00" in name:
        raise ContentPackError(name, "path", "contains a NUL character")
    if "\\" in name:
        raise ContentPackError(name, "path", "contains a backslash; use '/' between directories")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise ContentPackError(name, "path", "contains a control character")
    if name.startswith("/") or _DRIVE.match(name):
        raise ContentPackError(name, "path", "is absolute; paths must be relative to the pack")
    parts = name.split("/")
    if any(p == ".." for p in parts):
        raise ContentPackError(name, "path", "contains '..'; paths must stay inside the pack")
    if any(p in ("", ".") for p in parts):
        raise ContentPackError(name, "path", "has an empty or '.' component")
    if len(name) > limits.max_path_chars:
        raise ContentPackError(name, "path", f"is longer than {limits.max_path_chars} characters")
    if any(len(p) > limits.max_component_chars for p in parts):
        raise ContentPackError(
            name, "path", f"has a component longer than {limits.max_component_chars} characters"
        )
    if len(parts) > limits.max_depth:
        raise ContentPackError(name, "path", f"is deeper than {limits.max_depth} levels")
    if directory:
        _check_directory(name, parts)
        return name
    if len(parts) == 1 and name not in TOP_LEVEL_FILES:
        raise ContentPackError(
            name, "path", "unexpected top-level file (allowed: workshop.toml, README.md)"
        )
    if len(parts) > 1 and parts[0] not in TOP_LEVEL_DIRS:
        raise ContentPackError(
            name, "path", "unexpected top-level directory (allowed: guide/, starter/, checks/)"
        )
    if parts[0] == "guide" and len(parts) > 2:
        raise ContentPackError(name, "path", "guide/ holds only Markdown pages, no directories")
    return name


def _check_directory(name: str, parts: list[str]) -> None:
    if parts[0] not in TOP_LEVEL_DIRS:
        raise ContentPackError(
            name, "path", "unexpected top-level directory (allowed: guide/, starter/, checks/)"
        )
    if parts[0] == "guide" and len(parts) > 1:
        raise ContentPackError(name, "path", "guide/ holds only Markdown pages, no directories")


def fold(name: str) -> str:
    """The key two names collide on (case and normalisation insensitive)."""
    return unicodedata.normalize("NFC", name).casefold()


class PathSet:
    """Names seen so far; refuses duplicates and a path that is both a file and a directory."""

    def __init__(self) -> None:
        self._files: dict[str, str] = {}
        self._dirs: set[str] = set()

    def add(self, name: str) -> None:
        key = fold(name)
        if key in self._files:
            other = self._files[key]
            why = "duplicate entry" if other == name else f"differs from {other!r} only by case"
            raise ContentPackError(name, "path", why)
        if key in self._dirs:
            raise ContentPackError(name, "path", "is both a file and a directory")
        parts = key.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in self._files:
                raise ContentPackError(name, "path", f"{self._files[prefix]!r} is a file")
            self._dirs.add(prefix)
        self._files[key] = name
