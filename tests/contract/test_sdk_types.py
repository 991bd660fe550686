"""The running bridge's replies parse with the official SDKs' own types.

Raw HTTP (httpx), so nothing of the SDKs' lenient request plumbing helps: each
body (each SSE event's data, each NDJSON line) goes through the type's
`model_validate`, which checks that no required field is missing and that
every type is right. On top, a strictness the SDKs leave out (OpenAI's models
allow extras, Ollama's drop them): every key the bridge sends must be a field
the SDK type declares, except the few the upstream APIs define and the SDK
types have not caught up with (listed, with where the API defines them).
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import httpx
import ollama
import pytest
from openai.types import Completion, CreateEmbeddingResponse, ErrorObject, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel

from tests.contract.conftest import Bridge, parse_ndjson, parse_sse

JSON = dict[str, Any]
T = TypeVar("T", bound=BaseModel)

WEATHER_TOOL: JSON = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

# Keys the upstream API sends that the SDK's pydantic types do not declare (yet).
OLLAMA_EXTRAS = (
    # api.ToolCall.ID and api.ToolCallFunction.Index (ollama api/types.go); ollama-python drops both.
    re.compile(r"^message\.tool_calls\[\d+\]\.id$"),
    re.compile(r"^message\.tool_calls\[\d+\]\.function\.index$"),
    # api.ListModelResponse.Name (docs/api.md, "List Local Models"); ListResponse.Model has only `model`.
    re.compile(r"^models\[\d+\]\.name$"),
)


def undeclared(model: Any, raw: Any, path: str = "") -> Iterator[str]:
    """Paths of keys in `raw` that the parsed pydantic `model` has no field for."""
    if isinstance(model, BaseModel) and isinstance(raw, dict):
        fields = type(model).model_fields
        by_key = {name: name for name in fields} | {f.alias: name for name, f in fields.items() if f.alias}
        for key, value in raw.items():
            where = f"{path}.{key}" if path else key
            if key not in by_key:
                yield where
            else:
                yield from undeclared(getattr(model, by_key[key]), value, where)
    elif isinstance(raw, list) and isinstance(model, Sequence) and not isinstance(model, str):
        for i, (item, raw_item) in enumerate(zip(model, raw, strict=False)):
            yield from undeclared(item, raw_item, f"{path}[{i}]")


def strict(cls: type[T], raw: Any, allowed: Sequence[re.Pattern[str]] = ()) -> T:
    """`cls.model_validate(raw)`, then no key left that the type does not declare."""
    parsed = cls.model_validate(raw)
    extra = [path for path in undeclared(parsed, raw) if not any(p.search(path) for p in allowed)]
    assert not extra, f"{cls.__name__} does not declare {extra}: {raw}"
    return parsed


@pytest.fixture(scope="module")
def http(bridge: Bridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.url, timeout=30) as client:
        yield client


def user(text: str) -> JSON:
    return {"role": "user", "content": text}


def sse_data(response: httpx.Response) -> list[Any]:
    """The JSON data of every event before the final [DONE]."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.content)
    assert events[-1]["data"] == "[DONE]"
    return [json.loads(event["data"]) for event in events[:-1]]


# --- OpenAI ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o-mini", "tiny", "no-usage"])
def test_openai_chat_completion(http: httpx.Client, model: str) -> None:
    response = http.post("/v1/chat/completions", json={"model": model, "messages": [user("Hello")]})
    assert response.status_code == 200, response.text
    completion = strict(ChatCompletion, response.json())
    assert completion.model == model and completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_openai_chat_completion_with_tool_calls(http: httpx.Client) -> None:
    body = {"model": "mini", "messages": [user("What is the weather in Paris?")], "tools": [WEATHER_TOOL]}
    completion = strict(ChatCompletion, http.post("/v1/chat/completions", json=body).json())
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls and choice.message.tool_calls[0].type == "function"


def test_openai_chat_completion_with_legacy_functions(http: httpx.Client) -> None:
    body = {
        "model": "mini",
        "messages": [user("What is the weather in Paris?")],
        "functions": [WEATHER_TOOL["function"]],
    }
    completion = strict(ChatCompletion, http.post("/v1/chat/completions", json=body).json())
    assert completion.choices[0].finish_reason == "function_call"
    assert completion.choices[0].message.function_call is not None


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("model", ["gpt-4o-mini", "llama3.2"])
def test_openai_chat_stream(http: httpx.Client, model: str, include_usage: bool) -> None:
    body = {
        "model": model,
        "messages": [user("Tell me something")],
        "stream": True,
        "stream_options": {"include_usage": include_usage},
    }
    response = http.post("/v1/chat/completions", json=body)
    chunks = [strict(ChatCompletionChunk, data) for data in sse_data(response)]
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    finishing = chunks[-2] if include_usage else chunks[-1]
    assert finishing.choices[0].finish_reason == "stop"
    if include_usage:
        assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_openai_chat_stream_with_tool_calls(http: httpx.Client) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [user("What is the weather in Paris?")],
        "tools": [WEATHER_TOOL],
        "stream": True,
    }
    response = http.post("/v1/chat/completions", json=body)
    chunks = [strict(ChatCompletionChunk, data) for data in sse_data(response)]
    calls = [call for chunk in chunks for choice in chunk.choices for call in choice.delta.tool_calls or ()]
    assert calls[0].id and calls[0].function and calls[0].function.name == "get_weather"
    arguments = "".join(call.function.arguments or "" for call in calls if call.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_openai_chat_stream_cut_midway_ends_with_an_error_object(http: httpx.Client) -> None:
    body = {"model": "cut", "messages": [user("Hi")], "stream": True}
    data = sse_data(http.post("/v1/chat/completions", json=body))
    for chunk in data[:-1]:
        strict(ChatCompletionChunk, chunk)
    assert set(data[-1]) == {"error"}
    strict(ErrorObject, data[-1]["error"])


@pytest.mark.parametrize("stream", [False, True])
def test_openai_completion(http: httpx.Client, stream: bool) -> None:
    body = {"model": "gpt-4o-mini", "prompt": "Say this is a test", "stream": stream}
    response = http.post("/v1/completions", json=body)
    if not stream:
        completion = strict(Completion, response.json())
        assert completion.choices[0].text and completion.usage is not None
        return
    data = sse_data(response)
    last = strict(Completion, data[-1])
    # CompletionChoice.finish_reason is a required, non-null Literal in the SDK, yet OpenAI streams null
    # until the last chunk (the SDK reads stream chunks without validating them). So each earlier chunk
    # is checked with the stream's final reason in place of its null: every other field still is.
    assert all(choice["finish_reason"] is None for chunk in data[:-1] for choice in chunk["choices"])
    final = last.choices[0].finish_reason
    for chunk in data[:-1]:
        strict(Completion, {**chunk, "choices": [{**c, "finish_reason": final} for c in chunk["choices"]]})
    assert "".join(c["choices"][0]["text"] for c in data if c["choices"])
    assert last.choices[0].finish_reason == "stop"


def test_openai_models(http: httpx.Client) -> None:
    listing = http.get("/v1/models").json()
    assert set(listing) == {"object", "data"} and listing["object"] == "list"
    models = [strict(Model, item) for item in listing["data"]]
    assert {"gpt-4o-mini", "mini", "llama3.2", "tiny"} <= {m.id for m in models}
    assert strict(Model, http.get("/v1/models/tiny").json()).id == "tiny"


def test_openai_embeddings(http: httpx.Client) -> None:
    body = {"model": "embed-cloud", "input": ["first", "second"]}
    floats = strict(CreateEmbeddingResponse, http.post("/v1/embeddings", json=body).json())
    assert [d.index for d in floats.data] == [0, 1] and floats.data[0].embedding
    # base64: the SDK decodes the string itself; the values are the same little-endian float32s.
    raw = http.post("/v1/embeddings", json={**body, "encoding_format": "base64"}).json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == floats.data[0].embedding


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/chat/completions", {"model": "no-such-model", "messages": [user("Hi")]}, 404),
        ("/v1/chat/completions", {"model": "mini", "messages": []}, 400),
        ("/v1/chat/completions", {"model": "limited", "messages": [user("Hi")]}, 429),
        ("/v1/chat/completions", {"model": "broken", "messages": [user("Hi")]}, 503),
        ("/v1/embeddings", {"model": "embed-cloud"}, 400),
    ],
)
def test_openai_errors(http: httpx.Client, path: str, body: JSON, status: int) -> None:
    response = http.post(path, json=body)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    strict(ErrorObject, response.json()["error"])


# --- Ollama ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["llama3.2", "gpt-4o-mini"])
def test_ollama_chat(http: httpx.Client, model: str) -> None:
    body = {"model": model, "messages": [user("Hello")], "stream": False}
    reply = strict(ollama.ChatResponse, http.post("/api/chat", json=body).json(), OLLAMA_EXTRAS)
    assert reply.done and reply.done_reason == "stop" and reply.message.content
    assert reply.eval_count and reply.prompt_eval_count and reply.total_duration


def test_ollama_chat_with_tool_calls(http: httpx.Client) -> None:
    body = {
        "model": "tiny",
        "messages": [user("What is the weather in Paris?")],
        "tools": [WEATHER_TOOL],
        "stream": False,
    }
    reply = strict(ollama.ChatResponse, http.post("/api/chat", json=body).json(), OLLAMA_EXTRAS)
    assert reply.message.tool_calls and reply.message.tool_calls[0].function.arguments == {"city": "Paris"}


@pytest.mark.parametrize("model", ["llama3.2", "mini"])
def test_ollama_chat_stream(http: httpx.Client, model: str) -> None:
    response = http.post("/api/chat", json={"model": model, "messages": [user("Hello")]})
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [strict(ollama.ChatResponse, line, OLLAMA_EXTRAS) for line in parse_ndjson(response.content)]
    assert [line.done for line in lines] == [False] * (len(lines) - 1) + [True]
    assert lines[-1].eval_count


def test_ollama_chat_load(http: httpx.Client) -> None:
    response = http.post("/api/chat", json={"model": "llama3.2", "messages": []})
    reply = strict(ollama.ChatResponse, response.json())
    assert reply.done and reply.done_reason == "load"


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_generate(http: httpx.Client, stream: bool) -> None:
    body = {"model": "tiny", "prompt": "Why is the sky blue?", "stream": stream}
    response = http.post("/api/generate", json=body)
    assert response.status_code == 200, response.text
    raws = parse_ndjson(response.content) if stream else [response.json()]
    replies = [strict(ollama.GenerateResponse, raw) for raw in raws]
    assert replies[-1].done and replies[-1].done_reason == "stop"
    assert "".join(r.response or "" for r in replies)


def test_ollama_stream_cut_midway_ends_with_an_error_line(http: httpx.Client) -> None:
    lines = parse_ndjson(http.post("/api/generate", json={"model": "cut", "prompt": "Hi"}).content)
    for line in lines[:-1]:
        strict(ollama.GenerateResponse, line)
    assert set(lines[-1]) == {"error"} and lines[-1]["error"]


def test_ollama_tags(http: httpx.Client) -> None:
    listing = strict(ollama.ListResponse, http.get("/api/tags").json(), OLLAMA_EXTRAS)
    assert {"llama3.2:latest", "tiny:latest"} <= {m.model for m in listing.models}


def test_ollama_show(http: httpx.Client) -> None:
    shown = strict(ollama.ShowResponse, http.post("/api/show", json={"model": "llama3.2"}).json())
    assert shown.modelinfo is not None and shown.modelinfo["general.architecture"] == "llama"
    assert shown.details is not None and shown.capabilities == ["completion"]


def test_ollama_ps(http: httpx.Client) -> None:
    assert strict(ollama.ProcessResponse, http.get("/api/ps").json()).models == []


def test_ollama_embed(http: httpx.Client) -> None:
    body = {"model": "embed-local", "input": ["Why is the sky blue?", "Why is the grass green?"]}
    reply = strict(ollama.EmbedResponse, http.post("/api/embed", json=body).json())
    assert len(reply.embeddings) == 2 and reply.prompt_eval_count
    legacy = http.post("/api/embeddings", json={"model": "embed-local", "prompt": "Why is the sky blue?"})
    assert strict(ollama.EmbeddingsResponse, legacy.json()).embedding == reply.embeddings[0]


def test_ollama_version(http: httpx.Client) -> None:
    body = http.get("/api/version").json()
    assert set(body) == {"version"} and re.fullmatch(r"\d+\.\d+\.\d+", body["version"])


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/chat", {"model": "no-such-model", "messages": [user("Hi")]}, 404),
        ("/api/chat", {"messages": [user("Hi")]}, 400),
        ("/api/generate", {"model": "limited", "prompt": "Hi", "stream": False}, 429),
        ("/api/show", {"model": "no-such-model"}, 404),
        ("/api/pull", {"model": "llama3.2"}, 501),
    ],
)
def test_ollama_errors(http: httpx.Client, path: str, body: JSON, status: int) -> None:
    response = http.post(path, json=body)
    assert response.status_code == status
    payload = response.json()
    assert set(payload) == {"error"} and isinstance(payload["error"], str) and payload["error"]
    # What the ollama client raises from such a reply.
    error = ollama.ResponseError(payload["error"], response.status_code)
    assert error.error == payload["error"] and error.status_code == status
