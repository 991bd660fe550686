"""A canonical GenerateResponse → the Messages API's `message` object.

Content blocks keep the canonical order: reasoning parts become `thinking`
(with the signature the upstream gave, "" when it gave none) or
`redacted_thinking` blocks, text parts `text` blocks, then each tool call a
`tool_use` block with its input as an object. Plain reasoning text without
parts (Ollama's, DeepSeek's) is one unsigned `thinking` block first.

Usage is Anthropic's: its `input_tokens` counts only what was neither read
from nor written to the prompt cache, so it is the canonical (whole-prompt)
input less the two cache counts, which ride beside it.
"""

from __future__ import annotations

import re
import secrets

from model_gateway_bridge.fields import JSON
from model_gateway_bridge.surfaces.anthropic.errors import model_failed
from model_gateway_bridge.tool_arguments import arguments_object
from model_gateway_common.vocab.anthropic import STOP_REASON
from modelgateway.v1 import gateway_pb2 as pb

_NOT_ID = re.compile(r"[^A-Za-z0-9]")


def message_id(gateway_id: str) -> str:
    """`msg_…`: an Anthropic upstream's id as it came, else the gateway's id in that form."""
    if gateway_id.startswith("msg_"):
        return gateway_id
    rest = _NOT_ID.sub("", gateway_id.removeprefix("chatcmpl-"))
    return "msg_" + (rest or secrets.token_hex(12))


def tool_use_id(call_id: str) -> str:
    return call_id or "toolu_" + secrets.token_hex(12)


def stop_reason(finish: int, calls: bool) -> str:
    reason = STOP_REASON.get(finish, "end_turn")
    # A server that says "stop" after calling tools (Ollama) still made a tool_use turn.
    return "tool_use" if calls and reason == "end_turn" else reason


def usage(value: pb.Usage) -> JSON:
    read, written = value.cached_input_tokens, value.cache_write_input_tokens
    return {
        "input_tokens": max(0, value.input_tokens - read - written),
        "output_tokens": value.output_tokens,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    }


def thinking_block(text: str, signature: str) -> JSON:
    return {"type": "thinking", "thinking": text, "signature": signature}


def content_blocks(message: pb.Message) -> list[JSON]:
    blocks: list[JSON] = []
    parts = message.content
    if message.reasoning and not any(part.HasField("reasoning") for part in parts):
        blocks.append(thinking_block(message.reasoning, ""))
    for part in parts:
        kind = part.WhichOneof("part")
        if kind == "text" and part.text:
            blocks.append({"type": "text", "text": part.text})
        elif kind == "reasoning":
            reasoning = part.reasoning
            if reasoning.redacted:
                blocks.append({"type": "redacted_thinking", "data": reasoning.data})
            else:
                blocks.append(thinking_block(reasoning.text, reasoning.signature))
    for call in message.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_use_id(call.id),
                "name": call.name,
                "input": arguments_object(call.arguments, call.name),
            }
        )
    return blocks


def message_object(response: pb.GenerateResponse, model: str) -> JSON:
    if response.finish_reason == pb.FINISH_REASON_ERROR:
        raise model_failed()
    message = response.message
    return {
        "id": message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": response.model or model,
        "content": content_blocks(message),
        "stop_reason": stop_reason(response.finish_reason, bool(message.tool_calls)),
        "stop_sequence": None,
        "usage": usage(response.usage),
    }
