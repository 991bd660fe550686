"""A `POST /v1/chat` body → the canonical request (one user message).

Keys: prompt (required), model or provider (one of them; `model` wins when
both are given), stream, max_tokens, temperature. Any other key is a 400 that
names it: this shape is small on purpose, and a client that sends `messages`
here should hear that it belongs on /v1/chat/completions.
"""

from __future__ import annotations

from dataclasses import dataclass

from model_gateway_bridge.fields import INT32, JSON
from model_gateway_bridge.surfaces.openai.errors import FIELDS as read
from model_gateway_bridge.surfaces.openai.errors import PARAMS
from modelgateway.v1 import gateway_pb2 as pb

KEYS = ("prompt", "model", "provider", "stream", "max_tokens", "temperature")


@dataclass(frozen=True, slots=True)
class SimpleChat:
    request: pb.GenerateRequest  # `model` is empty until a provider's model is looked up
    provider: str
    stream: bool


def parse_chat(body: JSON) -> SimpleChat:
    unknown = [key for key in body if key not in KEYS]
    if unknown:
        err = PARAMS.wrong_value(
            unknown[0],
            f"unrecognized request argument {unknown[0]!r} (this endpoint takes {', '.join(KEYS)}; "
            "conversations go to /v1/chat/completions)",
        )
        err.reason = "UNKNOWN_PARAMETER"
        raise err
    prompt = read.required_string(body.get("prompt"), "prompt")
    model = read.string(body.get("model"), "model")
    provider = read.string(body.get("provider"), "provider")
    if not model.strip() and not provider.strip():
        raise PARAMS.missing("model")
    request = pb.GenerateRequest(
        model=model, messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=prompt)])]
    )
    if body.get("max_tokens") is not None:
        request.sampling.max_tokens = read.integer(body["max_tokens"], "max_tokens", (1, INT32[1]))
    if body.get("temperature") is not None:
        request.sampling.temperature = read.number(body["temperature"], "temperature")
    return SimpleChat(request, provider, read.boolean(body.get("stream"), "stream"))
