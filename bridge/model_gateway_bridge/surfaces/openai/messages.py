"""Chat Completions messages → canonical messages: roles, content parts and earlier tool calls."""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from model_gateway_bridge.fields import show
from model_gateway_bridge.surfaces.openai.errors import FIELDS as read
from model_gateway_bridge.surfaces.openai.errors import PARAMS
from model_gateway_common.vocab.openai import ROLE_BY_NAME
from modelgateway.v1 import gateway_pb2 as pb


def read_messages(messages: list[Any], out: RepeatedCompositeFieldContainer[pb.Message]) -> None:
    # The deprecated `function_call` of an assistant turn has no id; one is made up
    # so the `function` result after it can point at its call.
    legacy_ids: dict[str, str] = {}
    for i, raw in enumerate(messages):
        where = f"messages[{i}]"
        obj = read.object(raw, where)
        role_name = obj.get("role")
        role = ROLE_BY_NAME.get(role_name) if isinstance(role_name, str) else None
        if role is None:
            raise PARAMS.wrong_value(
                f"{where}.role",
                f"expected one of system, developer, user, assistant, tool, got {show(role_name)}",
            )
        message = out.add(role=role, name=read.string(obj.get("name"), f"{where}.name"))
        content = obj.get("content")
        if role_name == "assistant":
            for j, call in enumerate(read.array(obj.get("tool_calls"), f"{where}.tool_calls")):
                _tool_call(call, f"{where}.tool_calls[{j}]", message.tool_calls)
            if obj.get("function_call") is not None:
                call_id = f"call_{i}"
                legacy_ids[_function_call(obj["function_call"], where, call_id, message.tool_calls)] = call_id
            # DeepSeek's and vLLM's name for the reasoning of an earlier turn.
            message.reasoning = read.string(obj.get("reasoning_content"), f"{where}.reasoning_content")
        elif content is None:
            raise PARAMS.missing(f"{where}.content")
        _content(content, where, message.content)
        if role_name == "tool":
            message.tool_call_id = read.required_string(obj.get("tool_call_id"), f"{where}.tool_call_id")
        elif role_name == "function":
            message.name = read.required_string(obj.get("name"), f"{where}.name")
            message.tool_call_id = legacy_ids.get(message.name, "")


def _content(value: Any, where: str, out: RepeatedCompositeFieldContainer[pb.ContentPart]) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if value:
            out.add(text=value)
        return
    for j, raw in enumerate(read.array(value, f"{where}.content")):
        part_where = f"{where}.content[{j}]"
        part = read.object(raw, part_where)
        kind = part.get("type")
        if kind == "text":
            out.add(text=read.string(part.get("text"), f"{part_where}.text"))
        elif kind == "refusal":  # an assistant turn that refused: its text is the content
            out.add(text=read.string(part.get("refusal"), f"{part_where}.refusal"))
        elif kind == "image_url":
            image = part.get("image_url")
            if isinstance(image, str):  # the early vision preview took the URL bare
                image = {"url": image}
            image = read.object(image, f"{part_where}.image_url")
            url = read.required_string(image.get("url"), f"{part_where}.image_url.url")
            detail = read.string(image.get("detail"), f"{part_where}.image_url.detail")
            out.add(image=pb.ImagePart(url=url, detail=detail))  # data: URLs stay as they are
        else:
            raise PARAMS.wrong_value(
                f"{part_where}.type",
                f"expected text or image_url (other parts are not supported), got {show(kind)}",
            )


def _arguments(value: Any, param: str) -> str:
    """Tool-call arguments: a JSON string; an object (some clients send one) is serialized."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    text = read.string(value, param)
    if text:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PARAMS.wrong_value(param, f"expected a JSON string, got {show(text)} ({exc})") from None
    return text


def _tool_call(raw: Any, where: str, out: RepeatedCompositeFieldContainer[pb.ToolCall]) -> None:
    call = read.object(raw, where)
    if call.get("type", "function") != "function":
        raise PARAMS.wrong_value(
            f"{where}.type", f"only function tool calls are supported, got {show(call['type'])}"
        )
    function = read.object(call.get("function"), f"{where}.function")
    out.add(
        id=read.string(call.get("id"), f"{where}.id"),
        name=read.required_string(function.get("name"), f"{where}.function.name"),
        arguments=_arguments(function.get("arguments"), f"{where}.function.arguments"),
    )


def _function_call(
    raw: Any, where: str, call_id: str, out: RepeatedCompositeFieldContainer[pb.ToolCall]
) -> str:
    """The deprecated single `function_call` of an assistant turn; returns the function's name."""
    call = read.object(raw, f"{where}.function_call")
    name = read.required_string(call.get("name"), f"{where}.function_call.name")
    arguments = _arguments(call.get("arguments"), f"{where}.function_call.arguments")
    out.add(id=call_id, name=name, arguments=arguments)
    return name
