"""`chat.completion.chunk` (or legacy `text_completion`) stream events → canonical deltas and final chunk.

The provider decodes the SSE body (`providers/sse.py`), stops at `[DONE]`
and feeds each event's JSON object to StreamState.
"""

from __future__ import annotations

from model_gateway.providers.estimate import output_text
from model_gateway.providers.openai.response import finish_reason, usage_from
from model_gateway.providers.openai.wire import read_arguments, read_reasoning, read_text
from model_gateway.providers.readers import JSON, read_dict, read_int
from model_gateway.tokens import estimate_usage
from modelgateway.v1 import gateway_pb2 as pb

DONE = "[DONE]"


MAX_TOOL_CALLS = 256  # parallel calls in one answer; a larger index is a broken upstream, not a plan


class StreamState:
    """Turns parsed stream chunks (chat.completion.chunk or legacy text_completion) into canonical deltas.

    It also collects what the final chunk needs: the finish reason, the
    usage chunk (`choices: []` with `usage`, or usage on the last chunk) and
    the streamed output, to estimate usage when the server sent none.
    """

    def __init__(self) -> None:
        self.finish_reason: pb.FinishReason.ValueType | None = None
        self.usage: pb.Usage | None = None
        self.id = ""
        self._message = pb.Message(role=pb.ROLE_ASSISTANT)
        self._texts: list[str] = []
        self._reasoning: list[str] = []

    def consume(self, chunk: JSON) -> pb.Delta | None:
        """The delta of one chunk, or None when it carries nothing to forward."""
        if not self.id and isinstance(chunk.get("id"), str):
            self.id = chunk["id"]
        usage = usage_from(chunk.get("usage"))
        if usage is not None:
            # Servers that report usage on every chunk report running totals: keep the last.
            self.usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return None
        delta = pb.Delta()
        for choice in choices:
            # Only the first choice is canonical (the gateway never asks for n > 1).
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = finish_reason(reason)
            if "text" in choice:  # legacy completions put the text on the choice itself
                delta.text += read_text(choice.get("text"))
            wire = choice.get("delta")
            if isinstance(wire, dict):
                self._delta(wire, delta)
        if not (delta.text or delta.reasoning or delta.tool_calls):
            return None  # role-only, empty and finish-only chunks
        self._texts.append(delta.text)
        self._reasoning.append(delta.reasoning)
        return delta

    def _delta(self, wire: JSON, delta: pb.Delta) -> None:
        delta.text += read_text(wire.get("content")) or read_text(wire.get("refusal"))
        delta.reasoning += read_reasoning(wire)
        calls = wire.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else []):
            if not isinstance(call, dict):
                continue
            function = read_dict(call.get("function"))
            index = read_int(call.get("index", position))
            if not 0 <= index < MAX_TOOL_CALLS:
                index = position  # a broken index (negative, huge): its place in the list, as when missing
            fragment = pb.ToolCallDelta(
                index=index,
                id=str(call.get("id") or ""),
                name=str(function.get("name") or ""),
                arguments=read_arguments(function.get("arguments")),
            )
            if fragment.id or fragment.name or fragment.arguments:
                delta.tool_calls.append(fragment)
                self._collect(fragment)

    def _collect(self, fragment: pb.ToolCallDelta) -> None:
        while len(self._message.tool_calls) <= fragment.index:
            self._message.tool_calls.add()
        call = self._message.tool_calls[fragment.index]
        call.id = call.id or fragment.id
        call.name = call.name or fragment.name
        call.arguments += fragment.arguments

    def message(self) -> pb.Message:
        """The whole streamed answer, as the unstreamed call would have returned it."""
        message = pb.Message()
        message.CopyFrom(self._message)
        text = "".join(self._texts)
        if text:
            message.content.add(text=text)
        message.reasoning = "".join(self._reasoning)
        return message

    def final(self, request: pb.GenerateRequest) -> pb.FinalChunk:
        # No finish_reason but a [DONE]: the server said it finished, without saying why.
        reason = pb.FINISH_REASON_STOP if self.finish_reason is None else self.finish_reason
        usage = self.usage or estimate_usage(request, output_text(self.message()))
        return pb.FinalChunk(finish_reason=reason, usage=usage)
