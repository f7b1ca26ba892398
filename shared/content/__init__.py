"""Workshop content packs: the layout, its schema and its safe (un)packing.

A pack is a directory or a ``.zip`` of one (docs/content-packs.md)::

    workshop.toml          title, steps and their checks, Claude Code settings
    guide/NN-*.md          one Markdown file per step
    starter/...            copied into every seat's workspace before the first shell
    checks/...             check scripts run in the seat (exit 0 = pass, stdout = message)
    README.md              optional, for humans browsing the pack

Pure: nothing here does I/O beyond reading the path or bytes it is given and, for
``extract_pack``, writing under the destination it is given. Every refusal is a
``ContentPackError`` naming the file and the field.
"""

from shared.content.errors import ContentPackError
from shared.content.limits import DEFAULT_LIMITS, PackLimits
from shared.content.manifest import (
    CHECK_TIMEOUT_DEFAULT,
    CHECK_TIMEOUT_MAX,
    Manifest,
    Starter,
    Step,
)
from shared.content.pack import (
    MANIFEST_NAME,
    Pack,
    PackFile,
    extract_pack,
    installed_pack,
    load_pack_dir,
    load_pack_zip,
    pack_to_zip,
)

__all__ = [
    "CHECK_TIMEOUT_DEFAULT",
    "CHECK_TIMEOUT_MAX",
    "DEFAULT_LIMITS",
    "MANIFEST_NAME",
    "ContentPackError",
    "Manifest",
    "Pack",
    "PackFile",
    "PackLimits",
    "Starter",
    "Step",
    "extract_pack",
    "installed_pack",
    "load_pack_dir",
    "load_pack_zip",
    "pack_to_zip",
]
