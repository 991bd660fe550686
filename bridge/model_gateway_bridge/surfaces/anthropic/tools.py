"""`tools` and `tool_choice` → canonical.

Custom tools (no `type`, or `"custom"`) carry their `input_schema` as the
canonical parameters. Server tools (web_search, web_fetch, code_execution,
...) and Anthropic-defined client tools (bash, text_editor, computer) have
no schema the canonical request can carry: they are left out and named in
the reply's x-gateway-dropped-tools header, and a tool_choice that forces
one of them is left out too (x-gateway-dropped-params).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from model_gateway_bridge.fields import JSON, show
from model_gateway_bridge.surfaces.anthropic.errors import FIELDS as read
from model_gateway_bridge.surfaces.anthropic.errors import INVALID
from model_gateway_common.structs import dict_to_struct
from modelgateway.v1 import gateway_pb2 as pb

_CHOICES: dict[str, pb.ToolChoice.Mode.ValueType] = {
    "auto": pb.ToolChoice.MODE_AUTO,
    "any": pb.ToolChoice.MODE_REQUIRED,
    "tool": pb.ToolChoice.MODE_FUNCTION,
    "none": pb.ToolChoice.MODE_NONE,
}


@dataclass(slots=True)
class ToolsRead:
    dropped_tools: list[str] = field(default_factory=list)  # server tools, by name
    dropped_params: list[str] = field(default_factory=list)
    cache_control: JSON | None = None  # the last tool's cache_control breakpoint


def read_tools(body: JSON, request: pb.GenerateRequest) -> ToolsRead:
    result = ToolsRead()
    for i, raw in enumerate(read.array(body.get("tools"), "tools")):
        where = f"tools.{i}"
        tool = read.object(raw, where)
        kind = read.string(tool.get("type"), f"{where}.type") or "custom"
        name = read.string(tool.get("name"), f"{where}.name")
        description = read.string(tool.get("description"), f"{where}.description")
        strict = read.boolean(tool.get("strict"), f"{where}.strict")
        schema = tool.get("input_schema")
        if schema is not None:
            schema = read.object(schema, f"{where}.input_schema")
        marker = tool.get("cache_control")
        if marker is not None:
            result.cache_control = read.object(marker, f"{where}.cache_control")
        if kind != "custom":
            result.dropped_tools.append(name or kind)
            continue
        if not name.strip():
            raise INVALID.missing(f"{where}.name") if not name else INVALID.empty(f"{where}.name")
        if schema is None:
            raise INVALID.missing(f"{where}.input_schema")
        out = pb.Tool(name=name, description=description, strict=strict)
        dict_to_struct(schema, out.parameters)
        request.tools.append(out)
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], request, result)
    return result


def _tool_choice(value: Any, request: pb.GenerateRequest, result: ToolsRead) -> None:
    choice = read.object(value, "tool_choice")
    kind = choice.get("type")
    mode = _CHOICES.get(kind) if isinstance(kind, str) else None
    if mode is None:
        raise INVALID.wrong_value(
            "tool_choice.type", f"Input should be 'auto', 'any', 'tool' or 'none', got {show(kind)}"
        )
    name = read.string(choice.get("name"), "tool_choice.name")
    if kind == "tool" and not name.strip():
        raise INVALID.missing("tool_choice.name")
    name = name if kind == "tool" else ""
    if read.boolean(choice.get("disable_parallel_tool_use"), "tool_choice.disable_parallel_tool_use"):
        result.dropped_params.append("tool_choice.disable_parallel_tool_use")
    names = {tool.name for tool in request.tools}
    forced = mode in (pb.ToolChoice.MODE_REQUIRED, pb.ToolChoice.MODE_FUNCTION)
    if result.dropped_tools and forced and (not names or (name and name not in names)):
        result.dropped_params.append("tool_choice")  # it forces a tool the request no longer offers
        return
    request.tool_choice.CopyFrom(pb.ToolChoice(mode=mode, function_name=name))
