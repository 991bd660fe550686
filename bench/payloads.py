"""What goes over the wire: the upstream's fixed replies and each surface's request body."""

from __future__ import annotations

import json
import struct

from modelgateway.v1 import gateway_pb2 as pb

UNARY_MODEL = "bench"  # routed to the upstream's JSON location
STREAM_MODEL = "bench-stream"  # routed to the upstream's SSE location
PROMPT = "Say hello to the benchmark."
MAX_TOKENS = 16
# A short answer in ten deltas: enough chunks to show per-chunk cost in a stream.
PIECES = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?", " :)"]
ANSWER = "".join(PIECES)
USAGE = {"prompt_tokens": 14, "completion_tokens": len(PIECES), "total_tokens": 14 + len(PIECES)}
CREATED = 1_735_689_600


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def upstream_completion() -> str:
    """An OpenAI chat.completion, as an OpenAI-compatible server returns it."""
    return _dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": UNARY_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    )


def upstream_stream() -> str:
    """The same answer as an SSE stream: role, text deltas, finish, usage, [DONE]."""

    def chunk(delta: dict[str, str], finish: str | None = None, usage: object = None) -> str:
        body: dict[str, object] = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": UNARY_MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
        }
        if usage is not None:
            body["usage"] = usage
        return f"data: {_dumps(body)}\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in PIECES]
    events += [chunk({}, finish="stop"), chunk({}, usage=USAGE), "data: [DONE]\n\n"]
    return "".join(events)


def openai_request(model: str, stream: bool, deterministic: bool = False) -> bytes:
    """`deterministic`: temperature 0, which the response cache keeps (only_deterministic)."""
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": MAX_TOKENS,
    }
    if stream:
        body["stream"] = True
    if deterministic:
        body["temperature"] = 0
    return _dumps(body).encode()


def ollama_request(model: str, stream: bool, deterministic: bool = False) -> bytes:
    # Ollama streams unless told not to, so "stream" is always explicit.
    options: dict[str, object] = {"num_predict": MAX_TOKENS}
    if deterministic:
        options["temperature"] = 0
    body = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "options": options,
        "stream": stream,
    }
    return _dumps(body).encode()


def grpc_request(model: str) -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model=model,
        messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=PROMPT)])],
        sampling=pb.Sampling(max_tokens=MAX_TOKENS),
    )


def grpc_frame(message: bytes) -> bytes:
    """One length-prefixed gRPC message: flag 0 (uncompressed), big-endian length, bytes."""
    return struct.pack(">BI", 0, len(message)) + message
