"""Tool definitions and the tool choice → canonical, in both of OpenAI's forms:
`tools`/`tool_choice` and the deprecated `functions`/`function_call`."""

from __future__ import annotations

from typing import Any

from model_gateway_bridge.fields import show
from model_gateway_bridge.surfaces.openai.errors import FIELDS as read
from model_gateway_bridge.surfaces.openai.errors import PARAMS
from model_gateway_common.structs import dict_to_struct
from modelgateway.v1 import gateway_pb2 as pb

_TOOL_CHOICE_MODES: dict[str, pb.ToolChoice.Mode.ValueType] = {
    "auto": pb.ToolChoice.MODE_AUTO,
    "none": pb.ToolChoice.MODE_NONE,
    "required": pb.ToolChoice.MODE_REQUIRED,
}


def read_tools(body: dict[str, Any], request: pb.GenerateRequest) -> bool:
    """The tools and the tool choice; True when they came as legacy `functions`
    (then the answer names its call `function_call` too)."""
    legacy = body.get("tools") is None and body.get("functions") is not None
    for i, tool in enumerate(read.array(body.get("tools"), "tools")):
        where = f"tools[{i}]"
        tool = read.object(tool, where)
        if tool.get("type", "function") != "function":
            raise PARAMS.wrong_value(
                f"{where}.type", f"only function tools are supported, got {show(tool['type'])}"
            )
        request.tools.append(_function(tool.get("function"), f"{where}.function"))
    for i, function in enumerate(read.array(body.get("functions"), "functions") if legacy else ()):
        request.tools.append(_function(function, f"functions[{i}]"))
    if body.get("tool_choice") is not None:
        request.tool_choice.CopyFrom(_tool_choice(body["tool_choice"]))
    elif legacy and body.get("function_call") is not None:
        request.tool_choice.CopyFrom(_function_call_choice(body["function_call"]))
    return legacy


def _function(raw: Any, where: str) -> pb.Tool:
    function = read.object(raw, where)
    tool = pb.Tool(
        name=read.required_string(function.get("name"), f"{where}.name"),
        description=read.string(function.get("description"), f"{where}.description"),
        strict=read.boolean(function.get("strict"), f"{where}.strict"),
    )
    if function.get("parameters") is not None:
        dict_to_struct(read.object(function["parameters"], f"{where}.parameters"), tool.parameters)
    return tool


def _tool_choice(value: Any) -> pb.ToolChoice:
    if isinstance(value, str):
        mode = _TOOL_CHOICE_MODES.get(value)
        if mode is None:
            raise PARAMS.wrong_value(
                "tool_choice", f"expected auto, none, required or a function, got {show(value)}"
            )
        return pb.ToolChoice(mode=mode)
    choice = read.object(value, "tool_choice")
    if choice.get("type") != "function":
        raise PARAMS.wrong_value(
            "tool_choice.type", f"only function tool choices are supported, got {show(choice.get('type'))}"
        )
    function = read.object(choice.get("function"), "tool_choice.function")
    name = read.required_string(function.get("name"), "tool_choice.function.name")
    return pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name=name)


def _function_call_choice(value: Any) -> pb.ToolChoice:
    """The deprecated `function_call`: "auto", "none" or {"name": ...}."""
    if value in ("auto", "none"):
        return pb.ToolChoice(mode=_TOOL_CHOICE_MODES[value])
    choice = read.object(value, "function_call")
    name = read.required_string(choice.get("name"), "function_call.name")
    return pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name=name)
