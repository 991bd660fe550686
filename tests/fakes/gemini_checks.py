"""What the fake Gemini server checks in a request body, as the real API does.

Google's front end parses JSON bodies strictly against the proto: an unknown
field is a 400 (`Invalid JSON payload received. Unknown name "x" at 'y':
Cannot find field.`), and the Generative Language API adds its own checks on
contents, parts, schemas and function calling. Each check here answers with
the real API's wording, so a translator that would be rejected upstream is
rejected by the fake too.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

JSON = dict[str, Any]


class BadRequest(ValueError):
    """A request the real API answers with 400 INVALID_ARGUMENT; the message is Gemini's."""


# message type -> field -> the field's message type (None: a scalar, a list of scalars, or free JSON)
_LIST = "[]"
_MAP = "{}"
FIELDS: dict[str, dict[str, str | None]] = {
    "GenerateContentRequest": {
        "model": None,
        "contents": "Content" + _LIST,
        "tools": "Tool" + _LIST,
        "toolConfig": "ToolConfig",
        "safetySettings": "SafetySetting" + _LIST,
        "systemInstruction": "Content",
        "generationConfig": "GenerationConfig",
        "cachedContent": None,
        "serviceTier": None,
    },
    "Content": {"role": None, "parts": "Part" + _LIST},
    "Part": {
        "text": None,
        "inlineData": "Blob",
        "fileData": "FileData",
        "functionCall": "FunctionCall",
        "functionResponse": "FunctionResponse",
        "executableCode": None,
        "codeExecutionResult": None,
        "thought": None,
        "thoughtSignature": None,
        "videoMetadata": None,
        "mediaResolution": None,
        "partMetadata": None,
    },
    "Blob": {"mimeType": None, "data": None},
    "FileData": {"mimeType": None, "fileUri": None},
    "FunctionCall": {"id": None, "name": None, "args": None},
    "FunctionResponse": {
        "id": None,
        "name": None,
        "response": None,
        "parts": None,
        "willContinue": None,
        "scheduling": None,
    },
    "Tool": {
        "functionDeclarations": "FunctionDeclaration" + _LIST,
        "googleSearch": None,
        "googleSearchRetrieval": None,
        "codeExecution": None,
        "urlContext": None,
        "computerUse": None,
        "fileSearch": None,
        "googleMaps": None,
    },
    "FunctionDeclaration": {
        "name": None,
        "description": None,
        "behavior": None,
        "parameters": "Schema",
        "parametersJsonSchema": None,
        "response": "Schema",
        "responseJsonSchema": None,
    },
    "ToolConfig": {"functionCallingConfig": "FunctionCallingConfig", "retrievalConfig": None},
    "FunctionCallingConfig": {"mode": None, "allowedFunctionNames": None},
    "SafetySetting": {"category": None, "threshold": None},
    "GenerationConfig": {
        "stopSequences": None,
        "responseMimeType": None,
        "responseSchema": "Schema",
        "responseJsonSchema": None,
        "responseModalities": None,
        "candidateCount": None,
        "maxOutputTokens": None,
        "temperature": None,
        "topP": None,
        "topK": None,
        "seed": None,
        "presencePenalty": None,
        "frequencyPenalty": None,
        "responseLogprobs": None,
        "logprobs": None,
        "enableEnhancedCivicAnswers": None,
        "speechConfig": None,
        "thinkingConfig": "ThinkingConfig",
        "imageConfig": None,
        "mediaResolution": None,
    },
    "ThinkingConfig": {"includeThoughts": None, "thinkingBudget": None, "thinkingLevel": None},
    "Schema": {
        "type": None,
        "format": None,
        "title": None,
        "description": None,
        "nullable": None,
        "enum": None,
        "maxItems": None,
        "minItems": None,
        "properties": "Schema" + _MAP,
        "required": None,
        "minProperties": None,
        "maxProperties": None,
        "minLength": None,
        "maxLength": None,
        "pattern": None,
        "example": None,
        "anyOf": "Schema" + _LIST,
        "propertyOrdering": None,
        "default": None,
        "items": "Schema",
        "minimum": None,
        "maximum": None,
    },
    "CountTokensRequest": {"contents": "Content" + _LIST, "generateContentRequest": "GenerateContentRequest"},
    "BatchEmbedContentsRequest": {"requests": "EmbedContentRequest" + _LIST},
    "EmbedContentRequest": {
        "model": None,
        "content": "Content",
        "taskType": None,
        "title": None,
        "outputDimensionality": None,
    },
}
_PART_DATA = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode")
_SCHEMA_TYPES = {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
# "enum" on numbers: the API reference's own example, {type: INTEGER, format: enum, enum: ["101", "201"]}.
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "NUMBER": {"float", "double", "enum"},
    "INTEGER": {"int32", "int64", "enum"},
}
_MODES = {"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def check_fields(value: Any, message: str, where: str = "") -> JSON:
    """The body with every field under its json (camelCase) name; unknown names are a 400.

    The proto JSON parser takes a field's json name or its proto name
    (snake_case, which the google-genai SDK sends for some nested configs);
    free-form values (function args, responses, schema property names) are kept as they are.
    """
    if not isinstance(value, dict):
        raise BadRequest(
            f"Invalid JSON payload received. Expected an object for '{where or message}', got {value!r:.60}."
        )
    known = FIELDS[message]
    out: JSON = {}
    for name, item in value.items():
        key = _camel(name)
        if key not in known:
            at = f" at '{where}'" if where else ""
            raise BadRequest(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')
        child = known[key]
        path = f"{where}.{_snake(key)}" if where else _snake(key)
        if child is None or item is None:
            out[key] = item
        elif child.endswith(_LIST):
            if not isinstance(item, list):
                raise BadRequest(f"Invalid JSON payload received. Expected a list for '{path}'.")
            kind = child.removesuffix(_LIST)
            out[key] = [check_fields(element, kind, f"{path}[{i}]") for i, element in enumerate(item)]
        elif child.endswith(_MAP):
            if not isinstance(item, dict):
                raise BadRequest(f"Invalid JSON payload received. Expected an object for '{path}'.")
            kind = child.removesuffix(_MAP)
            out[key] = {k: check_fields(element, kind, f"{path}[{k}]") for k, element in item.items()}
        else:
            out[key] = check_fields(item, child, path)
    return out


def _bytes(value: Any, where: str) -> None:
    """TYPE_BYTES fields: base64, standard or web-safe, as the proto JSON parser takes them."""
    try:
        if not isinstance(value, str):
            raise ValueError
        base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(
            f"Invalid value at '{where}' (TYPE_BYTES), Base64 decoding failed for {value!r:.40}"
        ) from None


def check_contents(contents: Any, where: str, *, signed_calls: bool) -> None:
    """Roles, parts, function call / response pairing, and (Gemini 3) signed function calls."""
    if not contents:
        raise BadRequest(f"* {where}: contents is not specified")
    # Gemini 3 validates signatures in the current turn only: since the last user text.
    current = max(
        (i for i, c in enumerate(contents) if c.get("role", "user") == "user" and _has_text(c)), default=0
    )
    for i, content in enumerate(contents):
        at = f"{where}[{i}]"
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise BadRequest(f"Please use a valid role: user, model. Got {role!r} at {at}.")
        parts = content.get("parts") or []
        if not parts:
            raise BadRequest(f"* {at}.parts: contents.parts must not be empty.")
        for j, part in enumerate(parts):
            check_part(part, f"{at}.parts[{j}]")
        calls = [p for p in parts if "functionCall" in p]
        if calls and role != "model":
            raise BadRequest(f"* {at}: function calls can only come from the model role.")
        if calls and signed_calls and i > current and "thoughtSignature" not in calls[0]:
            name, position = calls[0]["functionCall"].get("name"), parts.index(calls[0]) + 1
            raise BadRequest(
                "Function call is missing a thought_signature in functionCall parts. This is required for "
                "tools to work correctly, and missing thought_signature may lead to degraded model "
                "performance. Additional data, function call "
                f"`default_api:{name}` , position {position}. "
                "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
            )
        if calls and i + 1 < len(contents):
            answers = [p for p in contents[i + 1].get("parts") or [] if "functionResponse" in p]
            if len(answers) != len(calls):
                raise BadRequest(
                    "Please ensure that the number of function response parts is equal to the number of "
                    "function call parts of the function call turn."
                )


def _has_text(content: JSON) -> bool:
    return any("text" in part for part in content.get("parts") or [])


def check_part(part: JSON, where: str) -> None:
    present = [key for key in _PART_DATA if key in part]
    if not present and "thoughtSignature" not in part:
        raise BadRequest(f"* {where}: required oneof field 'data' must have one initialized field")
    if len(present) > 1:
        raise BadRequest(f"* {where}: oneof field 'data' is already set. Cannot set '{present[1]}'")
    if "thoughtSignature" in part:
        _bytes(part["thoughtSignature"], f"{where}.thought_signature")
    if "inlineData" in part:
        blob = part["inlineData"]
        if not blob.get("mimeType"):
            raise BadRequest(f"* {where}.inline_data.mime_type: mime_type must be specified")
        _bytes(blob.get("data"), f"{where}.inline_data.data")
    if "fileData" in part and not (part["fileData"].get("fileUri") and part["fileData"].get("mimeType")):
        raise BadRequest(f"* {where}.file_data: file_uri and mime_type are required")
    if "functionCall" in part and not part["functionCall"].get("name"):
        raise BadRequest(f"* {where}.function_call.name: Name cannot be empty.")
    if "functionResponse" in part:
        answer = part["functionResponse"]
        if not answer.get("name"):
            raise BadRequest(f"* {where}.function_response.name: Name cannot be empty.")
        if not isinstance(answer.get("response"), dict):
            raise BadRequest(
                f"Invalid value at '{where}.function_response.response' "
                "(type.googleapis.com/google.protobuf.Struct)"
            )


def check_schema(schema: JSON, where: str, *, parameters: bool = False) -> None:
    kind = str(schema.get("type", "TYPE_UNSPECIFIED")).upper()
    if kind not in _SCHEMA_TYPES:
        raise BadRequest(
            f"Invalid value at '{where}.type' "
            f"(type.googleapis.com/google.ai.generativelanguage.v1beta.Type), {schema.get('type')!r}"
        )
    fmt = schema.get("format")
    if fmt is not None and kind in _FORMATS and fmt not in _FORMATS[kind]:
        allowed = " and ".join(f"'{f}'" for f in sorted(_FORMATS[kind]))
        raise BadRequest(f"* {where}.format: only {allowed} are supported for {kind} type")
    if kind == "OBJECT" and parameters and not schema.get("properties"):
        raise BadRequest(f"* {where}.properties: should be non-empty for OBJECT type")
    for name, sub in (schema.get("properties") or {}).items():
        check_schema(sub, f"{where}.properties[{name}]")
    for i, sub in enumerate(schema.get("anyOf") or []):
        check_schema(sub, f"{where}.any_of[{i}]")
    if isinstance(schema.get("items"), dict):
        check_schema(schema["items"], f"{where}.items")
    if "enum" in schema and not all(isinstance(v, str) for v in schema["enum"]):
        raise BadRequest(f"Invalid value at '{where}.enum' (TYPE_STRING)")


def check_generate(body: JSON, model: str, where: str = "GenerateContentRequest") -> JSON:
    """Every check of a generateContent body, in the order the API applies them; the body in json names."""
    body = check_fields(body, "GenerateContentRequest")
    check_contents(body.get("contents"), f"{where}.contents", signed_calls=model.startswith("gemini-3"))
    system = body.get("systemInstruction")
    if system is not None:
        for j, part in enumerate(system.get("parts") or []):
            if set(part) - {"text"}:
                raise BadRequest(f"* {where}.system_instruction.parts[{j}]: only text should be used")
    names: set[str] = set()
    for i, tool in enumerate(body.get("tools") or []):
        for j, declaration in enumerate(tool.get("functionDeclarations") or []):
            at = f"{where}.tools[{i}].function_declarations[{j}]"
            name = declaration.get("name") or ""
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}", name):
                raise BadRequest(
                    f"* {at}.name: Invalid function name. Must start with a letter or an underscore."
                )
            names.add(name)
            if isinstance(declaration.get("parameters"), dict):
                check_schema(declaration["parameters"], f"{at}.parameters", parameters=True)
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if calling.get("mode", "MODE_UNSPECIFIED") not in _MODES:
        raise BadRequest(
            f"Invalid value at 'tool_config.function_calling_config.mode', {calling.get('mode')!r}"
        )
    for name in calling.get("allowedFunctionNames") or []:
        if name not in names:
            raise BadRequest(
                f"* {where}.tool_config.function_calling_config.allowed_function_names: "
                f"{name} is not declared"
            )
    config = body.get("generationConfig") or {}
    if len(config.get("stopSequences") or []) > 5:
        raise BadRequest(f"* {where}.generation_config.stop_sequences: at most 5 stop sequences are allowed")
    if isinstance(config.get("responseSchema"), dict):
        check_schema(config["responseSchema"], f"{where}.generation_config.response_schema")
        if config.get("responseMimeType") != "application/json":
            raise BadRequest("response_schema requires response_mime_type to be 'application/json'")
    return body
