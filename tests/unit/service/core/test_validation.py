"""Bad canonical requests are refused with INVALID_ARGUMENT naming the field and value."""

from __future__ import annotations

import grpc
import pytest

from model_gateway.core.validation import validate_embed, validate_generate
from model_gateway.errors import GatewayError
from modelgateway.v1 import gateway_pb2 as pb


def user(text: str) -> pb.Message:
    return pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])


def request(**fields: object) -> pb.GenerateRequest:
    base: dict[str, object] = {"model": "m", "messages": [user("hi")]}
    base.update(fields)
    return pb.GenerateRequest(**base)  # type: ignore[arg-type]


def test_a_good_request_passes() -> None:
    validate_generate(request(sampling=pb.Sampling(temperature=0.2, max_tokens=5, top_k=3)))
    validate_generate(pb.GenerateRequest(model="m", prompt="Why is the sky blue?"))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (request(model=""), "model: is required"),
        (request(messages=[]), "messages: must not be empty"),
        (request(prompt="also"), "prompt: give either messages or a prompt"),
        (request(sampling=pb.Sampling(temperature=7)), "sampling.temperature: 7 is out of range [0, 2]"),
        (request(sampling=pb.Sampling(top_p=1.5)), "sampling.top_p: 1.5 is out of range [0, 1]"),
        (request(sampling=pb.Sampling(max_tokens=-5)), "sampling.max_tokens: must be positive, got -5"),
        (request(sampling=pb.Sampling(top_k=-1)), "sampling.top_k: must not be negative, got -1"),
        (request(sampling=pb.Sampling(stop=["ok", ""])), "sampling.stop[1]: must not be empty"),
        (request(messages=[user("a"), pb.Message(role=99)]), "messages[1].role: unknown role 99"),
        (request(messages=[pb.Message()]), "messages[0].role: unknown role ROLE_UNSPECIFIED"),
        (
            request(
                messages=[
                    user("a"),
                    pb.Message(
                        role=pb.ROLE_ASSISTANT, tool_calls=[pb.ToolCall(id="c", name="f", arguments="{oops")]
                    ),
                ]
            ),
            "messages[1].tool_calls[0].arguments: is not valid JSON",
        ),
        (
            request(
                messages=[
                    pb.Message(role=pb.ROLE_ASSISTANT, tool_calls=[pb.ToolCall(name="f", arguments="[1]")])
                ]
            ),
            "messages[0].tool_calls[0].arguments: must be a JSON object",
        ),
        (request(messages=[pb.Message(role=pb.ROLE_TOOL)]), "messages[0].tool_call_id: is required"),
        (request(tools=[pb.Tool(name="")]), "tools[0].name: is required"),
        (
            request(
                tools=[pb.Tool(name="a")],
                tool_choice=pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name="b"),
            ),
            "tool_choice.function_name: 'b' is not one of the tools",
        ),
    ],
)
def test_bad_requests_name_the_field(bad: pb.GenerateRequest, message: str) -> None:
    with pytest.raises(GatewayError) as caught:
        validate_generate(bad)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith(message)
    assert caught.value.metadata["field"] == message.split(":", 1)[0]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (pb.EmbedRequest(model="e"), "input: must not be empty"),
        (pb.EmbedRequest(input=["x"]), "model: is required"),
        (pb.EmbedRequest(model="e", input=["x"], dimensions=0), "dimensions: must be positive, got 0"),
    ],
)
def test_bad_embed_requests(bad: pb.EmbedRequest, message: str) -> None:
    with pytest.raises(GatewayError, match=message.replace("[", r"\[")):
        validate_embed(bad)
