"""The fake Anthropic API lives in ``clarateach.loadtest.fake_upstream`` (``clarateach
loadtest`` starts it too); re-exported here for the gateway tests."""

from clarateach.loadtest.fake_upstream import (
    FAKE_KEY,
    MODEL,
    TOOL_DONE,
    FakeAnthropic,
    Recorded,
    sse,
)

__all__ = ["FAKE_KEY", "MODEL", "TOOL_DONE", "FakeAnthropic", "Recorded", "sse"]
