"""OllamaProvider's unary calls over a real socket (providers/ollama/provider.py): endpoints,
credentials, in-band errors, the shared HTTP error table, malformed replies."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.ollama import OllamaProvider
from model_gateway.providers.ollama.request import CHAT_PATH, GENERATE_PATH, chat_body
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers.ollama.support import (
    FakeOllama,
    Reply,
    canonical_request,
    collect,
    load,
    masked,
    serve,
    user_request,
)


async def test_generate_over_http(upstream: FakeOllama, provider: OllamaProvider) -> None:
    serve(upstream, CHAT_PATH, "chat_response_tools.wire.json")
    request = user_request()

    response = await provider.generate(request, "llama3.2", timeout=5)

    masked(response.message.tool_calls)
    assert response == json_format.ParseDict(
        load("chat_response_tools.canonical.json"), pb.GenerateResponse()
    )
    (seen,) = upstream.seen
    assert (seen.method, seen.path) == ("POST", CHAT_PATH)
    assert seen.body == chat_body(request, "llama3.2", stream=False)
    assert seen.headers["Authorization"] == "Bearer sk-test"
    assert provider.address == upstream.url


async def test_raw_prompt_over_http_without_a_key(upstream: FakeOllama) -> None:
    serve(upstream, GENERATE_PATH, "generate_response.wire.json")
    ollama = OllamaProvider("local", ProviderConfig(kind="ollama", base_url=upstream.url))
    try:
        response = await ollama.generate(canonical_request("generate_raw"), "mistral", timeout=5)
    finally:
        await ollama.close()

    assert response.message.content[0].text == "The sky is blue because it is the color of the sky."
    (seen,) = upstream.seen
    assert seen.path == GENERATE_PATH
    assert seen.body == load("generate_raw.wire.json")
    assert "Authorization" not in seen.headers


async def test_error_body_in_a_200_reply(upstream: FakeOllama, provider: OllamaProvider) -> None:
    upstream.replies[CHAT_PATH] = Reply(b'{"error":"the model failed to generate a response"}')
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "llama3.2", timeout=5)
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "the model failed to generate a response" in caught.value.message


@pytest.mark.parametrize("streamed", [False, True])
async def test_unknown_model_maps_through_the_shared_table(
    upstream: FakeOllama, provider: OllamaProvider, streamed: bool
) -> None:
    upstream.replies[CHAT_PATH] = Reply(b'{"error":"model \\"nope\\" not found, try pulling it first"}', 404)
    if streamed:
        _, error = await collect(provider, user_request(), "nope")
    else:
        with pytest.raises(GatewayError) as caught:
            await provider.generate(user_request(), "nope", timeout=5)
        error = caught.value
    assert error is not None
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.reason == Reason.UPSTREAM_MODEL_NOT_FOUND
    assert 'model "nope" not found' in error.message


async def test_bad_request_never_reaches_upstream(upstream: FakeOllama, provider: OllamaProvider) -> None:
    request = user_request()
    request.messages.add(role=pb.ROLE_ASSISTANT, tool_calls=[pb.ToolCall(name="f", arguments="not json")])

    with pytest.raises(GatewayError) as caught:
        await provider.generate(request, "llama3.2", timeout=5)
    assert caught.value.metadata["field"] == "messages[1].tool_calls[0].arguments"
    _, error = await collect(provider, request)
    assert error is not None and error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert upstream.seen == []


async def test_reply_of_the_wrong_shape_is_a_protocol_error(
    upstream: FakeOllama, provider: OllamaProvider
) -> None:
    upstream.replies[CHAT_PATH] = Reply(b'{"message": "not an object", "done": true}')
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "llama3.2", timeout=5)
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "message is not a JSON object" in caught.value.message
