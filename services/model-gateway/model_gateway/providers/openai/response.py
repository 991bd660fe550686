"""A `chat.completion` or legacy `text_completion` reply → canonical GenerateResponse."""

from __future__ import annotations

from typing import Any

from model_gateway.providers.openai.wire import read_arguments, read_reasoning, read_text
from model_gateway.providers.readers import JSON, WireError, read_dict, read_int
from model_gateway_common.vocab.openai import FINISH_BY_NAME
from modelgateway.v1 import gateway_pb2 as pb


def finish_reason(value: Any) -> pb.FinishReason.ValueType:
    if not isinstance(value, str) or not value:
        return pb.FINISH_REASON_UNSPECIFIED
    # An unknown non-empty reason still means the server finished on purpose.
    return FINISH_BY_NAME.get(value, pb.FINISH_REASON_STOP)


def usage_from(value: Any) -> pb.Usage | None:
    if not isinstance(value, dict):
        return None
    prompt = read_int(value.get("prompt_tokens"))
    completion = read_int(value.get("completion_tokens"))
    usage = pb.Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=read_int(value.get("total_tokens")) or prompt + completion,
    )
    prompt_details = value.get("prompt_tokens_details")
    if isinstance(prompt_details, dict):
        usage.cached_input_tokens = read_int(prompt_details.get("cached_tokens"))
    completion_details = value.get("completion_tokens_details")
    if isinstance(completion_details, dict):
        usage.reasoning_tokens = read_int(completion_details.get("reasoning_tokens"))
    return usage


def response_from_chat(obj: Any) -> pb.GenerateResponse:
    """A chat.completion object; `usage` is left unset when the server sent none."""
    choice = _first_choice(obj)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise WireError("choices[0] has no message")
    # A refusal is the only text the user gets, so it becomes the content.
    text = read_text(message.get("content")) or read_text(message.get("refusal"))
    out = pb.Message(role=pb.ROLE_ASSISTANT, reasoning=read_reasoning(message))
    if text:
        out.content.add(text=text)
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        function = read_dict(call.get("function"))
        out.tool_calls.add(
            id=str(call.get("id") or ""),
            name=str(function.get("name") or ""),
            arguments=read_arguments(function.get("arguments")),
        )
    response = pb.GenerateResponse(message=out, finish_reason=finish_reason(choice.get("finish_reason")))
    _stamp(response, obj)
    return response


def response_from_completion(obj: Any) -> pb.GenerateResponse:
    """A text_completion object (legacy /completions)."""
    choice = _first_choice(obj)
    out = pb.Message(role=pb.ROLE_ASSISTANT)
    text = read_text(choice.get("text"))
    if text:
        out.content.add(text=text)
    response = pb.GenerateResponse(message=out, finish_reason=finish_reason(choice.get("finish_reason")))
    _stamp(response, obj)
    return response


def _first_choice(obj: Any) -> JSON:
    if not isinstance(obj, dict):
        raise WireError(f"expected a JSON object, got {type(obj).__name__}")
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise WireError("the reply has no choices")
    choice: JSON = choices[0]
    return choice


def _stamp(response: pb.GenerateResponse, obj: JSON) -> None:
    if isinstance(obj.get("id"), str):
        response.id = obj["id"]
    if isinstance(obj.get("created"), int):
        response.created = obj["created"]
    usage = usage_from(obj.get("usage"))
    if usage is not None:
        response.usage.CopyFrom(usage)
