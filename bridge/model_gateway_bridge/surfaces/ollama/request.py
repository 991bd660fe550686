"""/api/chat and /api/generate bodies → the canonical GenerateRequest.

`options` (whole), `keep_alive`, `think`, `raw`, `suffix` and `template`
travel in provider_options, so an Ollama upstream gets them untouched; the
options with a canonical meaning (temperature, num_predict, ...) also fill
the canonical sampling, so every other provider honours them too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from model_gateway_bridge.fields import INT32, INT64, JSON
from model_gateway_bridge.surfaces.ollama.errors import FIELDS as read
from model_gateway_bridge.surfaces.ollama.errors import INVALID
from model_gateway_bridge.surfaces.ollama.messages import images, read_messages, read_tools
from model_gateway_common.structs import dict_to_struct
from modelgateway.v1 import gateway_pb2 as pb

# Top-level request fields an Ollama upstream understands and the canonical
# schema does not: passed through in provider_options as they came.
_CHAT_EXTRAS = ("keep_alive", "think")
_GENERATE_EXTRAS = ("keep_alive", "think", "raw", "suffix", "template")

# keep_alive of zero (a number of seconds or a Go duration such as "0s") unloads a model.
_ZERO_DURATION = re.compile(r"[+-]?(0+\.?0*|\.0+)(ns|us|µs|ms|s|m|h)?")


@dataclass(frozen=True, slots=True)
class Parsed:
    """A translated /api/chat or /api/generate body."""

    request: pb.GenerateRequest
    stream: bool
    # "load" or "unload" when the body asks for no generation at all: Ollama
    # answers an empty prompt or message list at once, with this done_reason.
    load: str | None = None


def model(body: JSON) -> str:
    return read.required_string(body.get("model"), "model")


def chat_request(body: JSON) -> Parsed:
    """A POST /api/chat body as a canonical request."""
    request = pb.GenerateRequest(model=model(body))
    stream = _stream(body)
    _apply_common(request, body, _CHAT_EXTRAS)
    request.tools.extend(read_tools(body.get("tools")))
    items = read.array(body.get("messages"), "messages")
    if not items:
        return Parsed(request, stream, _load_reason(body))
    request.messages.extend(read_messages(items))
    return Parsed(request, stream)


def generate_request(body: JSON) -> Parsed:
    """A POST /api/generate body as a canonical request (a raw prompt, or messages when it has images)."""
    request = pb.GenerateRequest(model=model(body))
    stream = _stream(body)
    _apply_common(request, body, _GENERATE_EXTRAS)
    prompt = read.string(body.get("prompt"), "prompt")
    system = read.string(body.get("system"), "system")
    pictures = images(body.get("images"), "images")
    if not prompt:
        return Parsed(request, stream, _load_reason(body))
    if pictures:
        # The canonical raw prompt has no images: say the same as messages.
        if system:
            request.messages.append(pb.Message(role=pb.ROLE_SYSTEM, content=[pb.ContentPart(text=system)]))
        user = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=prompt)])
        user.content.extend(pictures)
        request.messages.append(user)
    else:
        request.prompt, request.system = prompt, system
    return Parsed(request, stream)


def _stream(body: JSON) -> bool:
    # Go's *bool: absent or null means the default, which is to stream.
    return read.boolean(body.get("stream"), "stream", default=True)


def _load_reason(body: JSON) -> str:
    keep_alive = body.get("keep_alive")
    if isinstance(keep_alive, int | float) and not isinstance(keep_alive, bool) and keep_alive == 0:
        return "unload"
    if isinstance(keep_alive, str) and keep_alive and _ZERO_DURATION.fullmatch(keep_alive):
        return "unload"
    return "load"


def sampling(options: JSON) -> pb.Sampling:
    """The options with a canonical meaning. Values Ollama reads as "no limit" or
    "random" leave the field unset; they still reach an Ollama upstream in
    provider_options."""
    result = pb.Sampling()
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if options.get(name) is not None:
            setattr(result, name, read.number(options[name], f"options.{name}"))
    if options.get("top_k") is not None:
        top_k = read.integer(options["top_k"], "options.top_k", INT32)
        if top_k > 0:  # 0 or less disables top-k sampling in llama.cpp
            result.top_k = top_k
    if options.get("num_predict") is not None:
        num_predict = read.integer(options["num_predict"], "options.num_predict", INT32)
        if num_predict > 0:  # -1 is unlimited, -2 fills the context
            result.max_tokens = num_predict
    if options.get("seed") is not None:
        seed = read.integer(options["seed"], "options.seed", INT64)
        if seed >= 0:  # -1 asks for a random seed
            result.seed = seed
    stop = options.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    for i, item in enumerate(read.array(stop, "options.stop")):
        if not isinstance(item, str):
            raise read.wrong_type(f"options.stop[{i}]", "string", item)
        result.stop.append(item)
    return result


def _apply_common(request: pb.GenerateRequest, body: JSON, extra_keys: Iterable[str]) -> None:
    """format, options and the pass-through fields, shared by /api/chat and /api/generate."""
    fmt = body.get("format")
    if fmt == "json":
        request.response_format.type = pb.ResponseFormat.TYPE_JSON_OBJECT
    elif isinstance(fmt, dict):
        request.response_format.type = pb.ResponseFormat.TYPE_JSON_SCHEMA
        dict_to_struct(fmt, request.response_format.schema)
    elif fmt not in (None, ""):
        raise INVALID.wrong_type("format", '"json" or a JSON schema object', fmt)

    extras: JSON = {}
    if body.get("options") is not None:
        options = read.object(body["options"], "options")
        request.sampling.CopyFrom(sampling(options))
        extras["options"] = options
    for key in extra_keys:
        if body.get(key) is not None:
            extras[key] = body[key]
    check_extras(extras)
    if extras:
        dict_to_struct(extras, request.provider_options)


def check_extras(extras: JSON) -> None:
    """Types as Ollama's Go structs declare them, so a bad value fails here, by name."""
    keep_alive = extras.get("keep_alive")
    if keep_alive is not None and (
        isinstance(keep_alive, bool) or not isinstance(keep_alive, str | int | float)
    ):
        raise INVALID.wrong_type("keep_alive", 'a duration such as "5m" or a number of seconds', keep_alive)
    think = extras.get("think")
    if think is not None and not isinstance(think, bool | str):
        raise INVALID.wrong_type("think", 'true, false, "low", "medium" or "high"', think)
    read.optional_boolean(extras.get("raw"), "raw")
    read.string(extras.get("suffix"), "suffix")
    read.string(extras.get("template"), "template")
