"""Canonical request → the body of `models/{m}:generateContent` (and `:streamGenerateContent`).

Wire format: the Gemini API reference (GenerateContentRequest, Content,
Part, GenerationConfig, Tool, ToolConfig) as the google-genai SDK builds it
(`models._GenerateContentConfig_to_mldev`):

- roles are `user` and `model`; system and developer messages (and
  `GenerateRequest.system`) become `systemInstruction`;
- tool results are `functionResponse` parts in a `user` turn, named after
  the call they answer: Gemini matches results to calls by name and order,
  so no ids are sent and a run of results is put in the order of its calls;
- Gemini's thought signatures go back where they came from: on the
  `functionCall` part (ToolCall.signature), on a thought part, or on the
  text part they followed. Only reasoning made by Gemini is sent back.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

from model_gateway.errors import invalid
from model_gateway.providers.base import ModelSettings
from model_gateway.providers.gemini.schema import SchemaContext, has_properties, to_gemini_schema
from model_gateway.providers.gemini.wire import JSON, resource_name
from model_gateway.providers.images import inline_base64, sniff_mime
from model_gateway.providers.tool_args import arguments_object
from model_gateway_common.structs import struct_to_dict
from modelgateway.v1 import gateway_pb2 as pb

KIND = "gemini"
# Gemini's documented stand-in for a function call it did not sign (a conversation
# begun on another model, or a call the client wrote): Gemini 3 answers 400 without one.
SKIP_SIGNATURE = "skip_thought_signature_validator"

_MODES: dict[int, str] = {
    pb.ToolChoice.MODE_AUTO: "AUTO",
    pb.ToolChoice.MODE_NONE: "NONE",
    pb.ToolChoice.MODE_REQUIRED: "ANY",
    pb.ToolChoice.MODE_FUNCTION: "ANY",
}
_SamplingField = Literal["temperature", "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty"]
_SAMPLING: tuple[tuple[_SamplingField, str], ...] = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)
# provider_options keys that are Gemini's own: anything else is another dialect's extra.
_PASSTHROUGH = ("safetySettings", "cachedContent")


def generate_body(request: pb.GenerateRequest, settings: ModelSettings) -> JSON:
    """The GenerateContentRequest body (the model is in the URL, not the body)."""
    options = settings.options
    system, contents = _conversation(request, options)
    body: JSON = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools:
        body["tools"] = [{"functionDeclarations": _declarations(request.tools, settings)}]
    tool_config = _tool_config(request)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    safety = options.get("safety_settings")
    if isinstance(safety, list) and safety:
        body["safetySettings"] = safety
    extras = struct_to_dict(request.provider_options)
    for key in _PASSTHROUGH:
        if key in extras:
            body[key] = extras[key]
    generation = _generation_config(request, settings, extras)
    if generation:
        body["generationConfig"] = generation
    return body


# provider_options keys generate_body reads (its own, plus the two config blocks it merges).
_READ_OPTIONS = frozenset({*_PASSTHROUGH, "generationConfig", "thinkingConfig"})


def dropped(request: pb.GenerateRequest) -> list[str]:
    """Other dialects' provider options that `generate_body` leaves out, by their own names."""
    return sorted(key for key in request.provider_options.fields if key not in _READ_OPTIONS)


def count_tokens_body(request: pb.GenerateRequest, model: str, settings: ModelSettings) -> JSON:
    """`:countTokens` with the whole request, so system text and tools are counted as billed."""
    return {"generateContentRequest": {"model": resource_name(model), **generate_body(request, settings)}}


# --- contents ------------------------------------------------------------------------


def _conversation(request: pb.GenerateRequest, options: Mapping[str, Any]) -> tuple[list[JSON], list[JSON]]:
    """(systemInstruction parts, contents) with consecutive turns of one role merged."""
    system: list[JSON] = [{"text": request.system}] if request.system else []
    turns: list[tuple[str, list[JSON]]] = []
    if not request.messages and request.prompt:
        turns.append(("user", [{"text": request.prompt}]))
    fallback = options.get("thought_signature_fallback", True) is not False
    tool_run: list[tuple[int, int, JSON]] = []  # (call position, message index, part) of pending results
    for i, message in enumerate(request.messages):
        if message.role != pb.ROLE_TOOL and tool_run:
            turns.append(("user", _ordered(tool_run)))
            tool_run = []
        if message.role in (pb.ROLE_SYSTEM, pb.ROLE_DEVELOPER):
            system += _system_parts(i, message)
        elif message.role == pb.ROLE_USER:
            turns.append(("user", _user_parts(i, message)))
        elif message.role == pb.ROLE_ASSISTANT:
            turns.append(("model", _model_parts(i, message, fallback)))
        elif message.role == pb.ROLE_TOOL:
            tool_run += _tool_result(i, message, request)
        else:
            raise invalid(f"messages[{i}].role", f"unsupported role {message.role}")
    if tool_run:
        turns.append(("user", _ordered(tool_run)))
    contents = _merge(turns)
    if not contents and system:
        # Gemini needs at least one turn; instructions alone are the user's request.
        return [], [{"role": "user", "parts": system}]
    if not contents:
        raise invalid("messages", "the Gemini API needs at least one user or assistant message")
    return system, contents


def _merge(turns: Iterable[tuple[str, list[JSON]]]) -> list[JSON]:
    """Drops empty turns and joins consecutive turns of one role (Gemini wants them alternating)."""
    contents: list[JSON] = []
    for role, parts in turns:
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def _system_parts(i: int, message: pb.Message) -> list[JSON]:
    parts: list[JSON] = []
    for j, part in enumerate(message.content):
        if not part.HasField("text"):
            raise invalid(f"messages[{i}].content[{j}]", "system instructions for Gemini can only be text")
        parts.append({"text": part.text})
    return parts


def _user_parts(i: int, message: pb.Message) -> list[JSON]:
    parts: list[JSON] = []
    for j, part in enumerate(message.content):
        if part.HasField("text"):
            parts.append({"text": part.text})
        elif part.HasField("image"):
            parts.append(image_part(part.image, f"messages[{i}].content[{j}].image"))
        # Reasoning in a user turn has no meaning upstream: dropped.
    return parts


def _model_parts(i: int, message: pb.Message, fallback: bool) -> list[JSON]:
    parts: list[JSON] = []
    for j, part in enumerate(message.content):
        if part.HasField("text"):
            if part.text:
                parts.append({"text": part.text})
        elif part.HasField("reasoning"):
            _reasoning(part.reasoning, parts)
        elif part.HasField("image"):
            parts.append(image_part(part.image, f"messages[{i}].content[{j}].image"))
    calls: list[JSON] = []
    for j, call in enumerate(message.tool_calls):
        if not call.name:
            raise invalid(f"messages[{i}].tool_calls[{j}].name", "is required")
        args = arguments_object(call.arguments, f"messages[{i}].tool_calls[{j}].arguments")
        wire: JSON = {"functionCall": {"name": call.name, "args": args}}
        if call.signature:
            wire["thoughtSignature"] = call.signature
        calls.append(wire)
    if fallback and calls and not any("thoughtSignature" in c for c in calls):
        calls[0]["thoughtSignature"] = SKIP_SIGNATURE
    return parts + calls


def _reasoning(reasoning: pb.ReasoningPart, parts: list[JSON]) -> None:
    """A Gemini thought (or a signature alone) back in its place; other providers' reasoning stays out."""
    if reasoning.provider_kind != KIND or reasoning.redacted:
        return
    if reasoning.text:
        thought: JSON = {"text": reasoning.text, "thought": True}
        if reasoning.signature:
            thought["thoughtSignature"] = reasoning.signature
        parts.append(thought)
    elif reasoning.signature:
        # A signature without text closed the text part before it (how responses are read).
        previous = parts[-1] if parts else None
        if previous is not None and "text" in previous and "thoughtSignature" not in previous:
            previous["thoughtSignature"] = reasoning.signature
        else:
            parts.append({"text": "", "thoughtSignature": reasoning.signature})


def image_part(image: pb.ImagePart, where: str) -> JSON:
    """Bytes and data: URLs inline (base64); other URLs by reference (fileData)."""
    if image.HasField("url") and not image.url.startswith("data:"):
        scheme = urlsplit(image.url).scheme.lower()
        if scheme not in ("http", "https", "gs"):
            raise invalid(f"{where}.url", f"Gemini takes http(s) or gs:// image URLs, not {image.url[:80]!r}")
        mime = image.mime_type or _guess_mime(image.url)
        return {"fileData": {"mimeType": mime, "fileUri": image.url}}
    mime, data = inline_base64(image, where, "Gemini")
    if image.HasField("data"):
        mime = mime or sniff_mime(image.data)
    if not mime:
        raise invalid(f"{where}.mime_type", "is required for image bytes of an unrecognised type")
    return {"inlineData": {"mimeType": mime, "data": data}}


def _guess_mime(url: str) -> str:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    # fileData requires a mime type; an extension-less image URL is most often a JPEG.
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


# --- tool results ----------------------------------------------------------------------


def _tool_result(i: int, message: pb.Message, request: pb.GenerateRequest) -> list[tuple[int, int, JSON]]:
    name, position = _answered_call(i, message, request)
    text = "".join(part.text for part in message.content if part.HasField("text"))
    parts = [(position, i, {"functionResponse": {"name": name, "response": _response_object(text)}})]
    for j, part in enumerate(message.content):
        if part.HasField("image"):
            # Images a tool returned follow its result in the same user turn.
            parts.append((position, i, image_part(part.image, f"messages[{i}].content[{j}].image")))
    return parts


def _answered_call(i: int, message: pb.Message, request: pb.GenerateRequest) -> tuple[str, int]:
    """(function name, position of the call in its assistant turn) for the tool result at `i`."""
    turns = [m.tool_calls for m in reversed(request.messages[:i]) if m.role == pb.ROLE_ASSISTANT]
    latest = turns[0] if turns else []
    if message.tool_call_id:
        for age, calls in enumerate(turns):  # the latest turn first; older ones for clients that interleave
            for position, call in enumerate(calls):
                if call.id == message.tool_call_id:
                    return call.name, position if age == 0 else len(latest)
    if message.name:
        for position, call in enumerate(latest):
            if call.name == message.name:
                return message.name, position
        return message.name, len(latest)
    raise invalid(
        f"messages[{i}].tool_call_id",
        "names no earlier tool call; Gemini needs the function's name "
        "(set tool_call_id to the id of the call it answers, or name)",
    )


def _ordered(run: list[tuple[int, int, JSON]]) -> list[JSON]:
    # Stable: results of one call keep their order, and unknown positions go last.
    return [part for _, _, part in sorted(run, key=lambda item: (item[0], item[1]))]


def _response_object(text: str) -> JSON:
    """functionResponse.response must be an object: a JSON object result as is, anything else as output."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"output": text}
    return value if isinstance(value, dict) else {"output": value}


# --- tools, config ---------------------------------------------------------------------


def _declarations(tools: Iterable[pb.Tool], settings: ModelSettings) -> list[JSON]:
    native = settings.options.get("native_json_schema") is True
    context = SchemaContext(settings.name or "?", "tool parameters")
    declarations: list[JSON] = []
    for i, tool in enumerate(tools):
        if not tool.name:
            raise invalid(f"tools[{i}].name", "is required")
        declaration: JSON = {"name": tool.name}
        if tool.description:
            declaration["description"] = tool.description
        parameters = struct_to_dict(tool.parameters) if tool.HasField("parameters") else {}
        if native and parameters:
            declaration["parametersJsonSchema"] = parameters
        elif parameters:
            schema = to_gemini_schema(parameters, f"tools[{i}].parameters", context)
            # Gemini refuses an OBJECT without properties: a function without arguments declares none.
            if has_properties(schema):
                declaration["parameters"] = schema
        declarations.append(declaration)
    return declarations


def _tool_config(request: pb.GenerateRequest) -> JSON | None:
    choice = request.tool_choice
    mode = _MODES.get(choice.mode)
    if mode is None:
        return None
    if not request.tools:
        if choice.mode in (pb.ToolChoice.MODE_REQUIRED, pb.ToolChoice.MODE_FUNCTION):
            raise invalid("tool_choice", "asks for a tool call but the request has no tools")
        return None  # auto / none without tools: nothing to configure
    config: JSON = {"mode": mode}
    if choice.mode == pb.ToolChoice.MODE_FUNCTION:
        if not choice.function_name:
            raise invalid("tool_choice.function_name", "is required when the mode is FUNCTION")
        if choice.function_name not in {tool.name for tool in request.tools}:
            raise invalid("tool_choice.function_name", f"'{choice.function_name}' is not one of the tools")
        config["allowedFunctionNames"] = [choice.function_name]
    return {"functionCallingConfig": config}


def _generation_config(request: pb.GenerateRequest, settings: ModelSettings, extras: JSON) -> JSON:
    sampling = request.sampling
    config: JSON = {}
    for field, key in _SAMPLING:
        if sampling.HasField(field):
            config[key] = getattr(sampling, field)
    limit = settings.max_output_tokens
    if sampling.HasField("max_tokens"):
        limit = sampling.max_tokens if limit is None else min(limit, sampling.max_tokens)
    if limit is not None:
        config["maxOutputTokens"] = limit
    if sampling.stop:
        config["stopSequences"] = list(sampling.stop)
    _response_format(request.response_format, settings, config)
    thinking = _thinking(settings.options, extras)
    if thinking:
        config["thinkingConfig"] = thinking
    extra = extras.get("generationConfig")
    if isinstance(extra, dict):
        for key, value in extra.items():
            config.setdefault(key, value)  # the operator adds; the translated fields stay
    return config


def _response_format(response_format: pb.ResponseFormat, settings: ModelSettings, config: JSON) -> None:
    if response_format.type == pb.ResponseFormat.TYPE_JSON_OBJECT:
        config["responseMimeType"] = "application/json"
    elif response_format.type == pb.ResponseFormat.TYPE_JSON_SCHEMA:
        config["responseMimeType"] = "application/json"
        schema = struct_to_dict(response_format.schema)
        if not schema:
            return
        if settings.options.get("native_json_schema") is True:
            config["responseJsonSchema"] = schema
        else:
            context = SchemaContext(settings.name or "?", "JSON-schema output")
            config["responseSchema"] = to_gemini_schema(schema, "response_format.schema", context)


def _thinking(options: Mapping[str, Any], extras: JSON) -> JSON:
    """thinkingConfig from the model's options (include_thoughts, thinking_budget, thinking_level)."""
    thinking: JSON = {}
    if isinstance(options.get("include_thoughts"), bool):
        thinking["includeThoughts"] = options["include_thoughts"]
    budget = options.get("thinking_budget")
    if isinstance(budget, int) and not isinstance(budget, bool):
        thinking["thinkingBudget"] = budget
    if isinstance(options.get("thinking_level"), str):
        thinking["thinkingLevel"] = options["thinking_level"]
    extra = extras.get("thinkingConfig")
    if isinstance(extra, dict):
        thinking.update(extra)  # a request's own thinkingConfig wins over the model's defaults
    return thinking
