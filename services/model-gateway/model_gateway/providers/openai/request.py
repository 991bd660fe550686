"""Canonical GenerateRequest → the body of `POST /chat/completions` or, for a raw prompt, `/completions`.

The provider's flavor (flavors.py) decides what goes beyond OpenAI's
documented body: `top_k` and an Ollama client's `options` where the server
takes them, the caller's extras (provider_options) where it does not reject
unknown keys. Whatever stays out is named in `Translation.dropped`, which the
gateway sends back as the x-gateway-dropped-params header.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2

from model_gateway.errors import invalid
from model_gateway.providers.base import NO_SETTINGS, ModelSettings
from model_gateway.providers.images import sniff_mime
from model_gateway.providers.openai.flavors import (
    FOREIGN,
    GENERIC,
    OLLAMA_CANONICAL,
    REASONING_NONE_ALLOWS,
    REASONING_UNSUPPORTED,
    Flavor,
    is_reasoning_model,
    uses_max_completion_tokens,
)
from model_gateway.providers.readers import JSON
from model_gateway.providers.tool_args import parse_arguments
from model_gateway_common.structs import struct_to_dict
from model_gateway_common.vocab.openai import NAME_BY_ROLE
from modelgateway.v1 import gateway_pb2 as pb

CHAT_PATH = "/chat/completions"
COMPLETIONS_PATH = "/completions"

_TOOL_CHOICE: dict[int, str] = {
    pb.ToolChoice.MODE_AUTO: "auto",
    pb.ToolChoice.MODE_NONE: "none",
    pb.ToolChoice.MODE_REQUIRED: "required",
}

# Body keys the translator owns: provider_options may add extras, never replace these.
_RESERVED = frozenset({"model", "messages", "prompt", "input", "stream", "stream_options"})
_NO_KEYS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Translation:
    path: str  # CHAT_PATH or COMPLETIONS_PATH
    body: JSON
    dropped: list[str] = field(default_factory=list)  # request fields left out, by the request's names


def is_prompt_request(request: pb.GenerateRequest) -> bool:
    """A raw prompt goes to the legacy /completions endpoint, messages to /chat/completions."""
    return bool(request.prompt) and not request.messages


def translate(
    request: pb.GenerateRequest,
    model: str,
    stream: bool,
    flavor: Flavor = GENERIC,
    settings: ModelSettings = NO_SETTINGS,
) -> Translation:
    """The endpoint, its body for `flavor`'s server, and what had to stay out of it."""
    if is_prompt_request(request):
        body = _completion(request, model)
        return Translation(
            COMPLETIONS_PATH, body, _Fields(body, request, model, flavor, settings, stream).fill()
        )
    body = _chat(request, model, flavor)
    return Translation(CHAT_PATH, body, _Fields(body, request, model, flavor, settings, stream).fill())


def dropped_params(
    request: pb.GenerateRequest, model: str, flavor: Flavor = GENERIC, settings: ModelSettings = NO_SETTINGS
) -> list[str]:
    """What `translate` leaves out, without building the messages (sampling and extras only)."""
    return _Fields({}, request, model, flavor, settings, stream=False).fill()


def request_body(
    request: pb.GenerateRequest,
    model: str,
    stream: bool,
    flavor: Flavor = GENERIC,
    settings: ModelSettings = NO_SETTINGS,
) -> tuple[str, JSON]:
    """The endpoint and its body."""
    translation = translate(request, model, stream, flavor, settings)
    return translation.path, translation.body


def chat_body(
    request: pb.GenerateRequest,
    model: str,
    stream: bool,
    flavor: Flavor = GENERIC,
    settings: ModelSettings = NO_SETTINGS,
) -> JSON:
    body = _chat(request, model, flavor)
    _Fields(body, request, model, flavor, settings, stream, chat=True).fill()
    return body


def completion_body(
    request: pb.GenerateRequest,
    model: str,
    stream: bool,
    flavor: Flavor = GENERIC,
    settings: ModelSettings = NO_SETTINGS,
) -> JSON:
    """The legacy completions body for a raw prompt; `system` is prepended to the prompt."""
    body = _completion(request, model)
    _Fields(body, request, model, flavor, settings, stream, chat=False).fill()
    return body


def _chat(request: pb.GenerateRequest, model: str, flavor: Flavor) -> JSON:
    messages = [_message(i, m, request, flavor.message_names) for i, m in enumerate(request.messages)]
    if request.system:  # the canonical request keeps it apart; Chat Completions wants a message
        messages.insert(0, {"role": "system", "content": request.system})
    body: JSON = {"model": model, "messages": messages}
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    choice = _tool_choice(request.tool_choice)
    if choice is not None:
        body["tool_choice"] = choice
    return body


def _completion(request: pb.GenerateRequest, model: str) -> JSON:
    if request.tools:
        raise invalid("tools", "tools need chat messages; a raw prompt cannot call tools")
    prompt = f"{request.system}\n\n{request.prompt}" if request.system else request.prompt
    return {"model": model, "prompt": prompt}


class _Fields:
    """Fills a body's keys beyond messages and tools for one flavor, naming what the server cannot take."""

    __slots__ = (
        "body",
        "chat",
        "dropped",
        "flavor",
        "keys",
        "model",
        "refused",
        "request",
        "settings",
        "stream",
    )

    def __init__(
        self,
        body: JSON,
        request: pb.GenerateRequest,
        model: str,
        flavor: Flavor,
        settings: ModelSettings,
        stream: bool,
        chat: bool | None = None,
    ) -> None:
        self.body, self.request, self.model, self.flavor = body, request, model, flavor
        self.settings, self.stream = settings, stream
        self.chat = not is_prompt_request(request) if chat is None else chat
        self.keys: frozenset[str] | None = flavor.chat_keys if self.chat else flavor.completion_keys
        self.refused: Collection[str] = _NO_KEYS
        self.dropped: list[str] = []

    def put(self, key: str, value: Any, name: str = "") -> None:
        """Set `key` unless the server would reject it; then name it (by `name`, the request's own)."""
        if key in self.refused or (self.keys is not None and key not in self.keys):
            self.drop(name or key)
        else:
            self.body[key] = value

    def drop(self, name: str) -> None:
        if name not in self.dropped:
            self.dropped.append(name)

    def fill(self) -> list[str]:
        request, options = self.request, self.settings.options
        extras = struct_to_dict(request.provider_options) if request.provider_options.fields else {}
        if self.chat and is_reasoning_model(self.model, options, self.flavor):
            allowed = REASONING_NONE_ALLOWS if extras.get("reasoning_effort") == "none" else _NO_KEYS
            self.refused = REASONING_UNSUPPORTED - allowed
        if (
            self.chat
            and not self.flavor.message_names
            and any(m.name for m in request.messages if m.role != pb.ROLE_TOOL)
        ):
            self.drop("messages[].name")
        response_format = _response_format(request.response_format)
        if response_format is not None:
            # Not in OpenAI's legacy completions, but vLLM and llama.cpp honour it there.
            self.put("response_format", response_format)
        self._sampling(options)
        if request.user:
            self.put("user", request.user)
        if self.stream:
            self.body["stream"] = True
            # Without this OpenAI sends no usage in a stream; compatible servers ignore or honour it.
            self.body["stream_options"] = {"include_usage": True}
        self._extras(extras)
        return self.dropped

    def _sampling(self, options: Mapping[str, Any]) -> None:
        sampling = self.request.sampling
        for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed"):
            if sampling.HasField(name):
                self.put(name, getattr(sampling, name))
        if sampling.HasField("max_tokens"):
            if self.chat and uses_max_completion_tokens(options, self.flavor):
                self.put("max_completion_tokens", sampling.max_tokens, "max_tokens")
            else:
                self.put("max_tokens", sampling.max_tokens)
        if sampling.HasField("top_k"):
            # Not OpenAI-standard: sent only to servers that take it.
            wire = self.flavor.extras.get("top_k")
            if wire is None:
                self.drop("top_k")
            else:
                self.put(wire, sampling.top_k, "top_k")
        if sampling.stop:
            self.put("stop", list(sampling.stop))

    def _extras(self, extras: Mapping[str, Any]) -> None:
        """provider_options: an Ollama client's `options` one by one, other dialects' keys out, the rest
        where the server takes it (extras may replace a translated sampling value, as vLLM users expect)."""
        for key, value in extras.items():
            if key in _RESERVED:
                self.drop(key)
            elif key == "options" and isinstance(value, dict):
                self._ollama_options(value, extras)
            elif key in FOREIGN and not (self.keys is not None and key in self.keys):
                self.drop(key)
            else:
                self.put(key, value)

    def _ollama_options(self, options: Mapping[str, Any], extras: Mapping[str, Any]) -> None:
        for name, value in options.items():
            if name in OLLAMA_CANONICAL:
                continue  # the canonical sampling carries it
            wire = self.flavor.extras.get(name)
            if wire is None:
                self.drop(f"options.{name}")
            elif wire not in extras:  # the caller's own top-level key wins
                self.put(wire, value, f"options.{name}")


def merge_provider_options(
    body: JSON, options: struct_pb2.Struct, keys: frozenset[str] | None = None
) -> list[str]:
    """Extras such as vLLM's truncate_prompt_tokens go through; the translator's own keys and other
    dialects' stay out, and so does a key `keys` (a strict server's documented ones) lacks. Returns those."""
    dropped: list[str] = []
    if options.fields:
        for key, value in struct_to_dict(options).items():
            if key in _RESERVED or key in FOREIGN or (keys is not None and key not in keys):
                dropped.append(key)
            else:
                body[key] = value
    return dropped


def _message(i: int, message: pb.Message, request: pb.GenerateRequest, names: bool = True) -> JSON:
    role = NAME_BY_ROLE.get(message.role)
    if role is None:
        raise invalid(f"messages[{i}].role", f"unsupported role {message.role}")
    out: JSON = {"role": role}
    content = _content(i, message.content)
    if message.tool_calls:
        out["tool_calls"] = [_tool_call(i, j, call) for j, call in enumerate(message.tool_calls)]
        # The spec allows null content on an assistant turn that only calls tools.
        out["content"] = content or None
    else:
        out["content"] = content
    if role == "tool":
        # The spec's tool message has no `name` (OpenAI rejects unknown message keys).
        out["tool_call_id"] = message.tool_call_id or _tool_call_id_by_name(i, message.name, request)
    elif message.name and names:
        out["name"] = message.name
    return out


def _content(i: int, parts: Iterable[pb.ContentPart]) -> str | list[JSON]:
    # Reasoning parts (another provider's signed thinking, OpenAI's encrypted reasoning) have
    # no place in a Chat Completions message: the visible text already travels in `content`.
    parts = [part for part in parts if not part.HasField("reasoning")]
    if not parts:
        return ""
    if len(parts) == 1 and parts[0].HasField("text"):
        return parts[0].text
    out: list[JSON] = []
    for j, part in enumerate(parts):
        if part.HasField("text"):
            out.append({"type": "text", "text": part.text})
        elif part.HasField("image"):
            out.append(
                {"type": "image_url", "image_url": _image(f"messages[{i}].content[{j}].image", part.image)}
            )
        else:
            raise invalid(f"messages[{i}].content[{j}]", "a content part needs text or an image")
    return out


def _image(where: str, image: pb.ImagePart) -> JSON:
    if image.HasField("url"):
        url = image.url
    elif image.HasField("data"):
        mime = image.mime_type or sniff_mime(image.data)
        if not mime:
            raise invalid(f"{where}.mime_type", "is required for image bytes of an unrecognised type")
        url = f"data:{mime};base64,{base64.b64encode(image.data).decode('ascii')}"
    else:
        raise invalid(where, "an image needs a url or data")
    out: JSON = {"url": url}
    if image.detail:
        out["detail"] = image.detail
    return out


def _tool_call(i: int, j: int, call: pb.ToolCall) -> JSON:
    # Checked as JSON (any value, as before); an empty string means "no arguments",
    # which OpenAI itself sends as "{}".
    parse_arguments(call.arguments, f"messages[{i}].tool_calls[{j}].arguments")
    arguments = call.arguments or "{}"
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _tool_call_id_by_name(i: int, name: str, request: pb.GenerateRequest) -> str:
    """OpenAI requires tool_call_id; a result that only names its tool answers that tool's latest call."""
    for message in reversed(request.messages[:i]):
        for call in reversed(message.tool_calls):
            if name and call.name == name and call.id:
                return call.id
    raise invalid(
        f"messages[{i}].tool_call_id", "is required on a tool result for OpenAI-compatible upstreams"
    )


def _tool(tool: pb.Tool) -> JSON:
    function: JSON = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.HasField("parameters"):
        function["parameters"] = struct_to_dict(tool.parameters)
    if tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(choice: pb.ToolChoice) -> str | JSON | None:
    if choice.mode == pb.ToolChoice.MODE_FUNCTION:
        if not choice.function_name:
            raise invalid("tool_choice.function_name", "is required when the mode is FUNCTION")
        return {"type": "function", "function": {"name": choice.function_name}}
    return _TOOL_CHOICE.get(choice.mode)


def _response_format(response_format: pb.ResponseFormat) -> JSON | None:
    # TEXT is every server's default, so it is left out rather than risk a server that rejects it.
    if response_format.type == pb.ResponseFormat.TYPE_JSON_OBJECT:
        return {"type": "json_object"}
    if response_format.type == pb.ResponseFormat.TYPE_JSON_SCHEMA:
        schema: JSON = {
            "name": response_format.schema_name or "response",  # required by the spec
            "schema": struct_to_dict(response_format.schema),
            "strict": response_format.strict,
        }
        return {"type": "json_schema", "json_schema": schema}
    return None
