"""The content-pack refusal matrix: each vector is a zip and the file and field it must name.

Shared by the module tests (tests/unit/test_content_pack.py) and the API tests
(tests/api/test_content_api.py), so every vector is proven at both layers.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.content_packs import (
    MANIFEST,
    make_zip,
    minimal_files,
    patch_sizes,
    rename_entry,
)

MiB = 1024 * 1024


@dataclass(frozen=True)
class Vector:
    id: str
    build: Callable[[], bytes]
    file: str
    field: str


def _with(extra: list, *, drop: tuple[str, ...] = ()) -> Callable[[], bytes]:
    def build() -> bytes:
        base = [(k, v) for k, v in minimal_files().items() if k not in drop]
        return make_zip(base + extra)

    return build


def _manifest(text: bytes) -> Callable[[], bytes]:
    return lambda: make_zip(minimal_files(text))


def _nul_name() -> bytes:
    data = make_zip([*minimal_files().items(), ("starter/aXb.txt", b"x")])
    return rename_entry(data, b"starter/aXb.txt", b"starter/a\x00b.txt")


def _lying_size() -> bytes:
    data = make_zip([*minimal_files().items(), ("starter/big.txt", b"A" * 5000)])
    return patch_sizes(data, "starter/big.txt", 10)


def _too_many() -> bytes:
    files = list(minimal_files().items())
    files += [(f"starter/f{i}.txt", b"x") for i in range(500)]
    return make_zip(files)


def _guide_not_utf8() -> bytes:
    files = minimal_files()
    files["guide/01-one.md"] = b"\xff\xfe bad"
    return make_zip(files)


VECTORS: tuple[Vector, ...] = (
    Vector("dotdot", _with([("../x", b"x")]), "../x", "path"),
    Vector("absolute", _with([("/abs", b"x")]), "/abs", "path"),
    Vector("nested-dotdot", _with([("a/../../x", b"x")]), "a/../../x", "path"),
    Vector("backslash", _with([("starter\\..\\..\\x", b"x")]), "starter\\..\\..\\x", "path"),
    Vector("drive-letter", _with([("C:/x", b"x")]), "C:/x", "path"),
    Vector("nul", _nul_name, "starter/a\\x00b.txt", "path"),
    Vector(
        "symlink",
        _with([("starter/link", b"../../../etc/passwd", stat.S_IFLNK | 0o777)]),
        "starter/link",
        "type",
    ),
    Vector("device", _with([("starter/dev", b"", stat.S_IFCHR | 0o644)]), "starter/dev", "type"),
    Vector("fifo", _with([("starter/pipe", b"", stat.S_IFIFO | 0o644)]), "starter/pipe", "type"),
    Vector("duplicate", _with([("starter/hello.txt", b"again")]), "starter/hello.txt", "path"),
    Vector("case-only", _with([("starter/HELLO.txt", b"x")]), "starter/HELLO.txt", "path"),
    Vector("file-and-dir", _with([("starter/hello.txt/x", b"x")]), "starter/hello.txt/x", "path"),
    Vector("top-level-file", _with([("evil.sh", b"x")]), "evil.sh", "path"),
    Vector(
        "deep", _with([("starter/" + "d/" * 12 + "x", b"x")]), "starter/" + "d/" * 12 + "x", "path"
    ),
    Vector(
        "oversize-file",
        _with([("starter/big.bin", os.urandom(5 * MiB + 1))]),
        "starter/big.bin",
        "size",
    ),
    Vector("too-many-files", _too_many, "archive", "files"),
    Vector(
        "zip-bomb-ratio", _with([("starter/zeros", b"\0" * (2 * MiB))]), "starter/zeros", "size"
    ),
    Vector("declared-vs-actual", _lying_size, "starter/big.txt", "data"),
    Vector("not-a-zip", lambda: b"this is not a zip", "archive", "format"),
    Vector("no-manifest", _with([], drop=("workshop.toml",)), "workshop.toml", "(file)"),
    Vector("bad-toml", _manifest(b'title = "x\n[[steps]'), "workshop.toml", "toml"),
    Vector(
        "unknown-field",
        _manifest(MANIFEST.replace(b'title = "Step one"', b'title = "Step one"\nchek = "x"')),
        "workshop.toml",
        "steps[0].chek",
    ),
    Vector(
        "unknown-top-field",
        _manifest(b"colour = 'red'\n" + MANIFEST),
        "workshop.toml",
        "colour",
    ),
    Vector(
        "missing-guide",
        _with([], drop=("guide/02-two.md",)),
        "workshop.toml",
        "steps[1].guide",
    ),
    Vector("missing-check", _with([], drop=("checks/one.sh",)), "workshop.toml", "steps[0].check"),
    Vector(
        "bad-guide-path",
        _manifest(MANIFEST.replace(b"guide/02-two.md", b"guide/two.md")),
        "workshop.toml",
        "steps[1].guide",
    ),
    Vector(
        "timeout-too-long",
        _manifest(
            MANIFEST.replace(
                b'check = "checks/one.sh"', b'check = "checks/one.sh"\ncheck_timeout_s = 121'
            )
        ),
        "workshop.toml",
        "steps[0].check_timeout_s",
    ),
    Vector(
        "duplicate-step-id",
        _manifest(MANIFEST.replace(b'id = "two"', b'id = "one"')),
        "workshop.toml",
        "steps[1].id",
    ),
    Vector(
        "unreferenced-guide", _with([("guide/03-extra.md", b"# x")]), "guide/03-extra.md", "path"
    ),
    Vector("guide-not-utf8", _guide_not_utf8, "guide/01-one.md", "encoding"),
    Vector(
        "stored-lying",
        lambda: patch_sizes(
            make_zip(
                [*minimal_files().items(), ("starter/s.txt", b"B" * 100)],
                compress=zipfile.ZIP_STORED,
            ),
            "starter/s.txt",
            4,
        ),
        "starter/s.txt",
        "data",
    ),
)
