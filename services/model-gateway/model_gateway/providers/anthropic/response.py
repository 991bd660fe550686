"""An Anthropic Message (the reply of `POST /v1/messages`) → canonical GenerateResponse.

Content blocks keep their order: `text` → text parts, `thinking` and
`redacted_thinking` → reasoning parts with their signature or data (and the
visible thinking also in `Message.reasoning`), `tool_use` → tool calls. In
JSON mode the answer tool's input becomes the text answer. Server-tool and
other block types the canonical schema has no place for are skipped.
"""

from __future__ import annotations

from typing import Any

import orjson

from model_gateway.providers.anthropic.request import PROVIDER_KIND
from model_gateway.providers.readers import JSON, WireError, read_int
from modelgateway.v1 import gateway_pb2 as pb

__all__ = ["JSON", "WireError", "arguments_json", "finish_reason", "response_from_message", "usage_from"]

_FINISH: dict[str, pb.FinishReason.ValueType] = {
    "end_turn": pb.FINISH_REASON_STOP,
    "stop_sequence": pb.FINISH_REASON_STOP,
    "max_tokens": pb.FINISH_REASON_LENGTH,
    "model_context_window_exceeded": pb.FINISH_REASON_LENGTH,
    "tool_use": pb.FINISH_REASON_TOOL_CALLS,
    "refusal": pb.FINISH_REASON_CONTENT_FILTER,
    # pause_turn: Anthropic paused a long server-tool turn (web search and the
    # like) and expects the partial turn sent back as-is to continue it. The
    # answer is unfinished but nothing failed, which is what `length` tells a
    # client ("incomplete; ask again to continue"); `stop` would claim a whole answer.
    "pause_turn": pb.FINISH_REASON_LENGTH,
}


def finish_reason(stop_reason: Any, answered: bool = False) -> pb.FinishReason.ValueType:
    """The canonical reason; `answered` means the only tool used was the JSON answer tool."""
    if not isinstance(stop_reason, str) or not stop_reason:
        return pb.FINISH_REASON_UNSPECIFIED
    if stop_reason == "tool_use" and answered:
        return pb.FINISH_REASON_STOP
    # A reason added after this was written still means the model stopped on purpose.
    return _FINISH.get(stop_reason, pb.FINISH_REASON_STOP)


def usage_from(wire: Any) -> pb.Usage | None:
    """Canonical usage: input_tokens is the whole prompt, cache reads and writes parts of it.

    Anthropic's `input_tokens` counts only the tokens after the last cache
    breakpoint; the canonical (OpenAI's) convention, which pricing assumes,
    counts them all and says how many were read from or written to the cache.
    """
    if not isinstance(wire, dict):
        return None
    usage: JSON = wire
    read = read_int(usage.get("cache_read_input_tokens"))
    write = read_int(usage.get("cache_creation_input_tokens"))
    prompt = read_int(usage.get("input_tokens")) + read + write
    output = read_int(usage.get("output_tokens"))
    details = usage.get("output_tokens_details")
    thinking = read_int(details.get("thinking_tokens")) if isinstance(details, dict) else 0
    return pb.Usage(
        input_tokens=prompt,
        output_tokens=output,
        cached_input_tokens=read,
        cache_write_input_tokens=write,
        reasoning_tokens=thinking,
        total_tokens=prompt + output,
    )


def arguments_json(value: Any) -> str:
    """A tool_use `input` object as the canonical JSON string."""
    return orjson.dumps(value if value is not None else {}).decode()


def response_from_message(obj: Any, answer_tool: str | None = None) -> pb.GenerateResponse:
    if not isinstance(obj, dict) or not isinstance(obj.get("content"), list):
        raise WireError("the reply is not a message with a content list")
    message = pb.Message(role=pb.ROLE_ASSISTANT)
    reasoning: list[str] = []
    answered = False
    for block in obj["content"]:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if isinstance(text, str) and text:
                message.content.add(text=text)
        elif kind == "thinking":
            text = str(block.get("thinking") or "")
            reasoning.append(text)
            message.content.add(
                reasoning=pb.ReasoningPart(
                    text=text, signature=str(block.get("signature") or ""), provider_kind=PROVIDER_KIND
                )
            )
        elif kind == "redacted_thinking":
            message.content.add(
                reasoning=pb.ReasoningPart(
                    redacted=True, data=str(block.get("data") or ""), provider_kind=PROVIDER_KIND
                )
            )
        elif kind == "tool_use":
            name = str(block.get("name") or "")
            if answer_tool is not None and name == answer_tool:
                answered = True
                message.content.add(text=arguments_json(block.get("input")))
            else:
                message.tool_calls.add(
                    id=str(block.get("id") or ""), name=name, arguments=arguments_json(block.get("input"))
                )
    message.reasoning = "".join(reasoning)
    response = pb.GenerateResponse(
        message=message,
        finish_reason=finish_reason(obj.get("stop_reason"), answered and not message.tool_calls),
    )
    usage = usage_from(obj.get("usage"))
    if usage is not None:  # left unset when a compatible server sends none: the provider estimates
        response.usage.CopyFrom(usage)
    if isinstance(obj.get("id"), str):
        response.id = obj["id"]
    return response
