"""What the model produced, as the text its output tokens are estimated from when the upstream reports none.

One rule for every provider that has no counters of its own to fall back
on, so a streamed answer and the same answer unstreamed estimate alike.
"""

from __future__ import annotations

from model_gateway.tokens import estimate_usage
from modelgateway.v1 import gateway_pb2 as pb


def output_text(message: pb.Message) -> str:
    """The answer's text, reasoning, and each tool call's name and arguments, space-separated."""
    pieces = [part.text for part in message.content if part.HasField("text")]
    pieces.append(message.reasoning)
    for call in message.tool_calls:
        pieces += (call.name, call.arguments)
    return " ".join(p for p in pieces if p)


def estimate_missing_usage(response: pb.GenerateResponse, request: pb.GenerateRequest) -> None:
    """Fill `usage` with an estimate (marked so) when the reply carried none."""
    if not response.HasField("usage"):
        response.usage.CopyFrom(estimate_usage(request, output_text(response.message)))
