"""Building content packs and hostile zips for tests (``shared.content``).

``minimal_files()`` is a valid two-step pack as ``{path: bytes}``; ``make_zip`` writes any
entries, including names and modes the CLI would never produce; ``patch_sizes`` rewrites an
entry's declared uncompressed size in both the local header and the central directory (a zip
that lies about its size).
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "claude-code-101"

MANIFEST = b"""title = "Tiny pack"

[[steps]]
id = "one"
title = "Step one"
guide = "guide/01-one.md"
check = "checks/one.sh"

[[steps]]
id = "two"
title = "Step two"
guide = "guide/02-two.md"
"""


def minimal_files(manifest: bytes = MANIFEST) -> dict[str, bytes]:
    return {
        "workshop.toml": manifest,
        "guide/01-one.md": b"# One\n",
        "guide/02-two.md": b"# Two\n",
        "checks/one.sh": b"#!/bin/sh\necho ok\n",
        "starter/hello.txt": b"hello\n",
    }


Entry = tuple[str, bytes] | tuple[str, bytes, int]


def make_zip(
    entries: list[Entry] | dict[str, bytes], *, compress: int = zipfile.ZIP_DEFLATED
) -> bytes:
    """A zip of ``entries`` (``(name, data[, unix mode])``), names written verbatim."""
    items = list(entries.items()) if isinstance(entries, dict) else entries
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compress) as zf:
        for item in items:
            name, data = item[0], item[1]
            mode = item[2] if len(item) == 3 else stat.S_IFREG | 0o644  # type: ignore[misc]
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = compress
            zf.writestr(info, data)
    return buffer.getvalue()


def rename_entry(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace an entry name of the same length everywhere it is written (e.g. to put a NUL
    byte in a name, which ``zipfile`` refuses to write)."""
    assert len(old) == len(new)
    return data.replace(old, new)


def patch_sizes(data: bytes, name: str, declared: int) -> bytes:
    """Make entry ``name`` declare ``declared`` uncompressed bytes (its data unchanged)."""
    raw = bytearray(data)
    encoded = name.encode()
    # Local file header: signature, then the uncompressed size at offset 22; name at 30.
    pos = 0
    while (pos := raw.find(b"PK\x03\x04", pos)) >= 0:
        name_len = struct.unpack_from("<H", raw, pos + 26)[0]
        if bytes(raw[pos + 30 : pos + 30 + name_len]) == encoded:
            struct.pack_into("<I", raw, pos + 22, declared)
        pos += 4
    # Central directory header: the uncompressed size at offset 24; name at 46.
    pos = 0
    while (pos := raw.find(b"PK\x01\x02", pos)) >= 0:
        name_len = struct.unpack_from("<H", raw, pos + 28)[0]
        if bytes(raw[pos + 46 : pos + 46 + name_len]) == encoded:
            struct.pack_into("<I", raw, pos + 24, declared)
        pos += 4
    return bytes(raw)


def write_dir(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if name.startswith("checks/"):
            path.chmod(0o755)
    return root
