"""Canonical stream chunks → SSE `chat.completion.chunk` (or legacy `text_completion`) events.

The stream ends with `data: [DONE]`. A failure after the first event is a
`data: {"error": {...}}` event and then `[DONE]`: the SDK raises APIError
on it, where a silent end would look like a normal answer.
"""

from __future__ import annotations

import secrets

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.fields import JSON
from model_gateway_bridge.framing import SSE_DONE, sse_event
from model_gateway_bridge.streaming import Framer
from model_gateway_bridge.surfaces.openai.errors import error_body, model_failed
from model_gateway_bridge.surfaces.openai.response import completion_id, finish_reason, text_finish, usage
from modelgateway.v1 import gateway_pb2 as pb


class ChatStream(Framer):
    """Frames the gateway's stream chunks as chat.completion.chunk SSE events.

    Every event carries the stream's id and created; the first says the role,
    a tool call's first fragment its id, type and name, and the final chunk
    becomes an empty delta with the finish reason (and, when asked for, one
    more event with `choices: []` and the usage), then `[DONE]`.
    """

    object_name = "chat.completion.chunk"
    unfinished = "the gateway ended the stream before the model finished"

    def __init__(self, model: str, include_usage: bool, legacy_functions: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage
        self.legacy_functions = legacy_functions
        self._head: JSON | None = None
        self._calls: set[int] = set()  # tool-call indexes whose first fragment was sent
        self._finished = False  # the final chunk was framed
        self._failed = False  # an error event (and [DONE]) was sent

    def frame(self, chunk: pb.StreamChunk) -> bytes:
        if self._finished or self._failed:
            return b""
        out = b""
        if self._head is None:
            self._head = self._start(chunk)
            out += self._opening(chunk)
        if chunk.HasField("final"):
            out += self._final(chunk.final)
        elif chunk.HasField("delta"):
            out += self._delta(chunk.delta)
        return out

    def error(self, err: BridgeError) -> bytes:
        self._failed = True
        return sse_event(error_body(err)) + SSE_DONE

    def close(self) -> bytes:
        return b"" if self._failed else SSE_DONE

    def _start(self, chunk: pb.StreamChunk) -> JSON:
        return {"id": chunk.id, "object": self.object_name, "created": chunk.created, "model": self.model}

    def _event(self, choices: list[JSON], usage_value: JSON | None = None) -> bytes:
        body = {**(self._head or {}), "choices": choices}
        if self.include_usage:
            body["usage"] = usage_value  # null on every chunk but the last, as OpenAI sends it
        return sse_event(body)

    def _choice(self, delta: JSON, finish: str | None = None) -> list[JSON]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    def _opening(self, chunk: pb.StreamChunk) -> bytes:
        # Like OpenAI: content "" in the role chunk, null when the answer starts with a tool call.
        only_calls = chunk.HasField("delta") and bool(chunk.delta.tool_calls) and not chunk.delta.text
        return self._event(
            self._choice({"role": "assistant", "content": None if only_calls else "", "refusal": None})
        )

    def _delta(self, delta: pb.Delta) -> bytes:
        out: JSON = {}
        if delta.text:
            out["content"] = delta.text
        if delta.reasoning:
            out["reasoning_content"] = delta.reasoning
        if delta.tool_calls and self.legacy_functions:
            fragment = self._fragment(delta.tool_calls[0])["function"]
            out["function_call"] = fragment
        elif delta.tool_calls:
            out["tool_calls"] = [self._fragment(call) for call in delta.tool_calls]
        return self._event(self._choice(out)) if out else b""

    def _fragment(self, call: pb.ToolCallDelta) -> JSON:
        if call.index in self._calls:
            return {"index": call.index, "function": {"arguments": call.arguments}}
        self._calls.add(call.index)
        # Clients gather fragments by index and need the id from the first one.
        call_id = call.id or f"call_{secrets.token_hex(12)}"
        function = {"name": call.name, "arguments": call.arguments}
        return {"index": call.index, "id": call_id, "type": "function", "function": function}

    def _final(self, final: pb.FinalChunk) -> bytes:
        if final.finish_reason == pb.FINISH_REASON_ERROR:
            return self.error(model_failed(" after the stream started"))
        self._finished = True
        reason = finish_reason(final.finish_reason, self.legacy_functions)
        out = self._event(self._choice({}, reason))
        if self.include_usage:
            out += self._event([], usage(final.usage))
        return out


class TextStream(ChatStream):
    """The legacy `text_completion` stream: text on the choice, no role chunk, no usage nulls."""

    object_name = "text_completion"

    def _start(self, chunk: pb.StreamChunk) -> JSON:
        return {**super()._start(chunk), "id": completion_id(chunk.id)}

    def _event(self, choices: list[JSON], usage_value: JSON | None = None) -> bytes:
        body = {**(self._head or {}), "choices": choices}
        if usage_value is not None:
            body["usage"] = usage_value
        return sse_event(body)

    def _text_choice(self, text: str, finish: str | None = None) -> list[JSON]:
        return [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]

    def _opening(self, chunk: pb.StreamChunk) -> bytes:
        return b""

    def _delta(self, delta: pb.Delta) -> bytes:
        return self._event(self._text_choice(delta.text)) if delta.text else b""

    def _final(self, final: pb.FinalChunk) -> bytes:
        if final.finish_reason == pb.FINISH_REASON_ERROR:
            return self.error(model_failed(" after the stream started"))
        self._finished = True
        out = self._event(self._text_choice("", text_finish(final.finish_reason)))
        if self.include_usage:
            out += self._event([], usage(final.usage))
        return out
