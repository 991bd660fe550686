"""The canonical reply → `{"text", "model", "provider", "usage", "cost", "finish_reason"}`.

`model` is the configured model that answered, `provider` the provider that
served it, `usage` `{"input_tokens", "output_tokens", "total_tokens"}` and
`cost` the call's cost in USD (0 when the model has no pricing).
"""

from __future__ import annotations

from model_gateway_bridge.fields import JSON
from model_gateway_bridge.surfaces.openai.errors import model_failed
from model_gateway_common.vocab.openai import FINISH_NAME
from modelgateway.v1 import gateway_pb2 as pb


def usage(value: pb.Usage) -> JSON:
    return {
        "input_tokens": value.input_tokens,
        "output_tokens": value.output_tokens,
        "total_tokens": value.total_tokens or value.input_tokens + value.output_tokens,
    }


def summary(model: str, route: pb.Route, usage_value: pb.Usage, cost: pb.Cost, finish: int) -> JSON:
    """Everything but the text: the unary reply's other keys, and the stream's final event."""
    return {
        "model": route.served_model or model,
        "provider": route.provider,
        "usage": usage(usage_value),
        "cost": cost.total_usd,
        "finish_reason": FINISH_NAME.get(finish, "stop"),
    }


def reply(response: pb.GenerateResponse) -> JSON:
    if response.finish_reason == pb.FINISH_REASON_ERROR:
        raise model_failed("")
    text = "".join(part.text for part in response.message.content if part.HasField("text"))
    details = summary(response.model, response.route, response.usage, response.cost, response.finish_reason)
    return {"text": text, **details}
