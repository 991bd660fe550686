"""`:streamGenerateContent?alt=sse` chunks → canonical deltas and the final chunk.

Each SSE event is a whole GenerateContentResponse holding the parts new
since the last one. There is no end marker: a chunk with a `finishReason`
(or a blocked prompt's `promptFeedback`) proves the answer whole, and a body
that ends without one was cut. `usageMetadata` comes on every chunk but is
complete only on the last, so the last one seen is kept. Gemini sends each
`functionCall` whole, so a call is one ToolCallDelta with the next index.
"""

from __future__ import annotations

from model_gateway.providers.estimate import output_text
from model_gateway.providers.gemini.response import (
    Part,
    call_id,
    finish_reason,
    first_candidate,
    message_from,
    prompt_blocked,
    read_parts,
    usage_from,
)
from model_gateway.providers.gemini.wire import JSON, read_str
from model_gateway.tokens import estimate_usage
from modelgateway.v1 import gateway_pb2 as pb


class StreamState:
    """Consumes parsed chunks; collects what the final chunk needs."""

    def __init__(self) -> None:
        self.response_id = ""
        self.usage: pb.Usage | None = None
        self.finish: str | None = None  # the wire finishReason, once seen
        self.finish_message = ""
        self.blocked = False
        self._parts: list[Part] = []
        self._calls = 0

    @property
    def finished(self) -> bool:
        return self.finish is not None or self.blocked

    def consume(self, chunk: JSON) -> list[pb.Delta]:
        """The deltas of one chunk, in part order; raises FailedFinish on a failed tool call."""
        self.response_id = self.response_id or read_str(chunk.get("responseId"))
        usage = usage_from(chunk.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        candidate = first_candidate(chunk)
        if candidate is None:
            self.blocked = self.blocked or prompt_blocked(chunk)
            return []
        deltas = [delta for part in read_parts(candidate) if (delta := self._delta(part)) is not None]
        reason = read_str(candidate.get("finishReason"))
        if reason:
            self.finish = reason
            self.finish_message = read_str(candidate.get("finishMessage"))
            finish_reason(reason, bool(self._calls), self.finish_message)  # raises on a failed call
        return deltas

    def _delta(self, part: Part) -> pb.Delta | None:
        self._parts.append(part)
        if part.kind == "text" and (part.text or part.signature):
            return pb.Delta(text=part.text, reasoning_signature=part.signature)
        if part.kind == "thought" and (part.text or part.signature):
            return pb.Delta(reasoning=part.text, reasoning_signature=part.signature)
        if part.kind == "call":
            index = self._calls
            self._calls += 1
            fragment = pb.ToolCallDelta(
                index=index,
                id=part.call_id or call_id(self.response_id, index),
                name=part.name,
                arguments=part.arguments,
                signature=part.signature,
            )
            return pb.Delta(tool_calls=[fragment])
        return None  # images have no delta; empty parts carry nothing

    def message(self) -> pb.Message:
        """The whole streamed answer, as the unstreamed call would have returned it."""
        return message_from(self._parts, self.response_id)

    def final(self, request: pb.GenerateRequest) -> pb.FinalChunk:
        if self.finish is None:
            reason = pb.FINISH_REASON_CONTENT_FILTER if self.blocked else pb.FINISH_REASON_STOP
        else:
            reason = finish_reason(self.finish, bool(self._calls), self.finish_message)
        usage = self.usage or estimate_usage(request, output_text(self.message()))
        return pb.FinalChunk(finish_reason=reason, usage=usage)
