"""Anthropic stream events → canonical deltas, then one final chunk.

The event sequence (https://docs.anthropic.com/en/docs/build-with-claude/streaming):
`message_start` (the message shell and usage so far), per content block
`content_block_start` / `content_block_delta`* / `content_block_stop`,
`message_delta` (stop_reason and cumulative usage), `message_stop`; `ping`
anywhere, `error` in place of the rest when the upstream fails mid-answer.
New event and delta types may appear and are skipped, as the docs ask.

Tool calls get canonical indexes 0, 1, … counting tool_use blocks only, not
Anthropic's block index (which also counts text and thinking blocks), so a
client assembling fragments by index sees the same numbering streamed or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model_gateway.providers.anthropic.response import arguments_json, finish_reason, usage_from
from model_gateway.providers.readers import JSON, read_int
from modelgateway.v1 import gateway_pb2 as pb


class StreamError(Exception):
    """An `error` event: the upstream gave up after the stream began."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@dataclass(slots=True)
class _Block:
    kind: str  # text | thinking | redacted | tool | answer | other
    tool_index: int = -1
    start_input: Any = None  # tool_use `input` as content_block_start gave it
    streamed: bool = False  # an input_json_delta arrived


class StreamState:
    """Feed it each event's JSON object in order; it returns the canonical delta, if any."""

    def __init__(self, answer_tool: str | None = None) -> None:
        self.answer_tool = answer_tool
        self.id = ""
        self.stop_reason: str | None = None
        self.stopped = False  # message_stop seen
        self._usage: JSON = {}
        self._blocks: dict[int, _Block] = {}
        self._tools = 0
        self._answered = False
        # The answer so far, to estimate usage when a compatible server reports none.
        self._texts: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[pb.ToolCall] = []

    @property
    def finished(self) -> bool:
        """The upstream said why it stopped: the answer is whole even if message_stop never came."""
        return self.stop_reason is not None

    def consume(self, event: JSON) -> pb.Delta | None:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self.id = str(message.get("id") or "")
                self._merge_usage(message.get("usage"))
        elif kind == "content_block_start":
            return self._start(read_int(event.get("index")), event.get("content_block"))
        elif kind == "content_block_delta":
            block = self._blocks.get(read_int(event.get("index")))
            wire = event.get("delta")
            if block is not None and isinstance(wire, dict):
                return self._delta(block, wire)
        elif kind == "content_block_stop":
            block = self._blocks.get(read_int(event.get("index")))
            if block is not None and not block.streamed and block.kind in ("tool", "answer"):
                # No input_json_delta: the input given at the start is the whole input ("{}" if none).
                return self._arguments(block, arguments_json(block.start_input or {}))
        elif kind == "message_delta":
            wire = event.get("delta")
            if isinstance(wire, dict) and isinstance(wire.get("stop_reason"), str):
                self.stop_reason = wire["stop_reason"]
            self._merge_usage(event.get("usage"))
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            error = event.get("error")
            error = error if isinstance(error, dict) else {}
            raise StreamError(str(error.get("type") or "api_error"), str(error.get("message") or ""))
        return None  # ping, and event types newer than this translator

    def _merge_usage(self, usage: Any) -> None:
        # message_delta's usage is cumulative: each field it carries replaces the earlier value.
        if isinstance(usage, dict):
            self._usage.update({key: value for key, value in usage.items() if value is not None})

    def _start(self, index: int, wire: Any) -> pb.Delta | None:
        block = wire if isinstance(wire, dict) else {}
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text")
            return self._text(str(block.get("text") or ""))
        if kind == "thinking":
            self._blocks[index] = _Block("thinking")
            delta = pb.Delta(reasoning=str(block.get("thinking") or ""))
            delta.reasoning_signature = str(block.get("signature") or "")
            return self._emit(delta)
        if kind == "redacted_thinking":
            self._blocks[index] = _Block("redacted")
            return self._emit(pb.Delta(redacted_reasoning=str(block.get("data") or "")))
        if kind == "tool_use":
            name = str(block.get("name") or "")
            if self.answer_tool is not None and name == self.answer_tool:
                self._answered = True
                self._blocks[index] = _Block("answer", start_input=block.get("input"))
                return None
            self._blocks[index] = _Block("tool", self._tools, block.get("input"))
            self._tools += 1
            self._calls.append(pb.ToolCall(id=str(block.get("id") or ""), name=name))
            call = pb.ToolCallDelta(
                index=self._blocks[index].tool_index, id=str(block.get("id") or ""), name=name
            )
            return pb.Delta(tool_calls=[call])
        self._blocks[index] = _Block("other")  # server tools, citations' blocks and the like
        return None

    def _delta(self, block: _Block, wire: JSON) -> pb.Delta | None:
        kind = wire.get("type")
        if kind == "text_delta" and block.kind == "text":
            return self._text(str(wire.get("text") or ""))
        if kind == "thinking_delta" and block.kind == "thinking":
            return self._emit(pb.Delta(reasoning=str(wire.get("thinking") or "")))
        if kind == "signature_delta" and block.kind == "thinking":
            return self._emit(pb.Delta(reasoning_signature=str(wire.get("signature") or "")))
        if kind == "input_json_delta" and block.kind in ("tool", "answer"):
            block.streamed = True
            return self._arguments(block, str(wire.get("partial_json") or ""))
        return None  # citations_delta and delta types newer than this translator

    def _arguments(self, block: _Block, fragment: str) -> pb.Delta | None:
        if not fragment:
            return None
        if block.kind == "answer":
            return self._text(fragment)
        self._calls[block.tool_index].arguments += fragment
        return pb.Delta(tool_calls=[pb.ToolCallDelta(index=block.tool_index, arguments=fragment)])

    def _text(self, text: str) -> pb.Delta | None:
        return self._emit(pb.Delta(text=text))

    def _emit(self, delta: pb.Delta) -> pb.Delta | None:
        if not (delta.text or delta.reasoning or delta.reasoning_signature or delta.redacted_reasoning):
            return None  # empty deltas (the "" of a block start) say nothing
        self._texts.append(delta.text)
        self._reasoning.append(delta.reasoning)
        return delta

    def message(self) -> pb.Message:
        """The streamed answer as one message (text, reasoning and tool calls)."""
        message = pb.Message(role=pb.ROLE_ASSISTANT, reasoning="".join(self._reasoning))
        message.tool_calls.extend(self._calls)
        text = "".join(self._texts)
        if text:
            message.content.add(text=text)
        return message

    def final(self) -> pb.FinalChunk:
        """The final chunk; its usage is left unset when the upstream reported none."""
        final = pb.FinalChunk(
            finish_reason=finish_reason(self.stop_reason, self._answered and self._tools == 0)
        )
        usage = usage_from(self._usage) if self._usage else None
        if usage is not None:
            final.usage.CopyFrom(usage)
        return final
