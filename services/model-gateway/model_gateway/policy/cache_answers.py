"""A streamed answer assembled into one GenerateResponse, so the cache can keep it.

The inverse of the pipeline's replay: text deltas join into the message's
text, reasoning into its reasoning (with the signature that closed it),
tool-call fragments into whole calls by index, and the final chunk gives
the finish reason, usage, route and timings.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelgateway.v1 import gateway_pb2 as pb


def assemble(chunks: Sequence[pb.StreamChunk]) -> pb.GenerateResponse | None:
    """The whole answer, or None when the stream has no final chunk."""
    if not chunks or not chunks[-1].HasField("final"):
        return None
    text: list[str] = []
    reasoning: list[str] = []
    parts: list[pb.ContentPart] = []
    calls: dict[int, pb.ToolCall] = {}

    def flush_text() -> None:
        if text:
            parts.append(pb.ContentPart(text="".join(text)))
            text.clear()

    thought: list[str] = []
    for chunk in chunks[:-1]:
        delta = chunk.delta
        if delta.reasoning:
            flush_text()
            thought.append(delta.reasoning)
            reasoning.append(delta.reasoning)
        if delta.reasoning_signature or delta.redacted_reasoning:
            flush_text()
            if delta.redacted_reasoning:
                parts.append(
                    pb.ContentPart(reasoning=pb.ReasoningPart(redacted=True, data=delta.redacted_reasoning))
                )
            else:
                part = pb.ReasoningPart(text="".join(thought), signature=delta.reasoning_signature)
                parts.append(pb.ContentPart(reasoning=part))
                thought.clear()
        if delta.text:
            text.append(delta.text)
        for fragment in delta.tool_calls:
            call = calls.setdefault(fragment.index, pb.ToolCall())
            call.id = call.id or fragment.id
            call.name = call.name or fragment.name
            call.signature = call.signature or fragment.signature
            call.arguments += fragment.arguments
    flush_text()
    final = chunks[-1].final
    message = pb.Message(role=pb.ROLE_ASSISTANT, content=parts, reasoning="".join(reasoning))
    message.tool_calls.extend(calls[index] for index in sorted(calls))
    first = chunks[0]
    return pb.GenerateResponse(
        id=first.id,
        model=first.model,
        created=first.created,
        message=message,
        finish_reason=final.finish_reason,
        usage=final.usage,
        route=final.route,
        timings=final.timings,
    )
