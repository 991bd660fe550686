"""Canonical stream chunks → the Messages API's SSE events, as Anthropic sends them.

Every event is `event: <type>` + `data: {"type": <type>, ...}`:

    message_start            the message shell (id, model, empty content, usage so far)
    content_block_start      per block: text, thinking, redacted_thinking or tool_use
    content_block_delta      text_delta, thinking_delta, signature_delta, input_json_delta
    content_block_stop
    message_delta            stop_reason, stop_sequence and the whole usage (cumulative)
    message_stop
    ping                     while the first chunk is slow to come (keepalive.py)
    error                    a failure after the stream began; nothing follows it

Blocks open in the order the deltas arrive and each closes before the next
opens, as Anthropic's own streams do; a tool call's fragments (canonical
index) go to its block (Anthropic index, counting every block). The usage
known only at the end (input tokens and cache counts included) comes in
`message_delta`, whose counts are cumulative: the SDKs' accumulators end
with the same usage as the unstreamed message.
"""

from __future__ import annotations

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.fields import JSON
from model_gateway_bridge.framing import sse_event
from model_gateway_bridge.streaming import Framer
from model_gateway_bridge.surfaces.anthropic.errors import error_body, model_failed
from model_gateway_bridge.surfaces.anthropic.response import message_id, stop_reason, tool_use_id, usage
from modelgateway.v1 import gateway_pb2 as pb

_ZERO_USAGE: JSON = {
    "input_tokens": 0,
    "output_tokens": 0,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}


def event(body: JSON) -> bytes:
    return sse_event(body, event=body["type"])


PING = event({"type": "ping"})


class MessageStream(Framer):
    unfinished = "the gateway ended the stream before the model finished"

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = False
        self._blocks = 0  # blocks opened so far: the next block's index
        self._open: tuple[str, int] | None = None  # (kind, index) of the block being written
        self._tools: dict[int, int] = {}  # canonical tool-call index → block index
        self._calls = False  # a tool_use block was sent
        self._ended = False  # message_stop or an error event was sent

    # --- the stream's ends ---------------------------------------------------------------------

    def start(self, gateway_id: str) -> bytes:
        """message_start: sent with the first chunk, or before it when it is slow to come."""
        if self.started:
            return b""
        self.started = True
        shell: JSON = {
            "id": message_id(gateway_id),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": dict(_ZERO_USAGE),  # nothing is counted before the final chunk
        }
        return event({"type": "message_start", "message": shell})

    def frame(self, chunk: pb.StreamChunk) -> bytes:
        if self._ended:
            return b""
        out = self.start(chunk.id)
        if chunk.HasField("final"):
            out += self._final(chunk.final)
        elif chunk.HasField("delta"):
            out += self._delta(chunk.delta)
        return out

    def error(self, err: BridgeError) -> bytes:
        if self._ended:
            return b""
        self._ended = True
        return event(error_body(err))

    def _final(self, final: pb.FinalChunk) -> bytes:
        if final.finish_reason == pb.FINISH_REASON_ERROR:
            return self.error(model_failed(" after the stream started"))
        out = self._close()
        delta = {"stop_reason": stop_reason(final.finish_reason, self._calls), "stop_sequence": None}
        out += event({"type": "message_delta", "delta": delta, "usage": usage(final.usage)})
        self._ended = True
        return out + event({"type": "message_stop"})

    # --- blocks --------------------------------------------------------------------------------

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        index = self._open[1]
        self._open = None
        return event({"type": "content_block_stop", "index": index})

    def _begin(self, kind: str, block: JSON) -> bytes:
        out = self._close()
        index = self._blocks
        self._blocks += 1
        self._open = (kind, index)
        return out + event({"type": "content_block_start", "index": index, "content_block": block})

    def _into(self, kind: str, block: JSON) -> tuple[bytes, int]:
        """The open block of `kind`, opened now if another kind (or none) is open."""
        if self._open is not None and self._open[0] == kind:
            return b"", self._open[1]
        out = self._begin(kind, block)
        assert self._open is not None
        return out, self._open[1]

    @staticmethod
    def _content_delta(index: int, delta: JSON) -> bytes:
        return event({"type": "content_block_delta", "index": index, "delta": delta})

    def _delta(self, delta: pb.Delta) -> bytes:
        out = b""
        if delta.reasoning:
            head, index = self._into("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += head + self._content_delta(index, {"type": "thinking_delta", "thinking": delta.reasoning})
        if delta.reasoning_signature:
            head, index = self._into("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            signature = {"type": "signature_delta", "signature": delta.reasoning_signature}
            out += head + self._content_delta(index, signature)
            out += self._close()  # the signature closes its block
        if delta.redacted_reasoning:
            out += self._begin("redacted", {"type": "redacted_thinking", "data": delta.redacted_reasoning})
            out += self._close()
        if delta.text:
            head, index = self._into("text", {"type": "text", "text": ""})
            out += head + self._content_delta(index, {"type": "text_delta", "text": delta.text})
        for call in delta.tool_calls:
            out += self._tool(call)
        return out

    def _tool(self, call: pb.ToolCallDelta) -> bytes:
        out = b""
        index = self._tools.get(call.index)
        if index is None:
            block = {"type": "tool_use", "id": tool_use_id(call.id), "name": call.name, "input": {}}
            out += self._begin("tool", block)
            assert self._open is not None
            index = self._tools[call.index] = self._open[1]
            self._calls = True
        if call.arguments:
            out += self._content_delta(index, {"type": "input_json_delta", "partial_json": call.arguments})
        return out
