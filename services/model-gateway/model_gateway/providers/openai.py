"""Canonical requests to and from the OpenAI wire format, for any compatible server.

One translator serves OpenAI, vLLM, Groq, OpenRouter, llama.cpp's server,
LM Studio and HuggingFace TGI's Messages API: they all speak
`POST /chat/completions` (and the legacy `/completions`, `/embeddings`,
`GET /models`) under a base URL that already ends in `/v1`.

The translators are pure module-level functions so tests can check them
against the published wire format without a server; `OpenAIProvider` only
adds HTTP, timing and error mapping (all of it from `UpstreamHTTP`).
"""

from __future__ import annotations

import base64
import time
from array import array
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson
from google.protobuf import json_format, struct_pb2

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, invalid
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from model_gateway.providers.http import UpstreamHTTP
from model_gateway.providers.sse import SSEDecoder, SSEEvent
from model_gateway.tokens import count_text, estimate_usage
from modelgateway.v1 import gateway_pb2 as pb

JSON = dict[str, Any]

DONE = "[DONE]"

_ROLES: dict[int, str] = {
    pb.ROLE_SYSTEM: "system",
    pb.ROLE_DEVELOPER: "developer",
    pb.ROLE_USER: "user",
    pb.ROLE_ASSISTANT: "assistant",
    pb.ROLE_TOOL: "tool",
}

_TOOL_CHOICE: dict[int, str] = {
    pb.ToolChoice.MODE_AUTO: "auto",
    pb.ToolChoice.MODE_NONE: "none",
    pb.ToolChoice.MODE_REQUIRED: "required",
}

# The spec's values, then what compatible servers are known to send instead
# (TGI: eos_token/stop_sequence, vLLM: abort, OpenRouter: error).
_FINISH: dict[str, pb.FinishReason.ValueType] = {
    "stop": pb.FINISH_REASON_STOP,
    "length": pb.FINISH_REASON_LENGTH,
    "tool_calls": pb.FINISH_REASON_TOOL_CALLS,
    "function_call": pb.FINISH_REASON_TOOL_CALLS,
    "content_filter": pb.FINISH_REASON_CONTENT_FILTER,
    "eos_token": pb.FINISH_REASON_STOP,
    "stop_sequence": pb.FINISH_REASON_STOP,
    "max_tokens": pb.FINISH_REASON_LENGTH,
    "abort": pb.FINISH_REASON_ERROR,
    "error": pb.FINISH_REASON_ERROR,
}

# Body keys the translator owns: provider_options may add extras, never replace these.
_RESERVED = frozenset({"model", "messages", "prompt", "input", "stream", "stream_options"})
# Ollama-native options (what the Ollama surface passes through): meaningless
# here, and OpenAI itself rejects unknown parameters with a 400.
_OLLAMA_ONLY = frozenset({"options", "keep_alive", "think", "raw", "template", "context", "suffix", "format"})

# Magic numbers for image bytes sent without a mime type.
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class WireError(ValueError):
    """An upstream reply that does not have the OpenAI shape."""


# --- canonical -> OpenAI ---------------------------------------------------


def is_prompt_request(request: pb.GenerateRequest) -> bool:
    """A raw prompt goes to the legacy /completions endpoint, messages to /chat/completions."""
    return bool(request.prompt) and not request.messages


def chat_body(request: pb.GenerateRequest, model: str, stream: bool) -> JSON:
    body: JSON = {
        "model": model,
        "messages": [_message(i, m, request) for i, m in enumerate(request.messages)],
    }
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
    _merge_provider_options(body, request.provider_options)


def _merge_provider_options(body: JSON, options: struct_pb2.Struct) -> None:
    """Extras such as vLLM's min_p go through; the translator's own keys and Ollama's stay out."""
    if options.fields:
        for key, value in struct_to_dict(options).items():
            if key not in _RESERVED and key not in _OLLAMA_ONLY:
                body[key] = value


def struct_to_dict(struct: struct_pb2.Struct) -> JSON:
    """A Struct as plain JSON; Struct stores every number as a double, so 40.0 becomes 40 again."""
    value = _integral(json_format.MessageToDict(struct))
    return value if isinstance(value, dict) else {}


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _message(i: int, message: pb.Message, request: pb.GenerateRequest) -> JSON:
    role = _ROLES.get(message.role)
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
        mime = image.mime_type or _sniff_image(image.data)
        if not mime:
            raise invalid(f"{where}.mime_type", "is required for image bytes of an unrecognised type")
        url = f"data:{mime};base64,{base64.b64encode(image.data).decode('ascii')}"
    else:
        raise invalid(where, "an image needs a url or data")
    out: JSON = {"url": url}
    if image.detail:
        out["detail"] = image.detail
    return out


def _sniff_image(data: bytes) -> str:
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


def _tool_call(i: int, j: int, call: pb.ToolCall) -> JSON:
    # An empty argument string means "no arguments"; OpenAI itself sends "{}" for those.
    arguments = call.arguments or "{}"
    try:
        orjson.loads(arguments)
    except orjson.JSONDecodeError as exc:
        raise invalid(
            f"messages[{i}].tool_calls[{j}].arguments",
            f"is not valid JSON ({exc}): {arguments[:80]!r}",
        ) from None
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


def embed_body(request: pb.EmbedRequest, model: str) -> JSON:
    body: JSON = {"model": model, "input": list(request.input), "encoding_format": "float"}
    if request.HasField("dimensions"):
        body["dimensions"] = request.dimensions
    # `truncate` has no OpenAI equivalent (vLLM: truncate_prompt_tokens); provider_options can say it.
    _merge_provider_options(body, request.provider_options)
    return body


# --- OpenAI -> canonical ---------------------------------------------------


def finish_reason(value: Any) -> pb.FinishReason.ValueType:
    if not isinstance(value, str) or not value:
        return pb.FINISH_REASON_UNSPECIFIED
    # An unknown non-empty reason still means the server finished on purpose.
    return _FINISH.get(value, pb.FINISH_REASON_STOP)


def usage_from(value: Any) -> pb.Usage | None:
    if not isinstance(value, dict):
        return None
    prompt = _int(value.get("prompt_tokens"))
    completion = _int(value.get("completion_tokens"))
    usage = pb.Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=_int(value.get("total_tokens")) or prompt + completion,
    )
    prompt_details = value.get("prompt_tokens_details")
    if isinstance(prompt_details, dict):
        usage.cached_input_tokens = _int(prompt_details.get("cached_tokens"))
    completion_details = value.get("completion_tokens_details")
    if isinstance(completion_details, dict):
        usage.reasoning_tokens = _int(completion_details.get("reasoning_tokens"))
    return usage


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _text(value: Any) -> str:
    """Message content: a string, null, or (some servers) an array of text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p.get("text") or "" for p in value if isinstance(p, dict) and p.get("type", "text") == "text"
        )
    return ""


def _reasoning(message: JSON) -> str:
    # vLLM, DeepSeek and llama.cpp say `reasoning_content`; OpenRouter, Groq and newer vLLM `reasoning`.
    return _text(message.get("reasoning_content")) or _text(message.get("reasoning"))


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()  # a server that sent an object instead of a JSON string


def _first_choice(obj: Any) -> JSON:
    if not isinstance(obj, dict):
        raise WireError(f"expected a JSON object, got {type(obj).__name__}")
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise WireError("the reply has no choices")
    choice: JSON = choices[0]
    return choice


def _stamp(response: pb.GenerateResponse, obj: JSON) -> None:
    if isinstance(obj.get("id"), str):
        response.id = obj["id"]
    if isinstance(obj.get("created"), int):
        response.created = obj["created"]
    usage = usage_from(obj.get("usage"))
    if usage is not None:
        response.usage.CopyFrom(usage)


def response_from_chat(obj: Any) -> pb.GenerateResponse:
    """A chat.completion object; `usage` is left unset when the server sent none."""
    choice = _first_choice(obj)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise WireError("choices[0] has no message")
    # A refusal is the only text the user gets, so it becomes the content.
    text = _text(message.get("content")) or _text(message.get("refusal"))
    out = pb.Message(role=pb.ROLE_ASSISTANT, reasoning=_reasoning(message))
    if text:
        out.content.add(text=text)
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        function = _dict(call.get("function"))
        out.tool_calls.add(
            id=str(call.get("id") or ""),
            name=str(function.get("name") or ""),
            arguments=_arguments(function.get("arguments")),
        )
    response = pb.GenerateResponse(message=out, finish_reason=finish_reason(choice.get("finish_reason")))
    _stamp(response, obj)
    return response


def response_from_completion(obj: Any) -> pb.GenerateResponse:
    """A text_completion object (legacy /completions)."""
    choice = _first_choice(obj)
    out = pb.Message(role=pb.ROLE_ASSISTANT)
    text = _text(choice.get("text"))
    if text:
        out.content.add(text=text)
    response = pb.GenerateResponse(message=out, finish_reason=finish_reason(choice.get("finish_reason")))
    _stamp(response, obj)
    return response


def output_text(message: pb.Message) -> str:
    """What the model produced, for estimating output tokens the same way streamed or not."""
    pieces = [part.text for part in message.content if part.HasField("text")]
    pieces.append(message.reasoning)
    for call in message.tool_calls:
        pieces += (call.name, call.arguments)
    return " ".join(p for p in pieces if p)


class StreamState:
    """Turns parsed stream chunks (chat.completion.chunk or legacy text_completion) into canonical deltas.

    It also collects what the final chunk needs: the finish reason, the
    usage chunk (`choices: []` with `usage`, or usage on the last chunk) and
    the streamed output, to estimate usage when the server sent none.
    """

    def __init__(self) -> None:
        self.finish_reason: pb.FinishReason.ValueType | None = None
        self.usage: pb.Usage | None = None
        self.id = ""
        self._message = pb.Message(role=pb.ROLE_ASSISTANT)
        self._texts: list[str] = []
        self._reasoning: list[str] = []

    def consume(self, chunk: JSON) -> pb.Delta | None:
        """The delta of one chunk, or None when it carries nothing to forward."""
        if not self.id and isinstance(chunk.get("id"), str):
            self.id = chunk["id"]
        usage = usage_from(chunk.get("usage"))
        if usage is not None:
            # Servers that report usage on every chunk report running totals: keep the last.
            self.usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return None
        delta = pb.Delta()
        for choice in choices:
            # Only the first choice is canonical (the gateway never asks for n > 1).
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = finish_reason(reason)
            if "text" in choice:  # legacy completions put the text on the choice itself
                delta.text += _text(choice.get("text"))
            wire = choice.get("delta")
            if isinstance(wire, dict):
                self._delta(wire, delta)
        if not (delta.text or delta.reasoning or delta.tool_calls):
            return None  # role-only, empty and finish-only chunks
        self._texts.append(delta.text)
        self._reasoning.append(delta.reasoning)
        return delta

    def _delta(self, wire: JSON, delta: pb.Delta) -> None:
        delta.text += _text(wire.get("content")) or _text(wire.get("refusal"))
        delta.reasoning += _reasoning(wire)
        calls = wire.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else []):
            if not isinstance(call, dict):
                continue
            function = _dict(call.get("function"))
            fragment = pb.ToolCallDelta(
                index=_int(call.get("index", position)),
                id=str(call.get("id") or ""),
                name=str(function.get("name") or ""),
                arguments=_arguments(function.get("arguments")),
            )
            if fragment.id or fragment.name or fragment.arguments:
                delta.tool_calls.append(fragment)
                self._collect(fragment)

    def _collect(self, fragment: pb.ToolCallDelta) -> None:
        while len(self._message.tool_calls) <= fragment.index:
            self._message.tool_calls.add()
        call = self._message.tool_calls[fragment.index]
        call.id = call.id or fragment.id
        call.name = call.name or fragment.name
        call.arguments += fragment.arguments

    def message(self) -> pb.Message:
        """The whole streamed answer, as the unstreamed call would have returned it."""
        message = pb.Message()
        message.CopyFrom(self._message)
        text = "".join(self._texts)
        if text:
            message.content.add(text=text)
        message.reasoning = "".join(self._reasoning)
        return message

    def final(self, request: pb.GenerateRequest) -> pb.FinalChunk:
        # No finish_reason but a [DONE]: the server said it finished, without saying why.
        reason = pb.FINISH_REASON_STOP if self.finish_reason is None else self.finish_reason
        usage = self.usage or estimate_usage(request, output_text(self.message()))
        return pb.FinalChunk(finish_reason=reason, usage=usage)


def error_in_body(obj: Any) -> tuple[str, int | None] | None:
    """(message, HTTP status if the server gave one) of an error reported inside a 200 stream or body.

    OpenAI, vLLM and OpenRouter send `{"error": {"message", "code", ...}}`;
    older vLLM sent `{"object": "error", "message", "code"}`.
    """
    if not isinstance(obj, dict):
        return None
    error = obj.get("error")
    if not error and obj.get("object") == "error":
        error = obj
    if not error:
        return None
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        status = code if isinstance(code, int) and not isinstance(code, bool) else None
        if status is None and isinstance(code, str) and code.isdigit():
            status = int(code)
        text = message if isinstance(message, str) and message else orjson.dumps(error).decode()
        return text, status
    return str(error), None


# --- the provider ------------------------------------------------------------


class OpenAIProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        key = config.api_key.get_secret_value() if config.api_key else ""
        self.http = UpstreamHTTP(name, config, headers={"Authorization": f"Bearer {key}"} if key else {})

    @property
    def address(self) -> str:
        return self.http.address

    async def close(self) -> None:
        await self.http.close()

    def _wire_error(self, exc: WireError) -> GatewayError:
        return self.http.protocol_error(str(exc))

    def _raise_in_band(self, obj: Any) -> None:
        error = error_in_body(obj)
        if error is not None:
            raise self.http.in_band_error(*error)

    async def generate(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.GenerateResponse:
        prompt = is_prompt_request(request)
        body = completion_body(request, model, False) if prompt else chat_body(request, model, False)
        started = time.perf_counter_ns()
        obj = await self.http.request_json(
            "POST", "/completions" if prompt else "/chat/completions", timeout, body
        )
        total = time.perf_counter_ns() - started
        self._raise_in_band(obj)
        try:
            response = response_from_completion(obj) if prompt else response_from_chat(obj)
        except WireError as exc:
            raise self._wire_error(exc) from None
        if not response.HasField("usage"):
            response.usage.CopyFrom(estimate_usage(request, output_text(response.message)))
        response.timings.total_ns = total
        return response

    async def stream(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> AsyncIterator[pb.StreamChunk]:
        prompt = is_prompt_request(request)
        body = completion_body(request, model, True) if prompt else chat_body(request, model, True)
        path = "/completions" if prompt else "/chat/completions"
        state = StreamState()
        decoder = SSEDecoder()
        saw_done = False
        started = time.perf_counter_ns()
        first_chunk = 0
        async with self.http.open_stream(path, timeout, body) as response:
            lines = self.http.iter_lines(response)
            try:
                async for line in lines:
                    event = decoder.feed(line)
                    if event is None:
                        continue
                    if event.data.strip() == DONE:
                        saw_done = True
                        break
                    delta = state.consume(self._parse(event, terminated=True))
                    if delta is not None:
                        first_chunk = first_chunk or time.perf_counter_ns() - started
                        yield pb.StreamChunk(delta=delta)
                else:
                    # The body ended: an event left without its blank line still counts if whole.
                    tail = decoder.flush()
                    if tail is not None and tail.data.strip() == DONE:
                        saw_done = True
                    elif tail is not None:
                        delta = state.consume(self._parse(tail, terminated=False))
                        if delta is not None:
                            first_chunk = first_chunk or time.perf_counter_ns() - started
                            yield pb.StreamChunk(delta=delta)
            finally:
                # Close the line reader now, not at garbage collection, when the client goes away.
                close = getattr(lines, "aclose", None)
                if close is not None:
                    await close()
        # llama.cpp and some others omit [DONE]; a finish_reason is then the proof of a whole answer.
        if not saw_done and state.finish_reason is None:
            raise self.http.interrupted("the body ended before a finish_reason or [DONE]")
        final = state.final(request)
        total = time.perf_counter_ns() - started
        final.timings.total_ns = total
        final.timings.first_chunk_ns = first_chunk
        if first_chunk:
            final.timings.eval_ns = total - first_chunk
        yield pb.StreamChunk(final=final)

    def _parse(self, event: SSEEvent, terminated: bool) -> JSON:
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            if not terminated:
                raise self.http.interrupted("the body ended in the middle of an event") from None
            if event.event == "error":
                raise self.http.in_band_error(event.data) from None
            raise self.http.protocol_error(f"a stream event is not JSON: {event.data[:80]!r}") from None
        self._raise_in_band(obj)
        if event.event == "error":
            raise self.http.in_band_error(event.data)
        if not isinstance(obj, dict):
            raise self.http.protocol_error(f"a stream event is not a JSON object: {event.data[:80]!r}")
        return obj

    async def embed(
        self,
        request: pb.EmbedRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.EmbedResponse:
        if not request.input:
            raise invalid("input", "must not be empty")
        obj = await self.http.request_json("POST", "/embeddings", timeout, embed_body(request, model))
        self._raise_in_band(obj)
        try:
            return embed_response(obj, request)
        except WireError as exc:
            raise self._wire_error(exc) from None

    async def list_models(self, timeout: float) -> list[str]:
        obj = await self.http.request_json("GET", "/models", timeout)
        data = obj.get("data") if isinstance(obj, dict) else None
        if not isinstance(data, list):
            raise self.http.protocol_error("the /models reply has no data list")
        return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


def embed_response(obj: Any, request: pb.EmbedRequest) -> pb.EmbedResponse:
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, list) or len(data) != len(request.input):
        raise WireError(f"expected {len(request.input)} embeddings in data")
    items = sorted((d for d in data if isinstance(d, dict)), key=lambda d: _int(d.get("index")))
    response = pb.EmbedResponse()
    for item in items:
        values = item.get("embedding")
        if isinstance(values, str):
            # A server that ignored encoding_format=float: base64 of little-endian float32.
            floats = array("f")
            floats.frombytes(base64.b64decode(values))
            values = floats.tolist()
        if not isinstance(values, list):
            raise WireError("an embedding is not a list of numbers")
        response.embeddings.add(values=values)
    usage = obj.get("usage") if isinstance(obj, dict) else None
    if isinstance(usage, dict) and "prompt_tokens" in usage:
        tokens = _int(usage.get("prompt_tokens"))
        response.usage.CopyFrom(
            pb.Usage(input_tokens=tokens, total_tokens=_int(usage.get("total_tokens")) or tokens)
        )
    else:
        tokens = sum(count_text(text) for text in request.input)
        response.usage.CopyFrom(pb.Usage(input_tokens=tokens, total_tokens=tokens, estimated=True))
    return response
