"""A small fake of the Anthropic API for gateway tests and the benchmark.

Speaks the Messages API (JSON and SSE with ``message_start``, ``content_block_delta``,
``message_delta`` usage), ``count_tokens`` and the model list. It records every request it
receives (headers included) and refuses any request without the expected ``x-api-key``, so a
test can see exactly what crossed the gateway.

Named behaviours (``FakeAnthropic.mode``): ``"ok"``, ``"html_500"`` (a load balancer's HTML
error page), ``"overloaded"`` (Anthropic's 529 JSON), ``"hang"`` (never answers),
``"break_stream"`` (drops the connection after ``message_start``), ``"bash_tool"`` (the
first turn asks for a ``Bash`` tool call running ``tool_command``; once the request carries
its ``tool_result``, the answer is ``TOOL_DONE`` followed by that result's text).
The streamed events are Anthropic's, in its order: ``message_start`` (with ``usage``),
``content_block_start``, ``ping``, deltas, ``content_block_stop``, ``message_delta`` (with
the final ``usage``), ``message_stop``.
For streaming, ``gate`` (an ``asyncio.Event``) holds the stream after ``message_start`` until
the test releases it; ``stream_cancelled`` is set when a stream's connection is dropped by
the gateway.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

FAKE_KEY = "sk-ant-api03-FAKEKEY-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
MODEL = "claude-sonnet-4-20250514"
TOOL_DONE = "The tool said:"


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class FakeAnthropic:
    key: str = FAKE_KEY
    mode: str = "ok"
    #: Usage reported by every Messages response (streamed split across start and delta).
    usage: dict[str, int] = field(
        default_factory=lambda: {
            "input_tokens": 12,
            "output_tokens": 30,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 2000,
        }
    )
    model: str = MODEL
    text_chunks: int = 3
    gate: asyncio.Event | None = None
    tool_command: str = "echo tool-ran > tool-proof.txt && pwd"
    requests: list[Recorded] = field(default_factory=list)
    stream_cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)  # Anthropic takes 32 MB
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model}", self._model)
        return app

    # ------------------------------------------------------------------ helpers
    async def _admit(self, request: web.Request) -> web.Response | None:
        body = await request.read()
        self.requests.append(
            Recorded(request.method, request.path, request.query_string,
                     CIMultiDict(request.headers), body)
        )  # fmt: skip
        if request.headers.get("x-api-key") != self.key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if self.mode == "html_500":
            return web.Response(status=500, text="<html>upstream exploded</html>",
                                content_type="text/html")  # fmt: skip
        if self.mode == "overloaded":
            return _error(529, "overloaded_error", "Overloaded")
        if self.mode == "hang":
            await asyncio.Event().wait()
        return None

    # ------------------------------------------------------------------- routes
    async def _messages(self, request: web.Request) -> web.StreamResponse:
        refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        params = json.loads(self.requests[-1].body or b"{}")
        if params.get("stream"):
            return await self._stream(request)
        return web.json_response({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": self.model,
            "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
            "usage": dict(self.usage),
        })  # fmt: skip

    def text(self) -> str:
        """The text every plain answer consists of."""
        return "".join(f'chunk {i} mentions "message_delta" ' for i in range(self.text_chunks))

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"request-id": "req_fake"})
        response.content_type = "text/event-stream"
        await response.prepare(request)
        try:
            await response.write(sse("message_start", self._start_event()))
            if self.mode == "break_stream":
                assert request.transport is not None
                request.transport.abort()
                return response
            if self.gate is not None:
                await self.gate.wait()
            params = json.loads(self.requests[-1].body or b"{}")
            for event, data in self._rest_events(params):
                await response.write(sse(event, data))
            await response.write_eof()
        except (asyncio.CancelledError, ConnectionResetError):
            self.stream_cancelled.set()
            raise
        return response

    def _start_event(self) -> dict[str, Any]:
        start_usage = {**self.usage, "output_tokens": 1}
        return {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "usage": start_usage,
        }}  # fmt: skip

    def _rest_events(
        self, params: dict[str, Any] | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        if self.mode == "bash_tool":
            result = _last_tool_result(params or {})
            if result is None:
                return self._tool_use_events()
            return self._text_events([f"{TOOL_DONE} {result}"], "end_turn")
        chunks = [f'chunk {i} mentions "message_delta" ' for i in range(self.text_chunks)]
        return self._text_events(chunks, "end_turn")

    def _text_events(self, chunks: list[str], stop: str) -> list[tuple[str, dict[str, Any]]]:
        events: list[tuple[str, dict[str, Any]]] = [
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("ping", {"type": "ping"}),
        ]  # fmt: skip
        for text in chunks:
            delta = {"type": "text_delta", "text": text}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            )
        return [*events, *self._end_events(stop)]

    def _tool_use_events(self) -> list[tuple[str, dict[str, Any]]]:
        arguments = json.dumps({"command": self.tool_command, "description": "Prove the seat"})
        half = len(arguments) // 2
        events: list[tuple[str, dict[str, Any]]] = [
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "tool_use", "id": "toolu_fake1",
                                                       "name": "Bash", "input": {}}}),
            ("ping", {"type": "ping"}),
        ]  # fmt: skip
        for part in (arguments[:half], arguments[half:]):
            delta = {"type": "input_json_delta", "partial_json": part}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            )
        return [*events, *self._end_events("tool_use")]

    def _end_events(self, stop: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": stop, "stop_sequence": None},
                               "usage": {"output_tokens": self.usage["output_tokens"]}}),
            ("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip

    async def _count_tokens(self, request: web.Request) -> web.Response:
        refusal = await self._admit(request)
        return refusal or web.json_response({"input_tokens": 42})

    async def _models(self, request: web.Request) -> web.Response:
        refusal = await self._admit(request)
        return refusal or web.json_response({
            "data": [{"type": "model", "id": self.model, "display_name": "Claude Sonnet 4",
                      "created_at": "2025-05-22T00:00:00Z"}],
            "has_more": False, "first_id": self.model, "last_id": self.model,
        })  # fmt: skip

    async def _model(self, request: web.Request) -> web.Response:
        refusal = await self._admit(request)
        return refusal or web.json_response(
            {"type": "model", "id": request.match_info["model"], "display_name": "Claude"}
        )


def _last_tool_result(params: dict[str, Any]) -> str | None:
    """The text of the ``tool_result`` in the request's last user message, if any."""
    messages = params.get("messages") or []
    if not messages or not isinstance(messages[-1].get("content"), list):
        return None
    for block in messages[-1]["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            content = block.get("content")
            if isinstance(content, list):
                return " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
            return str(content)
    return None


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response(
        {"type": "error", "error": {"type": kind, "message": message}}, status=status
    )
