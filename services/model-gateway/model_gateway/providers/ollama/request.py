"""Canonical GenerateRequest → the body of `POST /api/chat` or, for a bare prompt, `/api/generate`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.protobuf import struct_pb2

from model_gateway.errors import invalid
from model_gateway.providers.images import inline_base64
from model_gateway.providers.ollama.wire import JSON
from model_gateway.providers.tool_args import arguments_object
from model_gateway_common.structs import struct_to_dict
from model_gateway_common.vocab.ollama import NAME_BY_ROLE
from modelgateway.v1 import gateway_pb2 as pb

CHAT_PATH = "/api/chat"
GENERATE_PATH = "/api/generate"


def request_body(request: pb.GenerateRequest, model: str, stream: bool) -> tuple[str, JSON]:
    """The endpoint and body: /api/generate for a bare prompt, /api/chat otherwise."""
    if request.prompt and not request.messages:
        return GENERATE_PATH, generate_body(request, model, stream)
    return CHAT_PATH, chat_body(request, model, stream)


def chat_body(request: pb.GenerateRequest, model: str, stream: bool) -> JSON:
    """The POST /api/chat body for a canonical request with messages."""
    call_names: dict[str, str] = {}
    # The canonical request keeps `system` apart; Ollama's chat wants it as the first message.
    messages: list[JSON] = [{"role": "system", "content": request.system}] if request.system else []
    for i, message in enumerate(request.messages):
        messages.append(message_json(message, f"messages[{i}]", call_names))
        for call in message.tool_calls:
            if call.id:
                call_names[call.id] = call.name
    body: JSON = {"model": model, "messages": messages, "stream": stream}
    tools = tools_json(request)
    if tools:
        body["tools"] = tools
    response_format = format_json(request.response_format)
    if response_format is not None:
        body["format"] = response_format
    return with_extras(body, sampling_options(request.sampling), request.provider_options)


def generate_body(request: pb.GenerateRequest, model: str, stream: bool) -> JSON:
    """The POST /api/generate body for a raw prompt (`raw`, `suffix`, ... come from provider_options)."""
    if request.tools:
        raise invalid("tools", "a raw prompt (Ollama /api/generate) cannot use tools; send messages instead")
    body: JSON = {"model": model, "prompt": request.prompt, "stream": stream}
    if request.system:
        body["system"] = request.system
    response_format = format_json(request.response_format)
    if response_format is not None:
        body["format"] = response_format
    return with_extras(body, sampling_options(request.sampling), request.provider_options)


def message_json(message: pb.Message, where: str, call_names: Mapping[str, str]) -> JSON:
    """One chat message; `call_names` maps earlier tool-call ids to their function names."""
    role = NAME_BY_ROLE.get(message.role)
    if role is None:
        raise invalid(f"{where}.role", f"unknown role {message.role}")
    texts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(message.content):
        if part.HasField("text"):
            texts.append(part.text)
        elif part.HasField("image"):
            images.append(inline_base64(part.image, f"{where}.content[{j}].image", "Ollama")[1])
    # Ollama has one content string per message; a newline keeps parts from gluing words together.
    out: JSON = {"role": role, "content": "\n".join(texts)}
    if images:
        out["images"] = images
    if message.reasoning:
        out["thinking"] = message.reasoning
    if message.tool_calls:
        out["tool_calls"] = [
            tool_call_json(call, f"{where}.tool_calls[{k}]", k) for k, call in enumerate(message.tool_calls)
        ]
    if message.role == pb.ROLE_TOOL:
        # Ollama matches results to calls by function name; OpenAI-style
        # clients only send the call id, so look the name up as Ollama's own
        # OpenAI layer does.
        name = message.name or call_names.get(message.tool_call_id, "")
        if name:
            out["tool_name"] = name
        if message.tool_call_id:
            out["tool_call_id"] = message.tool_call_id
    return out


def tool_call_json(call: pb.ToolCall, where: str, index: int) -> JSON:
    """An assistant's earlier tool call, arguments as the JSON object Ollama expects."""
    arguments = arguments_object(call.arguments, f"{where}.arguments")
    out: JSON = {"function": {"index": index, "name": call.name, "arguments": arguments}}
    if call.id:
        out["id"] = call.id
    return out


def tools_json(request: pb.GenerateRequest) -> list[JSON]:
    choice = request.tool_choice
    # Ollama has no tool_choice: "none" is honoured by offering no tools and a
    # named function by offering only it; "required" cannot be enforced.
    if choice.mode == pb.ToolChoice.MODE_NONE:
        return []
    tools: Iterable[pb.Tool] = request.tools
    if choice.mode == pb.ToolChoice.MODE_FUNCTION:
        tools = [tool for tool in request.tools if tool.name == choice.function_name]
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": (
                    struct_to_dict(tool.parameters)
                    if tool.HasField("parameters")
                    else {"type": "object", "properties": {}}
                ),
            },
        }
        for tool in tools
    ]


def sampling_options(sampling: pb.Sampling) -> JSON:
    """The sampling fields the client set, under Ollama's option names."""
    options: JSON = {}
    if sampling.HasField("temperature"):
        options["temperature"] = sampling.temperature
    if sampling.HasField("top_p"):
        options["top_p"] = sampling.top_p
    if sampling.HasField("top_k"):
        options["top_k"] = sampling.top_k
    if sampling.HasField("max_tokens"):
        options["num_predict"] = sampling.max_tokens
    if sampling.stop:
        options["stop"] = list(sampling.stop)
    if sampling.HasField("seed"):
        options["seed"] = sampling.seed
    if sampling.HasField("presence_penalty"):
        options["presence_penalty"] = sampling.presence_penalty
    if sampling.HasField("frequency_penalty"):
        options["frequency_penalty"] = sampling.frequency_penalty
    return options


def format_json(response_format: pb.ResponseFormat) -> str | JSON | None:
    """Ollama's `format`: "json" for JSON mode, the schema itself for structured output."""
    if response_format.type == pb.ResponseFormat.TYPE_JSON_OBJECT:
        return "json"
    if response_format.type == pb.ResponseFormat.TYPE_JSON_SCHEMA:
        if response_format.HasField("schema") and response_format.schema.fields:
            return struct_to_dict(response_format.schema)
        return "json"
    return None


def with_extras(body: JSON, options: JSON, provider_options: struct_pb2.Struct) -> JSON:
    """Merge the pass-through provider options into a body the gateway built.

    `provider_options.options` fills Ollama's `options`, its other keys
    (keep_alive, think, raw, suffix, ...) go top level; what the canonical
    request set explicitly wins on a clash.
    """
    extras = struct_to_dict(provider_options)
    extra_options = extras.pop("options", None)
    if extra_options is not None:
        if not isinstance(extra_options, dict):
            raise invalid("provider_options.options", "must be an object of Ollama model options")
        options = {**extra_options, **options}
    if options:
        body["options"] = options
    for key, value in extras.items():
        body.setdefault(key, value)
    return body
