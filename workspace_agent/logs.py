"""Structured (JSON lines) logging with the same context fields everywhere.

Callers pass ``workshop_id``/``host``/``seat`` etc. as keywords; nothing secret is ever passed.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_CONTEXT: dict[str, Any] = {}


def set_context(**fields: Any) -> None:
    """Fields added to every event of this process (workshop_id, host)."""
    _CONTEXT.update(fields)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            **_CONTEXT,
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            body["error"] = repr(record.exc_info[1])
        return json.dumps(body, default=str)


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # access log shows paths only
