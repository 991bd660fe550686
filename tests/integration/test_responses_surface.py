"""The Responses front door (/v1/responses) and the simple shape (/v1/chat) driven by real clients:
the `openai` SDK's `responses.create` / `responses.stream` against `model-gateway up` in front of the
fake OpenAI (a Chat Completions upstream) and the fake Ollama, and Codex's own requests as captured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.integration.conftest import Gateway

CODEX = Path(__file__).resolve().parents[1] / "unit" / "bridge" / "surfaces" / "openai" / "fixtures"
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
# Models on each kind of upstream: a Chat Completions server (the fake OpenAI) and Ollama.
MODELS = ("gpt-4o-mini", "llama3.2")
RESPONSES_ONLY = (
    "include",
    "prompt_cache_key",
    "client_metadata",
    "reasoning",
    "store",
    "previous_response_id",
)


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[OpenAI]:
    with OpenAI(base_url=gateway.bridge_url + "/v1", api_key="anything", max_retries=0, timeout=30) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.bridge_url, timeout=30) as raw:
        yield raw


def upstream_body(gateway: Gateway) -> dict[str, Any]:
    last: Any = gateway.openai.stats()["last_request"]
    assert last is not None and last["path"] == "/v1/chat/completions"
    body: dict[str, Any] = last["body"]
    return body


# --- responses.create / responses.stream ---------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_create_answers_like_chat_completions(client: OpenAI, model: str) -> None:
    response = client.responses.create(model=model, input="Tell me something", instructions="Be brief.")
    chat = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Tell me something"},
        ],
    )
    assert response.status == "completed" and response.model == model
    assert response.id.startswith("resp_")
    assert response.output_text == chat.choices[0].message.content
    assert response.usage is not None and chat.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (
        chat.usage.prompt_tokens,
        chat.usage.completion_tokens,
    )


@pytest.mark.parametrize("model", MODELS)
def test_streamed_usage_equals_the_unstreamed_call(client: OpenAI, model: str) -> None:
    whole = client.responses.create(model=model, input="Tell me something about streams")
    deltas: list[str] = []
    with client.responses.stream(model=model, input="Tell me something about streams") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == whole.output_text
    assert final.usage is not None and whole.usage is not None
    assert final.usage.model_dump() == whole.usage.model_dump()
    assert final.status == "completed"


@pytest.mark.parametrize("model", MODELS)
def test_function_call_round_trip(client: OpenAI, model: str) -> None:
    first = client.responses.create(model=model, input="What is the weather in Paris?", tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.id is not None and call.id.startswith("fc_") and call.call_id
    history: list[Any] = [
        {"role": "user", "content": "What is the weather in Paris?"},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 24 C"},
    ]
    second = client.responses.create(model=model, input=history, tools=[WEATHER])
    label = "fake-openai" if model == "gpt-4o-mini" else "fake-ollama"
    assert second.output_text == f"{label}: the tool said sunny, 24 C"


def test_a_streamed_function_call_with_a_namespace_tool(client: OpenAI) -> None:
    namespace: Any = {
        "type": "namespace",
        "name": "weather",
        "description": "Weather tools",
        "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}],
    }
    with client.responses.stream(
        model="gpt-4o-mini", input="What is the weather in Paris?", tools=[namespace]
    ) as s:
        arguments = "".join(e.delta for e in s if e.type == "response.function_call_arguments.delta")
        final = s.get_final_response()
    (call,) = [item for item in final.output if item.type == "function_call"]
    assert (call.name, call.namespace) == ("lookup", "weather")  # sent upstream as weather__lookup
    assert json.loads(arguments) == json.loads(call.arguments) == {"city": "Paris"}


def test_json_schema_output(client: OpenAI, gateway: Gateway) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model="gpt-4o-mini",
        input="Answer in JSON",
        text={"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}},
    )
    assert isinstance(json.loads(response.output_text)["answer"], str)
    sent = upstream_body(gateway)["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }


# --- what Codex sends ------------------------------------------------------------------------


def codex_body(name: str, model: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CODEX / name).read_text())["body"]
    return {**body, "model": model}


def test_a_codex_turn_streams_to_response_completed_and_nothing_responses_only_goes_upstream(
    http: httpx.Client, gateway: Gateway
) -> None:
    response = http.post("/v1/responses", json=codex_body("codex_0171_request.json", "gpt-4o-mini"))
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-dropped-tools"] == "web_search"
    assert set(response.headers["x-gateway-dropped-params"].split(", ")) == {
        "include",
        "prompt_cache_key",
        "client_metadata",
        "reasoning",
    }
    types = [
        line.removeprefix("event: ") for line in response.text.splitlines() if line.startswith("event: ")
    ]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    sent = upstream_body(gateway)
    assert not set(RESPONSES_ONLY) & set(sent), sent.keys()
    names = [tool["function"]["name"] for tool in sent["tools"]]
    assert "exec_command" in names and "multi_agent_v1__spawn_agent" in names
    assert all(tool["type"] == "function" for tool in sent["tools"])  # web_search stayed behind
    assert sent["messages"][0]["role"] == "developer"


@pytest.mark.parametrize("model", MODELS)
def test_codexs_tool_turn_is_answered(http: httpx.Client, model: str) -> None:
    response = http.post("/v1/responses", json=codex_body("codex_0171_tool_turn.json", model))
    assert response.status_code == 200, response.text
    completed = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ") and '"response.completed"' in line
    ]
    assert completed[0]["response"]["output"][0]["content"][0]["text"].endswith(
        "the tool said failed to parse function arguments: missing field `cmd` at line 1 column 16"
    )


# --- bad input -----------------------------------------------------------------------------


def test_an_unknown_item_type_is_a_400_naming_it(client: OpenAI) -> None:
    items: Any = [{"role": "user", "content": "hi"}, {"type": "hologram"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="tiny", input=items)
    assert caught.value.param == "input[1].type" and "hologram" in caught.value.message


def test_previous_response_id_is_a_400_saying_stored_responses_are_off(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="tiny", input="hi", previous_response_id="resp_abc")
    assert "stored responses" in caught.value.message and caught.value.param == "previous_response_id"


def test_a_body_over_the_limit_is_a_413(client: OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="tiny", input="x" * 70_000)  # the stack's max_body_bytes is 65536
    assert caught.value.status_code == 413


def test_an_unknown_model_is_a_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-5-nano", input="hi")


def test_a_stream_cut_midway_ends_in_response_failed(client: OpenAI) -> None:
    with client.responses.stream(model="cut", input="hi") as stream:
        types = [event.type for event in stream]
    assert types[-2:] == ["error", "response.failed"]


# --- /v1/models, as Codex reads it -----------------------------------------------------------


def test_models_lists_every_name_codex_may_ask_for(client: OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"gpt-4o-mini", "mini", "llama3.2", "tiny"} <= ids


# --- /v1/chat --------------------------------------------------------------------------------


def test_simple_chat_by_model_by_provider_and_streamed(http: httpx.Client) -> None:
    by_model = http.post("/v1/chat", json={"prompt": "Tell me something", "model": "llama3.2"}).json()
    by_provider = http.post("/v1/chat", json={"prompt": "Tell me something", "provider": "local"}).json()
    assert by_model == by_provider
    assert (by_model["model"], by_model["provider"]) == ("llama3.2", "local")
    assert by_model["text"] == "Hello from fake-ollama: Tell me something"
    assert by_model["cost"] > 0  # llama3.2 is priced in the test config
    streamed = http.post(
        "/v1/chat", json={"prompt": "Tell me something", "model": "llama3.2", "stream": True}
    )
    events = [line.removeprefix("data: ") for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    summary = json.loads(events[-2])
    assert "".join(json.loads(e)["text"] for e in events[:-2]) == by_model["text"]
    assert (summary["usage"], summary["cost"], summary["provider"]) == (
        by_model["usage"],
        by_model["cost"],
        "local",
    )
