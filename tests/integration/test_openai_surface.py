"""The bridge's OpenAI surface driven by the real `openai` SDK: `model-gateway up` against fake upstreams.

Model names pick the behaviour (see the config in conftest): "limited" is
rate limited upstream, "broken" fails, "badkey" has a rejected provider key,
"cut" drops its stream mid-answer, "flaky" only answers on its third route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.integration.conftest import PLANTED_KEY, Gateway

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def user(text: str) -> Any:
    return {"role": "user", "content": text}


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[OpenAI]:
    with OpenAI(base_url=gateway.bridge_url + "/v1", api_key="anything", max_retries=0, timeout=30) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.bridge_url, timeout=30) as raw:
        yield raw


# --- chat -------------------------------------------------------------------------


def test_chat_with_route_headers(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[user("Hello there")], extra_headers={"x-request-id": "req-openai-1"}
    )
    completion = raw.parse()
    assert completion.object == "chat.completion" and completion.model == "gpt-4o-mini"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == "Hello from fake-openai: Hello there"
    assert completion.usage is not None
    assert (
        completion.usage.total_tokens
        == completion.usage.prompt_tokens + completion.usage.completion_tokens
        > 0
    )
    assert raw.headers["x-gateway-model"] == "gpt-4o-mini"
    assert raw.headers["x-gateway-provider"] == "cloud"
    assert raw.headers["x-request-id"] == "req-openai-1"


def test_chat_by_alias_answers_as_the_alias(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="tiny", messages=[user("Hi")])
    assert raw.parse().model == "tiny"
    assert (raw.headers["x-gateway-model"], raw.headers["x-gateway-provider"]) == ("llama3.2", "local")


def test_stream_with_usage_equals_the_unstreamed_call(client: OpenAI) -> None:
    messages = [user("Tell me something about streams")]
    whole = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert len({(c.id, c.created) for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    # One last chunk with no choices carries the usage, the same as unstreamed.
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert whole.usage is not None
    assert chunks[-1].usage.model_dump() == whole.usage.model_dump()


def test_stream_without_include_usage_has_no_usage(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="tiny", messages=[user("Hi")], stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert (raw.headers["x-gateway-model"], raw.headers["x-gateway-provider"]) == ("llama3.2", "local")
    chunks = list(raw.parse())
    assert chunks and all(c.usage is None and c.model == "tiny" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_tool_round_trip(client: OpenAI) -> None:
    messages: list[Any] = [user("What is the weather in Paris?")]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"})
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "fake-openai: the tool said sunny, 24 C"


def test_streamed_tool_call_is_assembled_by_the_sdk(client: OpenAI) -> None:
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=[user("Weather in Paris, please")], tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})


def test_json_mode(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[user("Answer in JSON")], response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)

    schema: dict[str, object] = {
        "type": "object",
        "properties": {"count": {"type": "integer"}},
        "required": ["count"],
    }
    structured = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[user("Count")],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "count", "schema": schema, "strict": True},
        },
    )
    assert json.loads(structured.choices[0].message.content or "") == {"count": 42}


def test_unknown_parameters_reach_the_upstream(client: OpenAI, gateway: Gateway) -> None:
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[user("Hi")],
        seed=7,
        extra_body={"min_p": 0.05, "repetition_penalty": 1.1, "top_k": 40},
    )
    last = gateway.openai.stats()["last_request"]
    assert isinstance(last, dict)
    body = last["body"]
    assert (body["min_p"], body["repetition_penalty"], body["top_k"], body["seed"]) == (0.05, 1.1, 40, 7)


def test_legacy_completions(client: OpenAI) -> None:
    completion = client.completions.create(model="gpt-4o-mini", prompt="Say this is a test")
    assert completion.object == "text_completion" and completion.model == "gpt-4o-mini"
    assert completion.choices[0].text == "Hello from fake-openai: Say this is a test"
    assert completion.choices[0].finish_reason == "stop"
    chunks = list(client.completions.create(model="gpt-4o-mini", prompt="Say this is a test", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == completion.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "stop"


# --- models and embeddings ---------------------------------------------------------


def test_models_list_and_retrieve(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    for name in ("gpt-4o-mini", "mini", "llama3.2", "tiny", "embed-cloud", "flaky"):
        assert name in ids
    assert len(ids) == len(set(ids))
    mini = client.models.retrieve("mini")
    assert (mini.id, mini.object, mini.owned_by) == ("mini", "model", "model-gateway")
    assert client.models.retrieve("llama3.2:latest").id == "llama3.2:latest"  # a ':' in the path
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


def test_model_names_may_contain_slashes(http: httpx.Client) -> None:
    response = http.get("/v1/models/org/no-such-model")
    assert response.status_code == 404
    assert "'org/no-such-model'" in response.json()["error"]["message"]


def test_embeddings(client: OpenAI) -> None:
    # The SDK asks for base64 by default and decodes it; floats must agree with it.
    encoded = client.embeddings.create(model="embed-cloud", input=["hello", "world"])
    floats = client.embeddings.create(model="embed-cloud", input=["hello", "world"], encoding_format="float")
    assert encoded.model == "embed-cloud" and [d.index for d in encoded.data] == [0, 1]
    assert [d.embedding for d in encoded.data] == [d.embedding for d in floats.data]
    assert len(floats.data[0].embedding) == 16 and floats.data[0].embedding != floats.data[1].embedding
    assert floats.usage.prompt_tokens > 0 and floats.usage.total_tokens == floats.usage.prompt_tokens
    single = client.embeddings.create(
        model="embed-cloud", input="hello", dimensions=8, encoding_format="float"
    )
    assert len(single.data) == 1 and len(single.data[0].embedding) == 8


def test_embedding_token_arrays_are_rejected(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="embed-cloud", input=[[1, 2, 3]])
    assert caught.value.param == "input"


# --- errors ------------------------------------------------------------------------


def test_unknown_model_is_not_found(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=[user("Hi")])
    assert caught.value.code == "model_not_found" and caught.value.type == "invalid_request_error"
    assert "no-such-model" in caught.value.message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": 7}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"n": 2}, "n"),
    ],
)
def test_bad_input_is_a_bad_request(client: OpenAI, fields: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[user("Hi")], **fields)
    assert caught.value.param == param
    assert str(fields[param]) in caught.value.message and param in caught.value.message


def test_unknown_role_names_the_message(client: OpenAI) -> None:
    messages: Any = [user("a"), user("b"), {"role": "robot", "content": "beep"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert caught.value.param == "messages[2].role" and "robot" in caught.value.message


def test_rate_limit_with_retry_after(client: OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="limited", messages=[user("Hi")])
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.code == "rate_limit_exceeded"


def test_rejected_provider_key_is_an_authentication_error_without_the_key(client: OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="badkey", messages=[user("Hi")])
    assert caught.value.status_code == 401
    assert PLANTED_KEY not in caught.value.message
    assert PLANTED_KEY not in caught.value.response.text


def test_failing_upstream_is_a_server_error(client: OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="broken", messages=[user("Hi")])
    assert caught.value.status_code == 503
    assert caught.value.type == "server_error"


def test_stream_failure_before_the_first_chunk_is_an_http_error(client: OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="limited", messages=[user("Hi")], stream=True)


def test_cut_stream_raises_instead_of_ending_quietly(client: OpenAI) -> None:
    stream = client.chat.completions.create(model="cut", messages=[user("Tell me a long story")], stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)
            assert not any(c.finish_reason for c in chunk.choices), "a cut stream must not look finished"
    assert not isinstance(caught.value, openai.APIStatusError)  # the in-stream error event, not a status
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "server_error"


def test_failover_answers_and_counts_attempts(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="flaky", messages=[user("Hi")])
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-gateway-attempts"] == "3"
    assert raw.headers["x-gateway-provider"] == "local"


# --- the HTTP edge -------------------------------------------------------------------


def assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    return error


def test_oversize_body_is_413(client: OpenAI, http: httpx.Client) -> None:
    huge = "x" * 70_000  # the config's max_body_bytes is 65536
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[user(huge)])
    assert caught.value.status_code == 413
    assert "65536" in caught.value.message
    response = http.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [user(huge)]})
    assert_openai_error(response, 413)


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions",
        content=b'{"model": "gpt-4o-mini", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert "not valid JSON" in assert_openai_error(response, 400)["message"]


def test_wrong_content_type_is_415(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions",
        content=b'{"model": "gpt-4o-mini", "messages": []}',
        headers={"content-type": "text/plain"},
    )
    assert "text/plain" in assert_openai_error(response, 415)["message"]


def test_unknown_path_is_404_in_openai_shape(http: httpx.Client) -> None:
    assert_openai_error(http.get("/v1/no-such-endpoint"), 404)
