"""Size and shape limits of a content pack (one instance, injectable for tests)."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class PackLimits:
    #: Largest zip the API accepts (the upload body).
    max_archive_bytes: int = 10 * MiB
    #: Sum of the uncompressed sizes of every file.
    max_total_bytes: int = 20 * MiB
    #: Largest single file, uncompressed.
    max_file_bytes: int = 5 * MiB
    #: Files (directories not counted).
    max_files: int = 500
    #: Path components of one file (``starter/src/app/main.py`` has 4).
    max_depth: int = 10
    #: Characters of one path and of one component.
    max_path_chars: int = 255
    max_component_chars: int = 100
    #: An entry that inflates more than this ratio is refused as a zip bomb once it is
    #: larger than ``ratio_floor_bytes`` (small, very compressible files are normal).
    max_ratio: int = 200
    ratio_floor_bytes: int = 1 * MiB
    #: The manifest and each guide page.
    max_manifest_bytes: int = 64 * 1024
    max_guide_bytes: int = 256 * 1024


DEFAULT_LIMITS = PackLimits()
