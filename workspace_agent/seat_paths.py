"""The one parser of the ``{seat}`` in agent paths (``/seats/{seat}/...``).

A seat number in a path is canonical ASCII decimal: ``1``-``999999``, no sign, no leading zero,
no whitespace. Python's ``int()`` and ``str.isdigit()`` are far more liberal (``int("+1")``,
``int(" 1_0 ")``, ``int()`` of full-width or Arabic-Indic digits, and ``isdigit()`` of a
superscript one all "work"), so one seat would answer to
many spellings: a path-based allowlist, a log search or a cache key could then see two seats
where there is one. Every route family (terminal, files, archive, model gateway) parses with
``parse_seat``; anything else is "no such seat" (404).
"""

from __future__ import annotations

import re

MAX_SEAT_DIGITS = 6
_CANONICAL = re.compile(rf"[1-9][0-9]{{0,{MAX_SEAT_DIGITS - 1}}}", re.ASCII)


def parse_seat(raw: str) -> int | None:
    """``"12"`` → 12; ``"012"``, ``"0"``, ``"+1"``, ``"\\uff11"``, ``" 1"``, ``"1_0"`` → None."""
    if _CANONICAL.fullmatch(raw) is None:
        return None
    return int(raw)
