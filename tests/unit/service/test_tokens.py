"""The usage estimator used when an upstream reports none."""

from __future__ import annotations

from model_gateway.tokens import count_request, count_text, estimate_usage
from modelgateway.v1 import gateway_pb2 as pb


def test_counts_grow_with_text_and_are_close_to_bpe() -> None:
    assert count_text("") == 0
    assert count_text("Hello, world!") == 4  # cl100k: Hello , world !
    assert count_text("The quick brown fox jumps over the lazy dog.") == 10  # cl100k: 10
    assert count_text("internationalization") > 1  # long words split


def test_usage_is_marked_estimated_and_totals_add_up() -> None:
    request = pb.GenerateRequest(
        model="m", messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="Say hi")])]
    )
    usage = estimate_usage(request, "Hi there!")
    assert usage.estimated
    assert usage.input_tokens == count_request(request) > count_text("Say hi")
    assert usage.output_tokens == count_text("Hi there!") == 3
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
