"""Canonical stream chunks → the NDJSON lines of an Ollama stream.

One object per line, the last with `"done": true` and the counters; a
failure after the first line is an `{"error": "..."}` line, which the
ollama clients raise as ResponseError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.fields import JSON
from model_gateway_bridge.framing import ndjson_line
from model_gateway_bridge.streaming import Framer
from model_gateway_bridge.surfaces.ollama.response import counters, reply_object, tool_call_json
from model_gateway_bridge.tool_arguments import as_object
from model_gateway_common.vocab.ollama import done_reason
from modelgateway.v1 import gateway_pb2 as pb


@dataclass(slots=True)
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    sent: bool = False


class StreamFramer(Framer):
    """Canonical stream chunks → the objects of an Ollama NDJSON stream.

    Text and thinking go out as they come. Tool-call fragments are gathered by
    index and a call goes out whole as soon as its arguments form a JSON
    object (a JSON object cannot grow once closed), at the final chunk at the
    latest.
    """

    def __init__(
        self, model: str, chat: bool, started_ns: int, clock: Callable[[], int] = time.perf_counter_ns
    ) -> None:
        self.model = model
        self.chat = chat
        self.started_ns = started_ns
        self.clock = clock
        self.first_ns = 0  # time to the first chunk
        self.done = False
        self._calls: dict[int, _PendingCall] = {}

    def frame(self, chunk: pb.StreamChunk) -> bytes:
        return b"".join(ndjson_line(obj) for obj in self.feed(chunk))

    def error(self, err: BridgeError) -> bytes:
        return ndjson_line({"error": err.message})

    def feed(self, chunk: pb.StreamChunk) -> list[JSON]:
        """The objects one chunk becomes (none while a tool call is still incomplete)."""
        if not self.first_ns:
            self.first_ns = max(self.clock() - self.started_ns, 1)
        if chunk.HasField("final"):
            return [self._final(chunk.final)]
        delta = chunk.delta
        # /api/generate takes no tools, so only a chat can be answered with calls.
        calls = self._gather(delta.tool_calls) if self.chat else []
        if not (delta.text or delta.reasoning or calls):
            return []
        return [reply_object(self.model, self.chat, delta.text, delta.reasoning, calls, done=False)]

    def _gather(self, fragments: Iterable[pb.ToolCallDelta]) -> list[JSON]:
        touched: list[int] = []
        for fragment in fragments:
            call = self._calls.setdefault(fragment.index, _PendingCall())
            if call.sent:
                continue  # whitespace after a closed object; nothing else can follow one
            call.id = call.id or fragment.id
            call.name = call.name or fragment.name
            call.arguments.append(fragment.arguments)
            if fragment.index not in touched:
                touched.append(fragment.index)
        ready: list[JSON] = []
        for index in sorted(touched):
            call = self._calls[index]
            if call.name and as_object("".join(call.arguments)) is not None:
                ready.append(self._send(index))
        return ready

    def _send(self, index: int) -> JSON:
        call = self._calls[index]
        call.sent = True
        return tool_call_json(call.id, call.name, "".join(call.arguments), index)

    def _final(self, final: pb.FinalChunk) -> JSON:
        self.done = True
        rest = [self._send(i) for i in sorted(self._calls) if not self._calls[i].sent]
        obj = reply_object(self.model, self.chat, "", "", rest, done=True)
        obj["done_reason"] = done_reason(final.finish_reason)
        wall = max(self.clock() - self.started_ns, 1)
        obj.update(counters(final.usage, final.timings, wall, self.first_ns))
        return obj
