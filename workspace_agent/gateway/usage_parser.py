"""Read ``usage`` out of upstream responses without holding them.

``SseUsageParser`` is fed the streamed bytes chunk by chunk, exactly as they are forwarded.
It keeps at most one partial line (bounded by ``max_line``) and only decodes the ``data:``
lines of ``message_start`` and ``message_delta`` events, which carry the usage; every other
line is skipped with a substring test. A line longer than ``max_line`` is dropped whole (no
usage event is that long) instead of growing the buffer.
"""

from __future__ import annotations

import json
from typing import Any

from workspace_agent.gateway.usage import ResponseUsage

_USAGE_EVENTS = (b'"message_start"', b'"message_delta"')


class SseUsageParser:
    def __init__(self, max_line: int = 256 * 1024) -> None:
        self.usage = ResponseUsage()
        self._max_line = max_line
        self._partial = b""
        #: True while discarding the rest of an over-long line.
        self._skipping = False

    def feed(self, chunk: bytes) -> None:
        data = self._partial + chunk if self._partial else chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > self._max_line:
            self._partial = b""
            self._skipping = True
        for line in lines:
            if self._skipping:
                self._skipping = False  # this was the tail of the over-long line
                continue
            if line.startswith(b"data:") and any(tag in line for tag in _USAGE_EVENTS):
                self._on_data(line[5:])

    def _on_data(self, payload: bytes) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        if event.get("type") == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self._take(message.get("usage"), message.get("model"))
        elif event.get("type") == "message_delta":
            self._take(event.get("usage"), None)

    def _take(self, usage: Any, model: Any) -> None:
        if isinstance(model, str):
            self.usage.model = model
        if isinstance(usage, dict):
            self.usage.merge(usage)


def usage_from_json(body: bytes) -> ResponseUsage:
    """Usage of a non-streamed Messages response (all zeros if the body has none)."""
    usage = ResponseUsage()
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return usage
    if isinstance(doc, dict):
        if isinstance(doc.get("model"), str):
            usage.model = doc["model"]
        if isinstance(doc.get("usage"), dict):
            usage.merge(doc["usage"])
    return usage
