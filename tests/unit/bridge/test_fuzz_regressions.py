"""Every crash the request-parser fuzzers (fuzz/, `make fuzz`) found, as a test of the fix."""

from __future__ import annotations

import httpx

from model_gateway_common.structs import MAX_DEPTH
from tests.unit.bridge.scripted import ScriptedGateway


def nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"type": "string"}
    for _ in range(depth):
        value = {"type": "object", "properties": {"x": value}}
    return value


async def test_tool_parameters_nested_past_the_limit_are_a_400_not_a_500(
    raw: httpx.AsyncClient, servicer: ScriptedGateway
) -> None:
    """openai-chat: protobuf refused the Struct ("Exceeded upb_DecodeOptions_MaxDepth") as a 500."""
    tool = {"type": "function", "function": {"name": "f", "parameters": nested(60)}}
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    reply = await raw.post("/v1/chat/completions", json=body)
    assert reply.status_code == 400, reply.text
    assert f"deeper than {MAX_DEPTH} levels" in reply.json()["error"]["message"]
    # Real schemas, a dozen levels deep, still pass.
    tool["function"]["parameters"] = nested(12)  # type: ignore[index]
    assert (await raw.post("/v1/chat/completions", json=body)).status_code == 200


def deep(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = {"x": value}
    return value


async def test_tool_arguments_nested_past_what_orjson_writes_are_a_400(
    raw: httpx.AsyncClient, servicer: ScriptedGateway
) -> None:
    """anthropic-messages: tool_use input 300 levels deep parsed (orjson reads 1024) but could not be
    written again as the call's arguments (it writes 255): TypeError, a 500."""
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": deep(300)}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    body = {
        "model": "llama3.2",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [tool_use]},
            {"role": "user", "content": [result]},
        ],
    }
    reply = await raw.post("/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"})
    assert reply.status_code == 400, reply.text
    assert reply.json()["type"] == "error" and "255 levels" in reply.json()["error"]["message"]
