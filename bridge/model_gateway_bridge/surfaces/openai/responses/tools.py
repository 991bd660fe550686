"""Responses tools and tool_choice → canonical tools, and the names calls are answered with.

- `function` tools become canonical tools as they are (`strict` kept).
- `namespace` tools (a named group of function tools) are flattened: each
  function becomes `<namespace>__<name>` (made unique, at most 64 characters
  of [A-Za-z0-9_-], as every upstream accepts), and a call of that name is
  answered as `{"name": <name>, "namespace": <namespace>}` again.
- Hosted tools (`web_search`, `file_search`, `code_interpreter`,
  `local_shell`, `custom`, `mcp`, ...) need OpenAI's own Responses runtime;
  no configured provider calls that API, so they are dropped and named in
  the `x-gateway-dropped-tools` response header, never sent where an
  upstream would reject them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from model_gateway_bridge.fields import JSON, show
from model_gateway_bridge.surfaces.openai.errors import FIELDS as read
from model_gateway_bridge.surfaces.openai.errors import PARAMS
from model_gateway_common.structs import dict_to_struct
from modelgateway.v1 import gateway_pb2 as pb

MAX_NAME = 64
SEPARATOR = "__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

_MODES: dict[str, pb.ToolChoice.Mode.ValueType] = {
    "auto": pb.ToolChoice.MODE_AUTO,
    "none": pb.ToolChoice.MODE_NONE,
    "required": pb.ToolChoice.MODE_REQUIRED,
}


@dataclass(slots=True)
class Tools:
    """The request's tools as the gateway will send them, and what became of the rest."""

    # flat canonical name → (namespace, name in the namespace), for namespaced functions only
    namespaced: dict[str, tuple[str, str]] = field(default_factory=dict)
    echo: list[JSON] = field(default_factory=list)  # the kept tools, as the Response repeats them
    dropped: list[str] = field(default_factory=list)  # hosted tools: "web_search", "custom:apply_patch"
    tool_choice: Any = "auto"  # as the Response repeats it
    choice_dropped: bool = False  # the choice named a dropped tool

    def answer_name(self, canonical: str) -> tuple[str, str | None]:
        """A call's (name, namespace) as the client knows the tool."""
        pair = self.namespaced.get(canonical)
        return (pair[1], pair[0]) if pair else (canonical, None)

    def canonical_name(self, name: str, namespace: str | None) -> str:
        """The name the gateway sent for a tool the client names (an earlier call, a choice)."""
        if namespace:
            for flat, pair in self.namespaced.items():
                if pair == (namespace, name):
                    return flat
            return flat_name(namespace, name, set())
        return name


def flat_name(namespace: str, name: str, taken: set[str]) -> str:
    """`<namespace>__<name>`, made safe, short enough and unique among `taken`."""
    base = _UNSAFE.sub("_", f"{namespace}{SEPARATOR}{name}")
    if len(base) > MAX_NAME:
        digest = hashlib.sha256(base.encode()).hexdigest()[:8]
        base = f"{base[: MAX_NAME - 9]}_{digest}"
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate, n = base[: MAX_NAME - len(suffix)] + suffix, n + 1
    return candidate


def _hosted_label(tool: JSON) -> str:
    kind = str(tool.get("type"))
    name = tool.get("name") or tool.get("server_label")
    return f"{kind}:{name}" if isinstance(name, str) and name else kind


def read_tools(value: Any, request: pb.GenerateRequest) -> Tools:
    tools = Tools()
    raw_tools = read.array(value, "tools")
    # Plain function names first: namespaced ones must not take a name a plain tool has.
    taken = {
        t["name"]
        for t in raw_tools
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)
    }
    for i, raw in enumerate(raw_tools):
        where = f"tools[{i}]"
        tool = read.object(raw, where)
        kind = tool.get("type")
        if kind == "function":
            request.tools.append(_function(tool, where, tool.get("name")))
            tools.echo.append(_function_echo(request.tools[-1], tool))
        elif kind == "namespace":
            _namespace(tool, where, request, tools, taken)
        elif isinstance(kind, str) and kind:
            tools.dropped.append(_hosted_label(tool))
        else:
            raise PARAMS.wrong_value(f"{where}.type", f"expected a tool type, got {show(kind)}")
    return tools


def _function(tool: JSON, where: str, name: Any, flat: str | None = None) -> pb.Tool:
    checked = read.required_string(name, f"{where}.name")
    out = pb.Tool(
        name=flat or checked,
        description=read.string(tool.get("description"), f"{where}.description"),
        strict=read.boolean(tool.get("strict"), f"{where}.strict"),
    )
    if tool.get("parameters") is not None:
        dict_to_struct(read.object(tool["parameters"], f"{where}.parameters"), out.parameters)
    return out


def _function_echo(tool: pb.Tool, raw: JSON, name: str | None = None) -> JSON:
    """The tool as the Response repeats it: the client's own schema, key order kept."""
    return {
        "type": "function",
        "name": name or tool.name,
        "description": tool.description or None,
        "parameters": raw.get("parameters"),
        "strict": tool.strict,
    }


def _namespace(tool: JSON, where: str, request: pb.GenerateRequest, tools: Tools, taken: set[str]) -> None:
    namespace = read.required_string(tool.get("name"), f"{where}.name")
    description = read.string(tool.get("description"), f"{where}.description")
    echo: list[JSON] = []
    for j, raw in enumerate(read.array(tool.get("tools"), f"{where}.tools")):
        inner_where = f"{where}.tools[{j}]"
        inner = read.object(raw, inner_where)
        kind = inner.get("type", "function")
        if not isinstance(kind, str) or not kind:
            raise PARAMS.wrong_value(f"{inner_where}.type", f"expected a tool type, got {show(kind)}")
        if kind != "function":
            tools.dropped.append(f"{namespace}.{_hosted_label(inner)}")
            continue
        name = read.required_string(inner.get("name"), f"{inner_where}.name")
        flat = flat_name(namespace, name, taken)
        taken.add(flat)
        canonical = _function(inner, inner_where, name, flat)
        echo.append(_function_echo(canonical, inner, name))
        if description and not canonical.description:
            canonical.description = description  # the model sees no namespace: its description stands in
        request.tools.append(canonical)
        tools.namespaced[flat] = (namespace, name)
    tools.echo.append({"type": "namespace", "name": namespace, "description": description, "tools": echo})


def read_tool_choice(value: Any, request: pb.GenerateRequest, tools: Tools) -> None:
    """auto | none | required | {type: function, name} | {type: allowed_tools, mode, tools};
    a choice of a hosted (dropped) tool becomes auto."""
    if value is None:
        return
    if isinstance(value, str):
        mode = _MODES.get(value)
        if mode is None:
            raise PARAMS.wrong_value(
                "tool_choice", f"expected auto, none, required or a tool, got {show(value)}"
            )
        request.tool_choice.mode = mode
        tools.tool_choice = value
        return
    choice = read.object(value, "tool_choice")
    kind = choice.get("type")
    if kind == "function":
        name = read.required_string(choice.get("name"), "tool_choice.name")
        namespace = read.string(choice.get("namespace"), "tool_choice.namespace") or None
        canonical = tools.canonical_name(name, namespace)
        if namespace is None and not any(t.name == name for t in request.tools):
            # A bare name may be a namespaced function's: unique, it is that one.
            matches = [flat for flat, pair in tools.namespaced.items() if pair[1] == name]
            canonical = matches[0] if len(matches) == 1 else name
        request.tool_choice.CopyFrom(pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name=canonical))
        tools.tool_choice = {"type": "function", "name": name}
    elif kind == "allowed_tools":
        _allowed_tools(choice, request, tools)
    elif isinstance(kind, str) and kind:
        tools.choice_dropped = True  # a hosted tool's choice: the tool is gone, the model chooses
        request.tool_choice.mode = pb.ToolChoice.MODE_AUTO
    else:
        raise PARAMS.wrong_value("tool_choice.type", f"expected a tool type, got {show(kind)}")


def _allowed_tools(choice: JSON, request: pb.GenerateRequest, tools: Tools) -> None:
    """Only the listed function tools stay; the mode says whether one must be called."""
    mode = choice.get("mode", "auto")
    if mode not in ("auto", "required"):
        raise PARAMS.wrong_value("tool_choice.mode", f"expected auto or required, got {show(mode)}")
    allowed: set[str] = set()
    for i, raw in enumerate(read.array(choice.get("tools"), "tool_choice.tools")):
        entry = read.object(raw, f"tool_choice.tools[{i}]")
        if entry.get("type") == "function":
            name = read.required_string(entry.get("name"), f"tool_choice.tools[{i}].name")
            namespace = read.string(entry.get("namespace"), f"tool_choice.tools[{i}].namespace")
            allowed.add(tools.canonical_name(name, namespace or None))
    kept = [t for t in request.tools if t.name in allowed]
    del request.tools[:]
    request.tools.extend(kept)
    request.tool_choice.mode = _MODES[mode]
    tools.tool_choice = choice
