"""OpenAI-compatible is not one dialect: what each server takes beyond OpenAI's documented body.

A provider's `flavor` (config, or inferred from the base URL's host) picks
one `Flavor`. It says

- which sampling parameters outside OpenAI's spec the server takes, and by
  which name: `top_k`, and the Ollama `options` (min_p, repeat_penalty, ...)
  that an Ollama client sends (`extras`);
- whether the server rejects parameters it does not define. api.openai.com,
  Groq and TGI do (a 400 or 422): for them only the documented keys are sent
  (`chat_keys` / `completion_keys`) and anything else is dropped and named.
  Servers that ignore what they do not know (vLLM, llama.cpp, LM Studio,
  OpenRouter, and `generic` for unknown hosts) get the caller's extras as
  they came;
- whether chat bodies say `max_completion_tokens` (OpenAI: every chat model
  takes it, the o-series and gpt-5 reject `max_tokens`) and whether OpenAI's
  reasoning-model rules apply (no temperature, top_p, penalties, logprobs).

Other dialects' own keys (Ollama's `keep_alive`, `think`; the Messages API's
`thinking`, `mcp_servers`; Gemini's `safetySettings`) never reach an
OpenAI-compatible upstream: they are dropped and named whatever the flavor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, get_args
from urllib.parse import urlsplit

from model_gateway.config import OpenAIFlavor, ProviderConfig
from model_gateway_common.vocab.anthropic import MESSAGES_EXTRAS

FLAVORS: tuple[str, ...] = get_args(OpenAIFlavor)

# Hosts whose server is known for certain; any other host is `generic`. Local
# servers (vLLM on :8000, llama.cpp on :8080, LM Studio on :1234) share ports
# with too much else to be guessed: say `flavor:` in the config.
_BY_HOST: Mapping[str, str] = {
    "api.openai.com": "openai",
    "api.groq.com": "groq",
    "openrouter.ai": "openrouter",
    # The HuggingFace Inference Providers router and the serverless API speak
    # TGI's Messages API (huggingface.js `ChatCompletionInput`).
    "router.huggingface.co": "tgi",
    "api-inference.huggingface.co": "tgi",
}

# openai-python 1.x `completion_create_params` (chat) and the legacy completions' params.
_OPENAI_CHAT = frozenset(
    {
        "model",
        "messages",
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "moderation",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)
_OPENAI_COMPLETIONS = frozenset(
    {
        "model",
        "prompt",
        "best_of",
        "echo",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_tokens",
        "n",
        "presence_penalty",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "suffix",
        "temperature",
        "top_p",
        "user",
    }
)
# console.groq.com/docs/api-reference: OpenAI's parameters less those Groq answers 400 to
# (console.groq.com/docs/openai: logprobs, logit_bias, top_logprobs), plus its own.
_GROQ_CHAT = (_OPENAI_CHAT - {"logprobs", "logit_bias", "top_logprobs"}) | {
    "reasoning_format",
    "include_reasoning",
    "search_settings",
    "documents",
    "citation_options",
    "compound_custom",
    "disable_tool_validation",
}
# TGI's Messages API (router/src/lib.rs `ChatRequest`, huggingface.js `ChatCompletionInput`)
# and its /v1/completions (`CompletionRequest`).
_TGI_CHAT = frozenset(
    {
        "model",
        "messages",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_tokens",
        "n",
        "presence_penalty",
        "reasoning_effort",
        "response_format",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tool_prompt",
        "tools",
        "top_logprobs",
        "top_p",
    }
)
_TGI_COMPLETIONS = frozenset(
    {
        "model",
        "prompt",
        "frequency_penalty",
        "max_tokens",
        "repetition_penalty",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "suffix",
        "temperature",
        "top_p",
    }
)

# Keys of other dialects that no OpenAI-compatible server defines: Ollama's
# top-level request fields (its `options` are read one by one, below), the
# Messages API's (vocab/anthropic.py), Gemini's.
OLLAMA_ONLY = frozenset(
    {"options", "keep_alive", "think", "raw", "template", "context", "suffix", "format", "images"}
)
FOREIGN = OLLAMA_ONLY | MESSAGES_EXTRAS | {"anthropic_beta", "betas", "safetySettings", "cachedContent"}

# Ollama `options` with a canonical place (the Ollama front door fills `sampling` from them).
OLLAMA_CANONICAL = frozenset(
    {"temperature", "top_p", "top_k", "num_predict", "seed", "stop", "presence_penalty", "frequency_penalty"}
)

# OpenAI's reasoning models (o1, o3, o4-mini, codex-mini, gpt-5 but not gpt-5-chat) reject these.
REASONING_UNSUPPORTED = frozenset(
    {
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "logit_bias",
    }
)
# ... except that gpt-5.1 and later take these with `reasoning_effort: "none"`.
REASONING_NONE_ALLOWS = frozenset({"temperature", "top_p", "logprobs", "top_logprobs"})
_REASONING_MODEL = re.compile(r"^(o\d|codex-mini|gpt-5(?!-chat))")


def _names(*pairs: tuple[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(pairs))


@dataclass(frozen=True, slots=True)
class Flavor:
    name: str
    # Sampling parameters beyond OpenAI's that the server takes: the canonical
    # `top_k` or an Ollama option name → the server's name for it.
    extras: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The documented top-level keys of a server that rejects others; None: it ignores what it does not know.
    chat_keys: frozenset[str] | None = None
    completion_keys: frozenset[str] | None = None
    max_completion_tokens: bool = False  # chat bodies say max_completion_tokens
    reasoning_rules: bool = False  # OpenAI's reasoning-model parameter rules, by model name
    message_names: bool = True  # `messages[].name` (Groq answers 400 to it)

    @property
    def strict(self) -> bool:
        return self.chat_keys is not None


_LLAMA_CPP_OPTIONS = (
    ("top_k", "top_k"),
    ("min_p", "min_p"),
    ("typical_p", "typical_p"),
    ("repeat_penalty", "repeat_penalty"),
    ("repeat_last_n", "repeat_last_n"),
    ("mirostat", "mirostat"),
    ("mirostat_tau", "mirostat_tau"),
    ("mirostat_eta", "mirostat_eta"),
)

BY_NAME: Mapping[str, Flavor] = MappingProxyType(
    {
        "openai": Flavor(
            "openai",
            chat_keys=_OPENAI_CHAT,
            completion_keys=_OPENAI_COMPLETIONS,
            max_completion_tokens=True,
            reasoning_rules=True,
        ),
        "groq": Flavor(
            "groq",
            chat_keys=_GROQ_CHAT,
            completion_keys=_GROQ_CHAT,  # Groq has no /completions; its 404 says so
            max_completion_tokens=True,
            message_names=False,
        ),
        "tgi": Flavor("tgi", chat_keys=_TGI_CHAT, completion_keys=_TGI_COMPLETIONS),
        # vLLM's SamplingParams extras (docs.vllm.ai, "Extra parameters").
        "vllm": Flavor(
            "vllm",
            _names(("top_k", "top_k"), ("min_p", "min_p"), ("repeat_penalty", "repetition_penalty")),
        ),
        # llama.cpp's server reads its /completion parameters on /v1/chat/completions too.
        "llamacpp": Flavor("llamacpp", _names(*_LLAMA_CPP_OPTIONS)),
        # LM Studio's documented payload: top_k and repeat_penalty beside OpenAI's.
        "lmstudio": Flavor("lmstudio", _names(("top_k", "top_k"), ("repeat_penalty", "repeat_penalty"))),
        # OpenRouter normalises these across its providers and ignores what a model cannot use.
        "openrouter": Flavor(
            "openrouter",
            _names(("top_k", "top_k"), ("min_p", "min_p"), ("repeat_penalty", "repetition_penalty")),
        ),
        # An unknown server: top_k as asked for (most self-hosted servers take it), extras as they came.
        "generic": Flavor("generic", _names(("top_k", "top_k"))),
    }
)
GENERIC = BY_NAME["generic"]


def inferred(base_url: str) -> str:
    """The flavor of a base URL's host, `generic` for any host not known for certain."""
    host = (urlsplit(base_url).hostname or "").lower().rstrip(".")
    return _BY_HOST.get(host, "generic")


def flavor_of(config: ProviderConfig) -> Flavor:
    """The configured flavor, else TGI for the huggingface kind, else the one of the base URL's host."""
    if config.flavor is not None:
        return BY_NAME[config.flavor]
    if config.kind == "huggingface":
        return BY_NAME["tgi"]
    return BY_NAME[inferred(config.url)]


def is_reasoning_model(model: str, options: Mapping[str, Any], flavor: Flavor) -> bool:
    """OpenAI's reasoning-model rules apply: the model option `reasoning_model`, else the name rule."""
    option = options.get("reasoning_model")
    if isinstance(option, bool):
        return option
    return flavor.reasoning_rules and bool(_REASONING_MODEL.match(model.lower()))


def uses_max_completion_tokens(options: Mapping[str, Any], flavor: Flavor) -> bool:
    """Chat bodies say max_completion_tokens: the model option, else the flavor's rule."""
    option = options.get("max_completion_tokens")
    return option if isinstance(option, bool) else flavor.max_completion_tokens
