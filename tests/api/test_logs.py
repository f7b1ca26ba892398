"""``shared.logs``: JSON lines with context fields, and the redaction of secret-shaped text."""

from __future__ import annotations

import io
import json
import logging

import pytest

from shared import logs

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyIn0.eyJzdWIiOiJzZWF0OncxOjMifQ.c2lnbmF0dXJlLXBhcnQ"
KEY = "sk-ant-api03-AbCdEf0123456789_-ghIJ"


@pytest.fixture
def logger() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    log = logging.getLogger("tests.logs.isolated")
    log.handlers = [logs.make_handler(stream)]
    log.propagate = False
    log.setLevel(logging.DEBUG)
    return log, stream


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {KEY}", KEY),
        ("authorization=bearer abc.def-ghi", "abc.def-ghi"),
        (f"token={JWT}", JWT),
        (f"key {KEY} in text", KEY),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "MIIE"),
    ],
)
def test_redact_removes_secret_shapes(text: str, secret: str) -> None:
    assert secret not in logs.redact(text)


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "workshop w123 seat 4 moved to running (attempt 2)"
    assert logs.redact(text) == text


def test_lines_are_json_with_context_fields(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logger
    log.info("seat %s assigned", 3, extra={"workshop_id": "w1", "seat": 3, "event_id": "e9"})

    [entry] = lines(stream)
    assert entry["message"] == "seat 3 assigned"
    assert (entry["workshop_id"], entry["seat"], entry["event_id"]) == ("w1", 3, "e9")
    assert entry["severity"] == "INFO" and entry["logger"] == "tests.logs.isolated"


def test_secrets_in_messages_arguments_extras_and_tracebacks_are_scrubbed(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    log.warning("calling with %s", f"Bearer {JWT}", extra={"detail": KEY})
    try:
        raise RuntimeError(f"upstream refused {KEY}")
    except RuntimeError:
        log.exception("failed with token %s", JWT)

    output = stream.getvalue()
    assert KEY not in output and JWT not in output
    first, second = lines(stream)
    assert first["detail"] == "[REDACTED_KEY]"
    assert "RuntimeError" in second["exception"]


def test_a_bad_format_string_does_not_lose_the_record(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    log.info("%d items", "not a number")
    assert "items" in lines(stream)[0]["message"]


def test_configure_is_idempotent() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        logs.configure(stream=io.StringIO())
        logs.configure(stream=io.StringIO())
        ours = [h for h in root.handlers if h.get_name() == "clarateach-json"]
        assert len(ours) == 1
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
