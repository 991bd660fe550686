"""The NDJSON objects of one /api/chat or /api/generate stream → canonical chunks."""

from __future__ import annotations

from typing import Any

from model_gateway.providers.ollama.response import (
    finish_reason,
    output_text,
    reply_fields,
    timings_from,
    tool_call_from,
    usage_from,
)
from model_gateway.providers.ollama.wire import JSON
from modelgateway.v1 import gateway_pb2 as pb


class StreamTranslator:
    """The NDJSON objects of one /api/chat or /api/generate stream, as canonical chunks.

    Ollama sends every tool call whole in one line, so each becomes a single
    ToolCallDelta carrying its full JSON arguments.
    """

    def __init__(self, request: pb.GenerateRequest, chat: bool) -> None:
        self.request = request
        self.chat = chat
        self.done = False
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._calls: list[pb.ToolCall] = []
        self._indices: set[int] = set()

    def _index(self, raw: Any) -> int:
        given = raw.get("function", {}).get("index")
        # Honour Ollama's index, unless it repeats one: parsers that never set
        # it send 0 for every call, and clients merge deltas by index.
        if isinstance(given, int) and not isinstance(given, bool) and given not in self._indices:
            index = given
        else:
            index = max(self._indices, default=-1) + 1
        self._indices.add(index)
        return index

    def feed(self, obj: JSON) -> list[pb.StreamChunk]:
        """The chunks one line yields: a delta if it carries output, the final if done."""
        if self.done:
            raise ValueError("a line after the done line")
        content, thinking, raw_calls = reply_fields(obj, self.chat)
        chunks: list[pb.StreamChunk] = []
        delta = pb.Delta(text=content, reasoning=thinking)
        for raw in raw_calls:
            call = tool_call_from(raw)
            self._calls.append(call)
            delta.tool_calls.append(
                pb.ToolCallDelta(index=self._index(raw), id=call.id, name=call.name, arguments=call.arguments)
            )
        # The done line may still carry text (a parser flushing), so it is checked like any other.
        if content or thinking or delta.tool_calls:
            self._content.append(content)
            self._thinking.append(thinking)
            chunks.append(pb.StreamChunk(delta=delta))
        if obj.get("done") is True:
            self.done = True
            generated = output_text("".join(self._content), "".join(self._thinking), self._calls)
            final = pb.FinalChunk(
                finish_reason=finish_reason(obj.get("done_reason"), bool(self._calls)),
                usage=usage_from(obj, self.request, generated),
                timings=timings_from(obj),
            )
            chunks.append(pb.StreamChunk(final=final))
        return chunks
