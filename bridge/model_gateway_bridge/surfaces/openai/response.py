"""A canonical GenerateResponse → OpenAI's chat.completion or legacy text_completion object.

Bodies stay wire-exact: the gateway's route and cost are not in them, they
ride in the x-gateway-* response headers.
"""

from __future__ import annotations

from model_gateway_bridge.fields import JSON
from model_gateway_bridge.surfaces.openai.errors import model_failed
from model_gateway_common.vocab.openai import FINISH_NAME
from modelgateway.v1 import gateway_pb2 as pb


def finish_reason(value: int, legacy_functions: bool = False) -> str:
    reason = FINISH_NAME.get(value, "stop")
    return "function_call" if legacy_functions and reason == "tool_calls" else reason


def text_finish(value: int) -> str:
    """A raw prompt cannot call tools; the legacy object has no tool_calls reason."""
    reason = finish_reason(value)
    return "stop" if reason == "tool_calls" else reason


def completion_id(chat_id: str) -> str:
    # An OpenAI-style upstream's legacy completion already has its cmpl- id.
    return chat_id if chat_id.startswith("cmpl-") else "cmpl-" + chat_id.removeprefix("chatcmpl-")


def usage(value: pb.Usage) -> JSON:
    return {
        "prompt_tokens": value.input_tokens,
        "completion_tokens": value.output_tokens,
        "total_tokens": value.total_tokens or value.input_tokens + value.output_tokens,
        "prompt_tokens_details": {"cached_tokens": value.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": value.reasoning_tokens},
    }


def _text(message: pb.Message) -> str:
    return "".join(part.text for part in message.content if part.HasField("text"))


def chat_completion(response: pb.GenerateResponse, legacy_functions: bool = False) -> JSON:
    """A chat.completion object; content is null when the model only called tools."""
    if response.finish_reason == pb.FINISH_REASON_ERROR:
        raise model_failed("")
    message = response.message
    text = _text(message)
    out: JSON = {
        "role": "assistant",
        "content": text or (None if message.tool_calls else ""),
        "refusal": None,
    }
    calls = [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        for call in message.tool_calls
    ]
    if calls and legacy_functions:
        out["function_call"] = calls[0]["function"]
    elif calls:
        out["tool_calls"] = calls
    if message.reasoning:
        # Not OpenAI's: the field vLLM, DeepSeek and LiteLLM use, which OpenAI clients ignore.
        out["reasoning_content"] = message.reasoning
    return {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "choices": [
            {
                "index": 0,
                "message": out,
                "logprobs": None,
                "finish_reason": finish_reason(response.finish_reason, legacy_functions),
            }
        ],
        "usage": usage(response.usage),
    }


def text_completion(response: pb.GenerateResponse) -> JSON:
    if response.finish_reason == pb.FINISH_REASON_ERROR:
        raise model_failed("")
    return {
        "id": completion_id(response.id),
        "object": "text_completion",
        "created": response.created,
        "model": response.model,
        "choices": [
            {
                "text": _text(response.message),
                "index": 0,
                "logprobs": None,
                "finish_reason": text_finish(response.finish_reason),
            }
        ],
        "usage": usage(response.usage),
    }
