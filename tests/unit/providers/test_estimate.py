"""Usage estimated from the answer when the upstream reports none (providers/estimate.py)."""

from __future__ import annotations

from model_gateway.providers.estimate import estimate_missing_usage, output_text
from model_gateway.tokens import estimate_usage
from modelgateway.v1 import gateway_pb2 as pb

REQUEST = pb.GenerateRequest(messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])])


def test_output_text_takes_text_reasoning_and_tool_calls() -> None:
    message = pb.Message(
        content=[pb.ContentPart(text="Sunny."), pb.ContentPart(image=pb.ImagePart(url="x"))],
        reasoning="Look it up.",
        tool_calls=[pb.ToolCall(name="get_weather", arguments='{"city": "Oslo"}')],
    )
    assert output_text(message) == 'Sunny. Look it up. get_weather {"city": "Oslo"}'


def test_missing_usage_is_estimated_and_reported_usage_kept() -> None:
    response = pb.GenerateResponse(message=pb.Message(content=[pb.ContentPart(text="Hello there")]))
    estimate_missing_usage(response, REQUEST)
    assert response.usage == estimate_usage(REQUEST, "Hello there")
    assert response.usage.estimated

    reported = pb.GenerateResponse(usage=pb.Usage(input_tokens=3, output_tokens=2, total_tokens=5))
    estimate_missing_usage(reported, REQUEST)
    assert reported.usage == pb.Usage(input_tokens=3, output_tokens=2, total_tokens=5)
