"""Canonical GenerateRequest → the body of `POST /chat/completions` or, for a raw prompt, `/completions`."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from google.protobuf import struct_pb2

from model_gateway.errors import invalid
from model_gateway.providers.images import sniff_mime
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
# Ollama-native options (what the Ollama surface passes through): meaningless
# here, and OpenAI itself rejects unknown parameters with a 400.
_OLLAMA_ONLY = frozenset({"options", "keep_alive", "think", "raw", "template", "context", "suffix", "format"})


def is_prompt_request(request: pb.GenerateRequest) -> bool:
    """A raw prompt goes to the legacy /completions endpoint, messages to /chat/completions."""
    return bool(request.prompt) and not request.messages


def request_body(request: pb.GenerateRequest, model: str, stream: bool) -> tuple[str, JSON]:
    """The endpoint and its body."""
    if is_prompt_request(request):
        return COMPLETIONS_PATH, completion_body(request, model, stream)
    return CHAT_PATH, chat_body(request, model, stream)


def chat_body(request: pb.GenerateRequest, model: str, stream: bool) -> JSON:
    messages = [_message(i, m, request) for i, m in enumerate(request.messages)]
    if request.system:  # the canonical request keeps it apart; Chat Completions wants a message
        messages.insert(0, {"role": "system", "content": request.system})
    body: JSON = {"model": model, "messages": messages}
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    choice = _tool_choice(request.tool_choice)
    if choice is not None:
        body["tool_choice"] = choice
    response_format = _response_format(request.response_format)
    if response_format is not None:
        body["response_format"] = response_format
    _common(body, request, stream)
    return body


def completion_body(request: pb.GenerateRequest, model: str, stream: bool) -> JSON:
    """The legacy completions body for a raw prompt; `system` is prepended to the prompt."""
    if request.tools:
        raise invalid("tools", "tools need chat messages; a raw prompt cannot call tools")
    prompt = f"{request.system}\n\n{request.prompt}" if request.system else request.prompt
    body: JSON = {"model": model, "prompt": prompt}
    response_format = _response_format(request.response_format)
    if response_format is not None:
        # Not in OpenAI's legacy spec, but vLLM and llama.cpp honour it on /completions.
        body["response_format"] = response_format
    _common(body, request, stream)
    return body


def _common(body: JSON, request: pb.GenerateRequest, stream: bool) -> None:
    sampling = request.sampling
    for field in ("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed", "max_tokens"):
        if sampling.HasField(field):
            body[field] = getattr(sampling, field)
    if sampling.HasField("top_k"):
        # Not OpenAI-standard; vLLM and llama.cpp accept it, so it is sent only when asked for.
        body["top_k"] = sampling.top_k
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if request.user:
        body["user"] = request.user
    if stream:
        body["stream"] = True
        # Without this OpenAI sends no usage in a stream; compatible servers ignore or honour it.
        body["stream_options"] = {"include_usage": True}
    merge_provider_options(body, request.provider_options)


def merge_provider_options(body: JSON, options: struct_pb2.Struct) -> None:
    """Extras such as vLLM's min_p go through; the translator's own keys and Ollama's stay out."""
    if options.fields:
        for key, value in struct_to_dict(options).items():
            if key not in _RESERVED and key not in _OLLAMA_ONLY:
                body[key] = value


def _message(i: int, message: pb.Message, request: pb.GenerateRequest) -> JSON:
    role = NAME_BY_ROLE.get(message.role)
    if role is None:
        raise invalid(f"messages[{i}].role", f"unsupported role {message.role}")
    out: JSON = {"role": role}
    content = _content(i, message.content)
    if message.tool_calls:
        out["tool_calls"] = [_tool_call(i, j, call) for j, call in enumerate(message.tool_calls)]
        # The spec allows null content on an assistant turn that only calls tools.
        out["content"] = content if message.content else None
    else:
        out["content"] = content
    if role == "tool":
        # The spec's tool message has no `name` (OpenAI rejects unknown message keys).
        out["tool_call_id"] = message.tool_call_id or _tool_call_id_by_name(i, message.name, request)
    elif message.name:
        out["name"] = message.name
    return out


def _content(i: int, parts: Iterable[pb.ContentPart]) -> str | list[JSON]:
    parts = list(parts)
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
