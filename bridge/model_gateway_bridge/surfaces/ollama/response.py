"""A canonical GenerateResponse → the /api/chat or /api/generate reply object.

The final object carries the counters and the durations in nanoseconds.
Ollama sends tool calls whole, with the arguments as a JSON object.
"""

from __future__ import annotations

import time

from model_gateway_bridge.fields import JSON
from model_gateway_bridge.tool_arguments import arguments_object
from model_gateway_common.vocab.ollama import done_reason
from modelgateway.v1 import gateway_pb2 as pb


def created_at(ns: int | None = None) -> str:
    """RFC 3339 in UTC with nanoseconds, as Go's time.Time marshals (trailing zeros dropped)."""
    ns = time.time_ns() if ns is None else ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def counters(usage: pb.Usage, timings: pb.Timings, wall_ns: int, first_ns: int) -> JSON:
    """The final object's counts and durations (nanoseconds).

    Upstreams that do not time themselves (OpenAI-style servers) leave the
    timings at 0: then the bridge's wall clock stands in, split at the first
    chunk into prompt evaluation and generation.
    """
    total = timings.total_ns or wall_ns
    load, prompt_eval, evaluation = timings.load_ns, timings.prompt_eval_ns, timings.eval_ns
    if not prompt_eval and not evaluation:
        prompt_eval = min(timings.first_chunk_ns or first_ns, total)
        evaluation = max(total - load - prompt_eval, 0)
    return {
        "total_duration": total,
        "load_duration": load,
        "prompt_eval_count": usage.input_tokens,
        "prompt_eval_duration": prompt_eval,
        "eval_count": usage.output_tokens,
        "eval_duration": evaluation,
    }


def tool_call_json(call_id: str, name: str, arguments: str, index: int) -> JSON:
    out: JSON = {"function": {"index": index, "name": name, "arguments": arguments_object(arguments, name)}}
    if call_id:
        out["id"] = call_id
    return out


def reply_object(model: str, chat: bool, text: str, thinking: str, calls: list[JSON], done: bool) -> JSON:
    """One /api/chat or /api/generate object, before the final counters."""
    obj: JSON = {"model": model, "created_at": created_at()}
    if chat:
        message: JSON = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        if calls:
            message["tool_calls"] = calls
        obj["message"] = message
    else:
        obj["response"] = text
        if thinking:
            obj["thinking"] = thinking
    obj["done"] = done
    return obj


def response_json(response: pb.GenerateResponse, model: str, chat: bool, wall_ns: int) -> JSON:
    """A non-streamed reply: the final object with the whole message."""
    message = response.message
    text = "".join(part.text for part in message.content if part.HasField("text"))
    calls = [tool_call_json(c.id, c.name, c.arguments, i) for i, c in enumerate(message.tool_calls)]
    obj = reply_object(model, chat, text, message.reasoning, calls if chat else [], done=True)
    obj["done_reason"] = done_reason(response.finish_reason)
    obj.update(counters(response.usage, response.timings, wall_ns, 0))
    return obj


def load_json(model: str, chat: bool, reason: str) -> JSON:
    """The reply to a body that only (un)loads the model: done at once, nothing generated."""
    obj = reply_object(model, chat, "", "", [], done=True)
    obj["done_reason"] = reason
    return obj
