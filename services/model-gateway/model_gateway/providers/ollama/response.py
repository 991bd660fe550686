"""A non-streamed /api/chat or /api/generate reply → canonical GenerateResponse.

The pieces (tool calls, finish reason, usage, timings) are shared with the
stream translator, so a streamed answer ends with what the unstreamed one says.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import orjson

from model_gateway.providers.ollama.wire import JSON, read_count, read_list, read_object, read_text
from model_gateway.tokens import estimate_usage
from model_gateway_common.vocab.ollama import FINISH_BY_NAME
from modelgateway.v1 import gateway_pb2 as pb


def response_from_chat(obj: JSON, request: pb.GenerateRequest) -> pb.GenerateResponse:
    """A non-streamed /api/chat reply; `request` is needed to estimate missing usage."""
    return response_from(obj, request, chat=True)


def response_from_generate(obj: JSON, request: pb.GenerateRequest) -> pb.GenerateResponse:
    """A non-streamed /api/generate reply (`response` holds the text)."""
    return response_from(obj, request, chat=False)


def response_from(obj: JSON, request: pb.GenerateRequest, chat: bool) -> pb.GenerateResponse:
    content, thinking, raw_calls = reply_fields(obj, chat)
    calls = [tool_call_from(raw) for raw in raw_calls]
    message = pb.Message(role=pb.ROLE_ASSISTANT, reasoning=thinking, tool_calls=calls)
    if content:
        message.content.append(pb.ContentPart(text=content))
    return pb.GenerateResponse(
        message=message,
        finish_reason=finish_reason(obj.get("done_reason"), bool(calls)),
        usage=usage_from(obj, request, output_text(content, thinking, calls)),
        timings=timings_from(obj),
    )


def reply_fields(obj: JSON, chat: bool) -> tuple[str, str, list[Any]]:
    """(content, thinking, raw tool calls) of a /api/chat or /api/generate reply object."""
    if chat:
        message = read_object(obj.get("message") or {}, "message")
        return (
            read_text(message.get("content"), "message.content"),
            read_text(message.get("thinking"), "message.thinking"),
            read_list(message.get("tool_calls"), "tool_calls"),
        )
    return (
        read_text(obj.get("response"), "response"),
        read_text(obj.get("thinking"), "thinking"),
        read_list(obj.get("tool_calls"), "tool_calls"),
    )


def new_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


def tool_call_from(obj: Any) -> pb.ToolCall:
    """One Ollama tool call; older servers send no id, so one is made up."""
    call = read_object(obj, "tool call")
    function = read_object(call.get("function"), "tool call function")
    arguments = function.get("arguments")
    # Ollama sends an object; a string is taken to be JSON already.
    text = arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()
    return pb.ToolCall(
        id=read_text(call.get("id"), "tool call id") or new_call_id(),
        name=read_text(function.get("name"), "tool call name"),
        arguments=text,
    )


def finish_reason(done_reason: Any, has_tool_calls: bool) -> pb.FinishReason.ValueType:
    # "load" and "unload" (an empty request) and anything newer read as a normal stop.
    if has_tool_calls:
        return pb.FINISH_REASON_TOOL_CALLS
    if not isinstance(done_reason, str):
        return pb.FINISH_REASON_STOP
    return FINISH_BY_NAME.get(done_reason, pb.FINISH_REASON_STOP)


def output_text(content: str, reasoning: str, calls: Iterable[pb.ToolCall]) -> str:
    """What the model generated, for estimating output tokens (the same streamed or not)."""
    return "\n".join([content, reasoning, *(f"{call.name} {call.arguments}" for call in calls)])


def usage_from(obj: JSON, request: pb.GenerateRequest, generated: str) -> pb.Usage:
    """Usage from the counters; a missing one (a cached prompt omits prompt_eval_count) is estimated."""
    input_tokens = read_count(obj, "prompt_eval_count")
    output_tokens = read_count(obj, "eval_count")
    estimated = input_tokens is None or output_tokens is None
    if input_tokens is None or output_tokens is None:
        estimate = estimate_usage(request, generated)
        input_tokens = estimate.input_tokens if input_tokens is None else input_tokens
        output_tokens = estimate.output_tokens if output_tokens is None else output_tokens
    return pb.Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        estimated=estimated,
    )


def timings_from(obj: JSON) -> pb.Timings:
    """Ollama's durations, already in nanoseconds."""
    return pb.Timings(
        total_ns=read_count(obj, "total_duration") or 0,
        load_ns=read_count(obj, "load_duration") or 0,
        prompt_eval_ns=read_count(obj, "prompt_eval_duration") or 0,
        eval_ns=read_count(obj, "eval_duration") or 0,
    )
