"""``shared.content``: the pack schema and safe (un)packing, without any server.

Every vector of the refusal matrix (tests/support/content_vectors.py) is refused with a
``ContentPackError`` naming its file and field; nothing is written by a refused
``extract_pack``; the example pack round-trips through zip and extraction.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shared.content import (
    ContentPackError,
    extract_pack,
    installed_pack,
    load_pack_dir,
    load_pack_zip,
    pack_to_zip,
)
from tests.support.content_packs import EXAMPLE, make_zip, minimal_files, write_dir
from tests.support.content_vectors import VECTORS


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.id)
def test_each_hostile_or_broken_zip_is_refused_naming_file_and_field(vector) -> None:
    with pytest.raises(ContentPackError) as caught:
        load_pack_zip(vector.build())
    assert (caught.value.file, caught.value.field) == (vector.file, vector.field), str(caught.value)
    assert caught.value.file in caught.value.message


def test_a_refused_pack_leaves_the_destination_untouched(tmp_path: Path) -> None:
    dest = tmp_path / "content"
    extract_pack(make_zip(minimal_files()), dest)
    bad = next(v for v in VECTORS if v.id == "symlink").build()

    with pytest.raises(ContentPackError):
        extract_pack(bad, dest)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["content"]  # no staging left behind
    assert (dest / "starter" / "hello.txt").read_bytes() == b"hello\n"
    assert not (dest / "starter" / "link").exists()


def test_extraction_replaces_the_previous_pack_and_keeps_check_scripts_executable(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "content"
    files = minimal_files()
    files["starter/old.txt"] = b"old"
    extract_pack(make_zip(files), dest)
    pack = extract_pack(pack_to_zip(EXAMPLE), dest)

    assert not (dest / "starter" / "old.txt").exists()
    assert [s.id for s in pack.manifest.steps] == [
        "explore",
        "explain",
        "claude-md",
        "fix-test",
        "commit",
    ]
    mode = (dest / "checks" / "tests-pass.sh").stat().st_mode
    assert mode & stat.S_IXUSR and not mode & stat.S_IWOTH
    assert installed_pack(dest) == pack
    assert installed_pack(tmp_path / "nothing") is None


def test_the_example_pack_round_trips_through_a_deterministic_zip() -> None:
    first, second = pack_to_zip(EXAMPLE), pack_to_zip(EXAMPLE)
    assert first == second
    pack = load_pack_zip(first)
    assert pack == load_pack_dir(EXAMPLE)
    assert pack.manifest.starter.git_commit == "initial"
    assert "starter/tests/test_core.py" in pack.paths()
    assert pack.guide(2).startswith("# Write CLAUDE.md")


def test_a_directory_pack_refuses_symlinks_and_hard_links_out(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("host secret")
    root = write_dir(tmp_path / "pack", minimal_files())

    (root / "starter" / "link").symlink_to(outside)
    with pytest.raises(ContentPackError) as caught:
        load_pack_dir(root)
    assert (caught.value.file, caught.value.field) == ("starter/link", "type")

    (root / "starter" / "link").unlink()
    os.link(outside, root / "starter" / "hard")
    with pytest.raises(ContentPackError) as caught:
        pack_to_zip(root)
    assert (caught.value.file, caught.value.field) == ("starter/hard", "type")
    assert "hard link" in caught.value.message


def test_a_directory_pack_skips_tool_droppings(tmp_path: Path) -> None:
    files = minimal_files()
    files["starter/__pycache__/x.pyc"] = b"\0"
    files["starter/.git/HEAD"] = b"ref: refs/heads/main\n"
    root = write_dir(tmp_path / "pack", files)
    assert load_pack_dir(root).paths() == sorted(minimal_files())


def test_error_messages_escape_control_characters_in_names() -> None:
    vector = next(v for v in VECTORS if v.id == "nul")
    with pytest.raises(ContentPackError) as caught:
        load_pack_zip(vector.build())
    assert "\x00" not in caught.value.message
    assert caught.value.code == "invalid_content_pack"
