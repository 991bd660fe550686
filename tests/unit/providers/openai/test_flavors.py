"""OpenAI-compatible flavors (providers/openai/flavors.py, request.py): what each server is sent,
and what is dropped and named instead. Table-driven over the flavors; the dropped list must be
the same whether asked of the translation or of the cheap `dropped_params`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from google.protobuf import json_format

from model_gateway.config import ProviderConfig, parse_config
from model_gateway.providers.base import ModelSettings
from model_gateway.providers.openai.flavors import BY_NAME, FLAVORS, flavor_of, inferred
from model_gateway.providers.openai.request import dropped_params, translate
from modelgateway.v1 import gateway_pb2 as pb

# --- which flavor -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "flavor"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://API.OpenAI.com:443/v1", "openai"),
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("https://router.huggingface.co/v1", "tgi"),
        ("https://api-inference.huggingface.co/v1", "tgi"),
        # Never guessed: a port says nothing certain about the server behind it.
        ("http://127.0.0.1:8000/v1", "generic"),
        ("http://localhost:1234/v1", "generic"),
        ("http://gpu-box:8080/v1", "generic"),
        ("https://api.openai.com.evil.example/v1", "generic"),
        ("https://my-space.hf.space/v1", "generic"),
    ],
)
def test_the_flavor_is_inferred_only_from_hosts_known_for_certain(base_url: str, flavor: str) -> None:
    assert inferred(base_url) == flavor


def test_configured_flavor_wins_and_huggingface_is_tgi() -> None:
    assert flavor_of(ProviderConfig(kind="openai")).name == "openai"  # the default base URL
    assert flavor_of(ProviderConfig(kind="openai", base_url="http://127.0.0.1:8000/v1")).name == "generic"
    assert (
        flavor_of(ProviderConfig(kind="openai", base_url="http://127.0.0.1:8000/v1", flavor="vllm")).name
        == "vllm"
    )
    assert flavor_of(ProviderConfig(kind="huggingface")).name == "tgi"
    assert flavor_of(ProviderConfig(kind="huggingface", flavor="vllm")).name == "vllm"


MODELS = "\nmodels: [{name: m, deployments: [{provider: p, model: x}]}]"


def test_flavor_is_refused_on_other_kinds_naming_the_key() -> None:
    with pytest.raises(Exception, match=r"providers\.p\.flavor: .*openai and huggingface kinds, not ollama"):
        parse_config("providers: {p: {kind: ollama, flavor: vllm}}" + MODELS)
    with pytest.raises(Exception, match=r"providers\.p\.flavor"):
        parse_config("providers: {p: {kind: openai, flavor: azure}}" + MODELS)


# --- what is sent, what is dropped ------------------------------------------------------------


def chat(
    sampling: dict[str, Any] | None = None, options: dict[str, Any] | None = None, **extra: Any
) -> pb.GenerateRequest:
    data: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "ROLE_USER", "content": [{"text": "hi"}]}],
        **extra,
    }
    if sampling:
        data["sampling"] = sampling
    if options:
        data["providerOptions"] = options
    return json_format.ParseDict(data, pb.GenerateRequest())


# An Ollama client: options.top_k fills the canonical top_k; the whole options object rides along.
OLLAMA = chat(
    {"temperature": 0.5, "topK": 5},
    {
        "options": {"temperature": 0.5, "top_k": 5, "num_ctx": 4096, "min_p": 0.05, "repeat_penalty": 1.1},
        "keep_alive": "5m",
    },
)
# An OpenAI SDK's extras (extra_body, or parameters the canonical schema has no place for).
OPENAI_EXTRAS = chat(
    options={
        "min_p": 0.05,
        "logit_bias": {"50256": -100},
        "parallel_tool_calls": False,
        "repetition_penalty": 1.1,
    }
)
# What the Anthropic front door passes along.
MESSAGES_EXTRAS = chat(
    options={"thinking": {"type": "enabled", "budget_tokens": 1024}, "anthropic-beta": ["x"]}
)


@dataclass
class Case:
    name: str
    flavor: str
    request: pb.GenerateRequest
    sent: dict[str, Any]  # keys that must be in the body, with their values
    dropped: set[str]
    model: str = "some-model"
    options: dict[str, Any] = field(default_factory=dict)  # the model's config options
    absent: set[str] = field(default_factory=set)  # keys that must not be in the body


CASES = [
    Case(
        "ollama options to api.openai.com: nothing beyond OpenAI's own",
        "openai",
        OLLAMA,
        {"temperature": 0.5},
        {"top_k", "options.num_ctx", "options.min_p", "options.repeat_penalty", "keep_alive"},
        absent={"top_k", "min_p", "repeat_penalty", "repetition_penalty", "options", "keep_alive", "num_ctx"},
    ),
    Case(
        "ollama options to Groq",
        "groq",
        OLLAMA,
        {"temperature": 0.5},
        {"top_k", "options.num_ctx", "options.min_p", "options.repeat_penalty", "keep_alive"},
    ),
    Case(
        "ollama options to TGI",
        "tgi",
        OLLAMA,
        {"temperature": 0.5},
        {"top_k", "options.num_ctx", "options.min_p", "options.repeat_penalty", "keep_alive"},
    ),
    Case(
        "ollama options to vLLM: its names",
        "vllm",
        OLLAMA,
        {"top_k": 5, "min_p": 0.05, "repetition_penalty": 1.1},
        {"options.num_ctx", "keep_alive"},
        absent={"repeat_penalty"},
    ),
    Case(
        "ollama options to llama.cpp: its names",
        "llamacpp",
        OLLAMA,
        {"top_k": 5, "min_p": 0.05, "repeat_penalty": 1.1},
        {"options.num_ctx", "keep_alive"},
    ),
    Case(
        "ollama options to LM Studio: top_k and repeat_penalty",
        "lmstudio",
        OLLAMA,
        {"top_k": 5, "repeat_penalty": 1.1},
        {"options.num_ctx", "options.min_p", "keep_alive"},
    ),
    Case(
        "ollama options to OpenRouter",
        "openrouter",
        OLLAMA,
        {"top_k": 5, "min_p": 0.05, "repetition_penalty": 1.1},
        {"options.num_ctx", "keep_alive"},
    ),
    Case(
        "ollama options to an unknown server: top_k as before",
        "generic",
        OLLAMA,
        {"top_k": 5},
        {"options.num_ctx", "options.min_p", "options.repeat_penalty", "keep_alive"},
    ),
    Case(
        "OpenAI extras to api.openai.com: the documented ones",
        "openai",
        OPENAI_EXTRAS,
        {"logit_bias": {"50256": -100}, "parallel_tool_calls": False},
        {"min_p", "repetition_penalty"},
    ),
    Case(
        "OpenAI extras to Groq: logit_bias is a 400 there",
        "groq",
        OPENAI_EXTRAS,
        {"parallel_tool_calls": False},
        {"min_p", "repetition_penalty", "logit_bias"},
    ),
    Case(
        "OpenAI extras to vLLM: as they came",
        "vllm",
        OPENAI_EXTRAS,
        {"min_p": 0.05, "repetition_penalty": 1.1, "logit_bias": {"50256": -100}},
        set(),
    ),
    Case(
        "Messages API extras go nowhere but Anthropic",
        "vllm",
        MESSAGES_EXTRAS,
        {},
        {"thinking", "anthropic-beta"},
        absent={"thinking", "anthropic-beta"},
    ),
    Case("... not to OpenAI either", "openai", MESSAGES_EXTRAS, {}, {"thinking", "anthropic-beta"}),
    Case(
        "max_tokens is max_completion_tokens on OpenAI",
        "openai",
        chat({"maxTokens": 50}),
        {"max_completion_tokens": 50},
        set(),
        absent={"max_tokens"},
    ),
    Case(
        "... and on Groq",
        "groq",
        chat({"maxTokens": 50}),
        {"max_completion_tokens": 50},
        set(),
        absent={"max_tokens"},
    ),
    Case("... not on vLLM", "vllm", chat({"maxTokens": 50}), {"max_tokens": 50}, set()),
    Case(
        "... unless the model says so",
        "generic",
        chat({"maxTokens": 50}),
        {"max_completion_tokens": 50},
        set(),
        options={"max_completion_tokens": True},
        absent={"max_tokens"},
    ),
    Case(
        "... or says not",
        "openai",
        chat({"maxTokens": 50}),
        {"max_tokens": 50},
        set(),
        options={"max_completion_tokens": False},
    ),
    Case(
        "an o-series model takes no temperature, top_p or penalties",
        "openai",
        chat(
            {"temperature": 0.2, "topP": 0.9, "presencePenalty": 0.1, "maxTokens": 50, "seed": 1},
            {"logprobs": True, "reasoning_effort": "low"},
        ),
        {"max_completion_tokens": 50, "seed": 1, "reasoning_effort": "low"},
        {"temperature", "top_p", "presence_penalty", "logprobs"},
        model="o3-mini",
    ),
    Case(
        "gpt-5 with reasoning_effort none takes temperature and top_p",
        "openai",
        chat({"temperature": 0.2, "topP": 0.9, "frequencyPenalty": 0.1}, {"reasoning_effort": "none"}),
        {"temperature": 0.2, "top_p": 0.9},
        {"frequency_penalty"},
        model="gpt-5.1",
    ),
    Case(
        "gpt-5-chat is not a reasoning model",
        "openai",
        chat({"temperature": 0.2}),
        {"temperature": 0.2},
        set(),
        model="gpt-5-chat-latest",
    ),
    Case(
        "a model option marks a reasoning model anywhere",
        "generic",
        chat({"temperature": 0.2}),
        {},
        {"temperature"},
        model="my-o3-proxy",
        options={"reasoning_model": True},
    ),
    Case(
        "Groq answers 400 to messages[].name",
        "groq",
        chat(messages=[{"role": "ROLE_USER", "name": "alice", "content": [{"text": "hi"}]}]),
        {},
        {"messages[].name"},
    ),
    Case("TGI defines no user", "tgi", chat(user="u-1"), {}, {"user"}, absent={"user"}),
    Case(
        "the translator's own keys are never replaced, and said so",
        "vllm",
        chat(options={"model": "x", "stream": True, "min_p": 0.1}),
        {"model": "some-model", "min_p": 0.1},
        {"model", "stream"},
        absent={"stream"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_what_each_flavor_sends_and_drops(case: Case) -> None:
    flavor = BY_NAME[case.flavor]
    settings = ModelSettings("m", options=case.options)
    translation = translate(case.request, case.model, False, flavor, settings)
    body = translation.body
    for key, value in case.sent.items():
        assert body.get(key) == value, (key, body)
    assert not case.absent & body.keys(), body
    assert set(translation.dropped) == case.dropped
    assert len(translation.dropped) == len(set(translation.dropped))  # each named once
    assert dropped_params(case.request, case.model, flavor, settings) == translation.dropped


def test_groq_messages_lose_their_names() -> None:
    request = chat(messages=[{"role": "ROLE_USER", "name": "alice", "content": [{"text": "hi"}]}])
    body = translate(request, "llama-3.3-70b-versatile", False, BY_NAME["groq"]).body
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert translate(request, "m", False, BY_NAME["openai"]).body["messages"][0]["name"] == "alice"


def test_a_strict_server_gets_no_response_format_on_legacy_completions() -> None:
    request = json_format.ParseDict(
        {
            "model": "m",
            "prompt": "Say hi",
            "responseFormat": {"type": "TYPE_JSON_OBJECT"},
            "sampling": {"topK": 3},
        },
        pb.GenerateRequest(),
    )
    openai = translate(request, "gpt-3.5-turbo-instruct", False, BY_NAME["openai"])
    assert openai.path == "/completions" and "response_format" not in openai.body
    assert openai.body["model"] == "gpt-3.5-turbo-instruct" and "max_completion_tokens" not in openai.body
    assert set(openai.dropped) == {"response_format", "top_k"}
    vllm = translate(request, "m", False, BY_NAME["vllm"])
    assert (
        vllm.body["response_format"] == {"type": "json_object"}
        and vllm.body["top_k"] == 3
        and not vllm.dropped
    )


def test_a_stream_still_asks_for_usage_on_every_flavor() -> None:
    for name in FLAVORS:
        body = translate(chat(), "m", True, BY_NAME[name]).body
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}, name


def test_nothing_to_drop_is_an_empty_list() -> None:
    for name in FLAVORS:
        assert dropped_params(chat({"temperature": 0.3, "maxTokens": 9}), "m", BY_NAME[name]) == [], name
