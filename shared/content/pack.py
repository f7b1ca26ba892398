"""Loading, packing and extracting content packs, validating every time.

``load_pack_dir`` reads a directory (an instructor's working copy), ``load_pack_zip`` the
uploaded archive; both return the same ``Pack`` or raise ``ContentPackError``. Nothing from
the archive is trusted: names go through ``paths.check_path``, entry types come from the
zip's Unix mode bits (links, devices and FIFOs refused), sizes are checked on the declared
values first and again while inflating (a lying header is caught, nothing is written
beyond the limits), and the whole pack is in memory (at most ``max_total_bytes``) before
``extract_pack`` writes anything.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.content.errors import ContentPackError
from shared.content.limits import DEFAULT_LIMITS, PackLimits
from shared.content.manifest import Manifest, parse_manifest
from shared.content.paths import PathSet, check_path

MANIFEST_NAME = "workshop.toml"
ARCHIVE = "archive"
#: Directory-pack entries skipped (editor, OS and tool droppings, a checkout's .git).
_SKIPPED = frozenset({".git", ".DS_Store", "__pycache__", ".pytest_cache", ".mypy_cache"})
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class PackFile:
    path: str
    data: bytes
    executable: bool = False

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Pack:
    """A validated pack: its manifest and every file (sorted by path)."""

    manifest: Manifest
    files: tuple[PackFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def paths(self) -> list[str]:
        return [f.path for f in self.files]

    def read(self, path: str) -> bytes:
        for f in self.files:
            if f.path == path:
                return f.data
        raise KeyError(path)

    def guide(self, index: int) -> str:
        """The Markdown of step ``index`` (validated UTF-8)."""
        return self.read(self.manifest.steps[index].guide).decode("utf-8")

    def starter_files(self) -> list[PackFile]:
        return [f for f in self.files if f.path.startswith("starter/")]

    def to_zip(self) -> bytes:
        """A deterministic zip of the pack (same files, same bytes)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in self.files:
                info = zipfile.ZipInfo(f.path, date_time=_FIXED_TIME)
                info.create_system = 3
                info.external_attr = (stat.S_IFREG | (0o755 if f.executable else 0o644)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, f.data)
        return buffer.getvalue()


def load_pack_zip(data: bytes, limits: PackLimits = DEFAULT_LIMITS) -> Pack:
    """Validate an uploaded archive and return its pack."""
    if len(data) > limits.max_archive_bytes:
        raise ContentPackError(
            ARCHIVE, "size", f"the zip is larger than {limits.max_archive_bytes} bytes"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ContentPackError(ARCHIVE, "format", "not a readable zip archive") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_files * 4:
            raise ContentPackError(ARCHIVE, "files", f"more than {limits.max_files} files")
        files = list(_zip_files(zf, infos, limits))
    return _build(files, limits)


def _zip_files(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: PackLimits
) -> Iterator[PackFile]:
    seen = PathSet()
    count = total = 0
    for info in infos:
        name = info.orig_filename
        is_dir = name.endswith("/")
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        is_dir = is_dir or (kind == stat.S_IFDIR)
        check_path(name.removesuffix("/"), limits, directory=is_dir)
        if stat.S_ISLNK(mode):
            raise ContentPackError(name, "type", "symbolic links are not allowed")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ContentPackError(name, "type", "only regular files and directories are allowed")
        if is_dir:
            continue
        if info.flag_bits & 0x1:
            raise ContentPackError(name, "encryption", "encrypted entries are not allowed")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ContentPackError(name, "compression", "only stored or deflated entries")
        seen.add(name)
        count += 1
        if count > limits.max_files:
            raise ContentPackError(ARCHIVE, "files", f"more than {limits.max_files} files")
        _check_declared(info, name, limits)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ContentPackError(
                name, "size", f"the pack is larger than {limits.max_total_bytes} bytes unpacked"
            )
        yield PackFile(name, _inflate(zf, info, name), executable=bool(mode & 0o100))


def _check_declared(info: zipfile.ZipInfo, name: str, limits: PackLimits) -> None:
    if info.file_size > limits.max_file_bytes:
        raise ContentPackError(name, "size", f"larger than {limits.max_file_bytes} bytes")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
        raise ContentPackError(
            name, "size", f"compression ratio {ratio:.0f}:1 is above {limits.max_ratio}:1"
        )


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    """Read at most the declared size; more (or less, or a bad CRC) is a refusal."""
    out = bytearray()
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                out += chunk
                if len(out) > info.file_size:
                    raise ContentPackError(name, "size", "inflates beyond its declared size")
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
        raise ContentPackError(name, "data", f"corrupt entry ({exc})") from exc
    if len(out) != info.file_size:
        raise ContentPackError(name, "size", "does not match its declared size")
    return bytes(out)


def load_pack_dir(path: str | os.PathLike[str], limits: PackLimits = DEFAULT_LIMITS) -> Pack:
    """Validate a pack directory. Symbolic links, hard links and special files are refused
    (a link could pull files from outside the pack into every seat)."""
    root = Path(path)
    if not root.is_dir():
        raise ContentPackError(str(root), "path", "is not a directory")
    return _build(list(_dir_files(root, limits)), limits)


def _dir_files(root: Path, limits: PackLimits) -> Iterator[PackFile]:
    seen = PathSet()
    count = total = 0
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
        for entry in ordered:
            if entry.name in _SKIPPED:
                continue
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise ContentPackError(rel, "type", "symbolic links are not allowed")
            if stat.S_ISDIR(st.st_mode):
                check_path(rel, limits, directory=True)
                stack.append((Path(entry.path), rel + "/"))
                continue
            check_path(rel, limits)
            if not stat.S_ISREG(st.st_mode):
                raise ContentPackError(
                    rel, "type", "only regular files and directories are allowed"
                )
            if st.st_nlink > 1:
                raise ContentPackError(rel, "type", "hard links are not allowed")
            seen.add(rel)
            count += 1
            if count > limits.max_files:
                raise ContentPackError(ARCHIVE, "files", f"more than {limits.max_files} files")
            if st.st_size > limits.max_file_bytes:
                raise ContentPackError(rel, "size", f"larger than {limits.max_file_bytes} bytes")
            total += st.st_size
            if total > limits.max_total_bytes:
                raise ContentPackError(
                    rel, "size", f"the pack is larger than {limits.max_total_bytes} bytes"
                )
            data = _read_nofollow(Path(entry.path), rel, limits.max_file_bytes)
            yield PackFile(rel, data, executable=bool(st.st_mode & 0o100))


def _read_nofollow(path: Path, rel: str, cap: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ContentPackError(rel, "type", "only regular files are allowed")
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise ContentPackError(rel, "size", f"larger than {cap} bytes")
    return data


def _build(files: list[PackFile], limits: PackLimits) -> Pack:
    """Cross-file rules: the manifest exists and parses; every step's guide and check exist;
    every guide page belongs to a step and is UTF-8 text."""
    by_path = {f.path: f for f in files}
    manifest_file = by_path.get(MANIFEST_NAME)
    if manifest_file is None:
        raise ContentPackError(MANIFEST_NAME, "(file)", "the pack has no workshop.toml")
    if manifest_file.size > limits.max_manifest_bytes:
        raise ContentPackError(MANIFEST_NAME, "size", f"larger than {limits.max_manifest_bytes}")
    manifest = parse_manifest(manifest_file.data)
    guides = {step.guide for step in manifest.steps}
    for i, step in enumerate(manifest.steps):
        if step.guide not in by_path:
            raise ContentPackError(
                MANIFEST_NAME, f"steps[{i}].guide", f"{step.guide} is not in the pack"
            )
        if step.check is not None and step.check not in by_path:
            raise ContentPackError(
                MANIFEST_NAME, f"steps[{i}].check", f"{step.check} is not in the pack"
            )
    for f in files:
        if f.path.startswith("guide/"):
            _check_guide(f, guides, limits)
    return Pack(manifest=manifest, files=tuple(sorted(files, key=lambda f: f.path)))


def _check_guide(f: PackFile, guides: set[str], limits: PackLimits) -> None:
    if f.path not in guides:
        raise ContentPackError(f.path, "path", "guide page not referenced by any step")
    if f.size > limits.max_guide_bytes:
        raise ContentPackError(f.path, "size", f"larger than {limits.max_guide_bytes} bytes")
    try:
        f.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentPackError(f.path, "encoding", "must be UTF-8 text") from exc


def pack_to_zip(path: str | os.PathLike[str], limits: PackLimits = DEFAULT_LIMITS) -> bytes:
    """Validate the directory pack at ``path`` and return its zip (what the CLI uploads)."""
    data = load_pack_dir(path, limits).to_zip()
    if len(data) > limits.max_archive_bytes:
        raise ContentPackError(
            ARCHIVE, "size", f"the zip is larger than {limits.max_archive_bytes} bytes"
        )
    return data


def extract_pack(
    data: bytes, dest: str | os.PathLike[str], limits: PackLimits = DEFAULT_LIMITS
) -> Pack:
    """Validate ``data`` and replace ``dest`` with the unpacked pack.

    Everything is validated in memory first; the files are written into a fresh sibling
    directory (created here, so nothing in it is a link) with ``O_EXCL | O_NOFOLLOW``, which
    then replaces ``dest`` by rename. A refused pack leaves ``dest`` untouched.
    """
    pack = load_pack_zip(data, limits)
    target = Path(dest)
    staging = target.parent / f".{target.name}.new-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o755)
    try:
        for f in pack.files:
            _write_new(staging, f)
        if target.exists():
            old = target.parent / f".{target.name}.old-{secrets.token_hex(4)}"
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return pack


def _write_new(root: Path, f: PackFile) -> None:
    target = root.joinpath(*f.path.split("/"))
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(target, flags, 0o755 if f.executable else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(f.data)


def installed_pack(content_dir: str | os.PathLike[str]) -> Pack | None:
    """The pack an agent extracted to ``content_dir``, or ``None`` if the workshop has none."""
    root = Path(content_dir)
    if not (root / MANIFEST_NAME).is_file():
        return None
    return load_pack_dir(root)
