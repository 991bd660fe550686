"""api.openai.com's request checks, for the fake OpenAI server's `strict-` models.

A model named `strict-<model>` is served as `<model>` (its cues included:
`strict-fail-429` is `fail-429`), after the body passed the checks the real
API makes before it answers:

- a top-level key the endpoint does not define → 400 "Unrecognized request
  argument supplied: <key>" (chat, legacy completions, embeddings; the
  parameter lists of openai-python's `*_create_params`);
- a message key its role does not define (`name` on a tool message) → 400;
- on a reasoning model (o1, o3, o4-mini, codex-mini, gpt-5 but not
  gpt-5-chat): `max_tokens` → 400 "Use 'max_completion_tokens' instead",
  `temperature` or `top_p` other than 1 → 400 unsupported value, and the
  penalties, logprobs and logit_bias → 400 unsupported parameter.

Each check returns the error (status, message, type, param, code) or None;
openai_server.py turns it into the API's error body.
"""

from __future__ import annotations

import re
from typing import Any

STRICT_PREFIX = "strict-"

Problem = tuple[int, str, str, str | None, str | None]  # status, message, type, param, code

CHAT_KEYS = frozenset(
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
COMPLETION_KEYS = frozenset(
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
EMBEDDING_KEYS = frozenset({"model", "input", "dimensions", "encoding_format", "user"})
KEYS_BY_PATH = {
    "/v1/chat/completions": CHAT_KEYS,
    "/v1/completions": COMPLETION_KEYS,
    "/v1/embeddings": EMBEDDING_KEYS,
}
# openai-python's ChatCompletion*MessageParam, by role.
MESSAGE_KEYS = {
    "developer": frozenset({"role", "content", "name"}),
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset({"role", "content", "name", "tool_calls", "refusal", "audio", "function_call"}),
    "tool": frozenset({"role", "content", "tool_call_id"}),
    "function": frozenset({"role", "content", "name"}),
}
REASONING_MODEL = re.compile(r"^(o\d|codex-mini|gpt-5(?!-chat))")
_UNSUPPORTED_ON_REASONING = (
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "logit_bias",
)


def is_strict(model: str) -> bool:
    return model.startswith(STRICT_PREFIX)


def served_model(model: str) -> str:
    return model.removeprefix(STRICT_PREFIX)


def _bad(message: str, param: str | None = None, code: str | None = None) -> Problem:
    return 400, message, "invalid_request_error", param, code


def check(path: str, body: dict[str, Any]) -> Problem | None:
    """The 400 api.openai.com gives this body, or None."""
    keys = KEYS_BY_PATH.get(path)
    if keys is not None:
        unknown = sorted(set(body) - keys)
        if unknown:
            return _bad(f"Unrecognized request argument supplied: {unknown[0]}")
    if path != "/v1/chat/completions":
        return None
    for i, message in enumerate(body.get("messages") or ()):
        if not isinstance(message, dict):
            continue
        allowed = MESSAGE_KEYS.get(str(message.get("role")))
        if allowed is None:
            return _bad(
                f"Invalid value: '{message.get('role')}'. Supported values are: 'system', 'assistant', "
                "'user', 'function', 'tool', and 'developer'.",
                f"messages[{i}].role",
                "invalid_value",
            )
        extra = sorted(set(message) - allowed)
        if extra:
            return _bad(
                f"Additional properties are not allowed ('{extra[0]}' was unexpected) - 'messages.{i}'"
            )
    if REASONING_MODEL.match(served_model(str(body.get("model", "")))):
        return _reasoning(body)
    return None


def _reasoning(body: dict[str, Any]) -> Problem | None:
    if "max_tokens" in body:
        return _bad(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    for name in ("temperature", "top_p"):
        if name in body and body[name] != 1:
            return _bad(
                f"Unsupported value: '{name}' does not support {body[name]} with this model. "
                "Only the default (1) value is supported.",
                name,
                "unsupported_value",
            )
    for name in _UNSUPPORTED_ON_REASONING:
        if name in body:
            return _bad(
                f"Unsupported parameter: '{name}' is not supported with this model.",
                name,
                "unsupported_parameter",
            )
    return None
