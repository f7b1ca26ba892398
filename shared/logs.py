"""Structured logging for every ClaraTeach process: JSON lines, shared context fields, redaction.

Use ``get_logger(__name__)`` and pass context through ``extra``::

    log.info("start requested", extra={"workshop_id": w.id, "attempt": 2})

The context fields ``CONTEXT_FIELDS`` (and any other ``extra`` key) become top-level JSON keys.
``configure()`` installs a handler whose ``RedactingFilter`` scrubs bearer tokens, JWT-looking
strings and Anthropic keys from the message, its arguments, extra fields and tracebacks before
anything is written, so a secret that slips into a log call still never reaches the output.
Reconnect codes cannot be recognised by shape: they are simply never logged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

#: Keys every component uses for the same things, so logs from all processes join up.
CONTEXT_FIELDS = ("workshop_id", "host", "seat", "event_id", "attempt", "owner", "status")

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bbearer\s+[^\s\"',;]+"), "Bearer [REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[REDACTED_JWT]"),
    (re.compile(r"sk-ant-[A-Za-z0-9_\-]*"), "[REDACTED_KEY]"),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
        "[REDACTED_PRIVATE_KEY]",
    ),
)

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    """``text`` with every secret-shaped substring replaced by a marker."""
    for pattern, marker in _REDACTIONS:
        text = pattern.sub(marker, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so no later formatter can see a secret-shaped string."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} (unformattable arguments)"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def make_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler writing redacted JSON lines (default: stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    handler.set_name("clarateach-json")
    return handler


def configure(level: int | str = logging.INFO, stream: IO[str] | None = None) -> None:
    """Install the JSON handler on the root logger once (idempotent: replaces our own handler)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "clarateach-json":
            root.removeHandler(existing)
    root.addHandler(make_handler(stream))
    root.setLevel(level)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
