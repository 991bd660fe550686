"""The canonical reply → a Responses `response` object: output items, status, usage.

Output items, in the order a model produces them: a `reasoning` item (the
reasoning text as its summary; with `include: ["reasoning.encrypted_content"]`
the signed reasoning and call signatures a provider needs back, see
reasoning.py), a `message` with one `output_text` part, then one
`function_call` item per call (`call_id` is the canonical call id; a
namespaced tool's call names its namespace again). A stop at the output limit
is status `incomplete` with `incomplete_details.reason: max_output_tokens`.
The body is wire-exact; the route and cost ride in the x-gateway-* headers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable

from model_gateway_bridge.fields import JSON
from model_gateway_bridge.surfaces.openai.errors import model_failed
from model_gateway_bridge.surfaces.openai.responses import reasoning
from model_gateway_bridge.surfaces.openai.responses.request import ResponsesCall
from modelgateway.v1 import gateway_pb2 as pb

# Finish reasons that leave a response incomplete, with the reason the API gives.
_INCOMPLETE = {
    pb.FINISH_REASON_LENGTH: "max_output_tokens",
    pb.FINISH_REASON_CONTENT_FILTER: "content_filter",
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def usage(value: pb.Usage) -> JSON:
    return {
        "input_tokens": value.input_tokens,
        "input_tokens_details": {
            "cached_tokens": value.cached_input_tokens,
            "cache_write_tokens": value.cache_write_input_tokens,
        },
        "output_tokens": value.output_tokens,
        "output_tokens_details": {"reasoning_tokens": value.reasoning_tokens},
        "total_tokens": value.total_tokens or value.input_tokens + value.output_tokens,
    }


def status_of(finish: pb.FinishReason.ValueType) -> tuple[str, JSON | None]:
    """The response's status and incomplete_details for a finish reason."""
    reason = _INCOMPLETE.get(finish)
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def response_object(
    call: ResponsesCall,
    response_id: str,
    created_at: int,
    model: str,
    status: str,
    output: list[JSON],
    usage_value: JSON | None,
    incomplete: JSON | None = None,
    error: JSON | None = None,
) -> JSON:
    """The Response object, keys in the order api.openai.com sends them."""
    echo = call.echo
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": echo["instructions"],
        "max_output_tokens": echo["max_output_tokens"],
        "model": model,
        "output": output,
        "parallel_tool_calls": echo["parallel_tool_calls"],
        "previous_response_id": None,
        "prompt_cache_key": echo["prompt_cache_key"],
        "reasoning": echo["reasoning"],
        "safety_identifier": echo["safety_identifier"],
        "store": False,
        "temperature": echo["temperature"],
        "text": echo["text"],
        "tool_choice": echo["tool_choice"],
        "tools": echo["tools"],
        "top_p": echo["top_p"],
        "truncation": "disabled",
        "usage": usage_value,
        "user": echo["user"],
        "metadata": echo["metadata"],
    }


def reasoning_item(item_id: str, text: str, carried: str | None, status: str | None = None) -> JSON:
    item: JSON = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if carried:
        item["encrypted_content"] = carried
    if status:
        item["status"] = status
    return item


def output_text(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str | None, status: str) -> JSON:
    content = [] if text is None else [output_text(text)]
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def call_item(
    call: ResponsesCall, item_id: str, call_id: str, canonical_name: str, arguments: str, status: str
) -> JSON:
    name, namespace = call.tools.answer_name(canonical_name)
    item: JSON = {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }
    if namespace is not None:
        item["namespace"] = namespace
    return item


def _carried(
    call: ResponsesCall, parts: Iterable[pb.ReasoningPart], calls: Iterable[pb.ToolCall]
) -> str | None:
    if not call.carry_reasoning:
        return None
    return reasoning.encode(parts, {c.id: c.signature for c in calls if c.signature and c.id})


def output_items(call: ResponsesCall, message: pb.Message, status: str) -> list[JSON]:
    items: list[JSON] = []
    parts = [p.reasoning for p in message.content if p.HasField("reasoning")]
    calls = [
        c
        if c.id
        else pb.ToolCall(id=new_id("call"), name=c.name, arguments=c.arguments, signature=c.signature)
        for c in message.tool_calls
    ]
    text = message.reasoning or "".join(p.text for p in parts if not p.redacted)
    carried = _carried(call, parts, calls)
    if text or carried:
        items.append(reasoning_item(new_id("rs"), text, carried))
    answer = "".join(p.text for p in message.content if p.HasField("text"))
    if answer or not calls:
        items.append(message_item(new_id("msg"), answer, status))
    for tool_call in calls:
        item_status = "completed" if status == "completed" else "incomplete"
        items.append(
            call_item(
                call, new_id("fc"), tool_call.id, tool_call.name, tool_call.arguments or "{}", item_status
            )
        )
    return items


def responses_object(call: ResponsesCall, response: pb.GenerateResponse) -> JSON:
    """A finished (unstreamed) call's Response; a model that failed is a 502, as chat's is."""
    if response.finish_reason == pb.FINISH_REASON_ERROR:
        raise model_failed("")
    status, incomplete = status_of(response.finish_reason)
    return response_object(
        call,
        new_id("resp"),
        response.created or int(time.time()),
        response.model or call.request.model,
        status,
        output_items(call, response.message, status),
        usage(response.usage),
        incomplete,
    )
