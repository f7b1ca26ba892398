"""The room's notices kept in the agent's state directory, so an agent restart keeps them.

Why on the agent and not in the platform store: every read goes through the seat's own agent
(learner pages poll ``GET /seats/{n}/notices``; the cockpit reads hands from each host's
``/control/activity``), and a hand belongs to one seat, which lives on one host. The
platform already stores the broadcast on the workshop (``Workshop.broadcast``, the source of
truth it fans out from); the agent's copy is what its pages read between fan-outs and after a
restart.

``<state_dir>/notices.json`` (mode 0600, replaced atomically: a crash mid-write leaves the
previous file): ``{"broadcast": {message, sent_at} | null, "hands": {"<seat>": {"text",
"raised_at": epoch seconds}}}``. A missing, unreadable or malformed file is an empty room
(logged), never a failed start; every value is re-validated on load, as it was on the way in.
Hands carry wall-clock times, so the time waited keeps counting across a restart.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from shared.domain.cockpit import broadcast_message, hand_text
from shared.domain.errors import ValidationError

log = logging.getLogger(__name__)

FILE_NAME = "notices.json"


def load(path: Path) -> tuple[dict[str, str] | None, dict[int, tuple[str, float]]]:
    """``(broadcast, hands)`` from ``path``; empty when absent or not valid."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None, {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, type(exc).__name__)
        return None, {}
    if not isinstance(raw, dict):
        return None, {}
    return _broadcast(raw.get("broadcast")), _hands(raw.get("hands"))


def _broadcast(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict) or not isinstance(value.get("sent_at"), str):
        return None
    try:
        return {"message": broadcast_message(value.get("message")), "sent_at": value["sent_at"]}
    except ValidationError:
        return None


def _hands(value: Any) -> dict[int, tuple[str, float]]:
    hands: dict[int, tuple[str, float]] = {}
    if not isinstance(value, dict):
        return hands
    for seat, hand in value.items():
        if not (isinstance(seat, str) and seat.isdigit() and isinstance(hand, dict)):
            continue
        at = hand.get("raised_at")
        if not isinstance(at, int | float) or isinstance(at, bool):
            continue
        try:
            hands[int(seat)] = (hand_text(hand.get("text")), float(at))
        except ValidationError:
            continue
    return hands


def save(path: Path, broadcast: dict[str, str] | None, hands: dict[int, tuple[str, float]]) -> None:
    """Write atomically with mode 0600 (learner text stays private to the agent's user)."""
    document = {
        "broadcast": broadcast,
        "hands": {str(s): {"text": t, "raised_at": at} for s, (t, at) in sorted(hands.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(document, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
