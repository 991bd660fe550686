"""/api/chat messages and tools → canonical: roles, images, and tool calls paired with their results."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from model_gateway_bridge.fields import show
from model_gateway_bridge.surfaces.ollama.errors import FIELDS as read
from model_gateway_bridge.surfaces.ollama.errors import INVALID
from model_gateway_common.structs import dict_to_struct
from model_gateway_common.vocab.ollama import ROLE_BY_NAME
from modelgateway.v1 import gateway_pb2 as pb


def read_messages(items: list[Any]) -> list[pb.Message]:
    """/api/chat messages. Tool results carry only `tool_name` in Ollama; each
    is paired with the earliest unanswered call of that name, whose id becomes
    its tool_call_id."""
    out: list[pb.Message] = []
    unanswered: list[pb.ToolCall] = []
    for i, item in enumerate(items):
        where = f"messages[{i}]"
        obj = read.object(item, where)
        role_name = read.string(obj.get("role"), f"{where}.role")
        role = ROLE_BY_NAME.get(role_name)
        if role is None:
            raise INVALID.wrong_value(
                f"{where}.role", f"unknown role {show(role_name)}; expected system, user, assistant or tool"
            )
        message = pb.Message(role=role, reasoning=read.string(obj.get("thinking"), f"{where}.thinking"))
        content = read.string(obj.get("content"), f"{where}.content")
        if content:
            message.content.append(pb.ContentPart(text=content))
        message.content.extend(images(obj.get("images"), f"{where}.images"))
        for j, call in enumerate(read.array(obj.get("tool_calls"), f"{where}.tool_calls")):
            message.tool_calls.append(_tool_call(call, f"{where}.tool_calls[{j}]", f"call_{i}_{j}"))
        if message.tool_calls:
            unanswered = list(message.tool_calls)
        if role == pb.ROLE_TOOL:
            name = read.string(obj.get("tool_name"), f"{where}.tool_name")
            call_id = read.string(obj.get("tool_call_id"), f"{where}.tool_call_id")
            # Without an id, the earliest unanswered call of that name (any name
            # when none is given, as older Ollama clients send) is the one answered.
            match = next(
                (c for c in unanswered if c.id == call_id or (not call_id and name in (c.name, ""))), None
            )
            if match is not None:
                unanswered.remove(match)
                call_id = call_id or match.id
                name = name or match.name
            message.name = name
            message.tool_call_id = call_id or name
        out.append(message)
    return out


def read_tools(value: Any) -> list[pb.Tool]:
    result: list[pb.Tool] = []
    for i, item in enumerate(read.array(value, "tools")):
        where = f"tools[{i}]"
        function = read.object(read.object(item, where).get("function"), f"{where}.function")
        tool = pb.Tool(
            name=read.string(function.get("name"), f"{where}.function.name"),
            description=read.string(function.get("description"), f"{where}.function.description"),
        )
        if function.get("parameters") is not None:
            parameters = read.object(function["parameters"], f"{where}.function.parameters")
            dict_to_struct(parameters, tool.parameters)
        result.append(tool)
    return result


def image_part(value: Any, where: str) -> pb.ImagePart:
    """One entry of an `images` list: base64 bytes (a data: URL is accepted too)."""
    text = read.string(value, where)
    mime = ""
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        mime = header[5:].split(";", 1)[0]
    try:
        # Go's base64 decoder skips line breaks, so the bridge does too.
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise INVALID.wrong_value(where, "not valid base64 image data") from None
    if not data:
        raise INVALID.wrong_value(where, "the image is empty")
    # The mime type is left to the provider to sniff when the client sent bare base64.
    return pb.ImagePart(data=data, mime_type=mime)


def images(value: Any, where: str) -> list[pb.ContentPart]:
    items = read.array(value, where)
    return [pb.ContentPart(image=image_part(item, f"{where}[{j}]")) for j, item in enumerate(items)]


def _tool_call(value: Any, where: str, default_id: str) -> pb.ToolCall:
    call = read.object(value, where)
    function = read.object(call.get("function"), f"{where}.function")
    arguments = function.get("arguments")
    if arguments is None:
        text = "{}"
    elif isinstance(arguments, dict):
        text = orjson.dumps(arguments).decode()
    elif isinstance(arguments, str):
        text = arguments  # already JSON; the gateway checks it is an object
    else:
        raise read.wrong_type(f"{where}.function.arguments", "object", arguments)
    return pb.ToolCall(
        # The ollama clients drop call ids; a stable made-up one lets OpenAI-style
        # upstreams pair the call with its result (and keeps equal requests equal).
        id=read.string(call.get("id"), f"{where}.id") or default_id,
        name=read.string(function.get("name"), f"{where}.function.name"),
        arguments=text,
    )
