"""Responses `input` → canonical messages: message, function_call, function_call_output and
reasoning items (and custom tool calls, kept as function calls).

A turn of the model is several items in a row (reasoning, a message, its
function calls); they become one canonical assistant message, reasoning
first. A reasoning item's summary becomes the message's reasoning text; its
`encrypted_content` brings back the signed reasoning the gateway handed out
(see reasoning.py). Records of hosted tools' calls (`web_search_call`, ...)
mean nothing to another model and are dropped; an item type the API does
not define is a 400 naming the type and its index.
"""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from model_gateway_bridge.fields import JSON, show
from model_gateway_bridge.surfaces.openai.errors import FIELDS as read
from model_gateway_bridge.surfaces.openai.errors import PARAMS
from model_gateway_bridge.surfaces.openai.responses import reasoning
from model_gateway_bridge.surfaces.openai.responses.tools import Tools
from modelgateway.v1 import gateway_pb2 as pb

_ROLES: dict[str, pb.Role.ValueType] = {
    "user": pb.ROLE_USER,
    "assistant": pb.ROLE_ASSISTANT,
    "system": pb.ROLE_SYSTEM,
    "developer": pb.ROLE_DEVELOPER,
}
# Records of hosted tools' work: another model can neither read nor repeat them.
HOSTED_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "computer_call",
        "computer_call_output",
        "code_interpreter_call",
        "image_generation_call",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_call",
        "tool_search_call",
        "tool_search_output",
        "compaction",
    }
)
_KNOWN = ("message", "function_call", "function_call_output", "reasoning", "custom_tool_call")


class InputReader:
    """Reads the items in order into `out`; what it drops is listed in `dropped`."""

    def __init__(self, out: RepeatedCompositeFieldContainer[pb.Message], tools: Tools) -> None:
        self.out = out
        self.tools = tools
        self.dropped: list[str] = []
        self._calls: dict[str, str] = {}  # call_id → canonical tool name, for results to match
        self._reasoning: list[str] = []  # summary text waiting for its turn's output
        self._parts: list[pb.ReasoningPart] = []  # signed reasoning waiting likewise
        self._pending = False  # a reasoning item opened a turn that has no output yet
        self._signatures: dict[str, str] = {}  # call_id → the provider's signature on that call

    def read(self, value: Any) -> None:
        if isinstance(value, str):
            if not value:
                raise PARAMS.wrong_value("input", "must not be empty")
            self.out.add(role=pb.ROLE_USER, content=[pb.ContentPart(text=value)])
            return
        if value is None:
            raise PARAMS.missing("input")
        items = read.array(value, "input")
        if not items:
            raise PARAMS.wrong_value("input", "must contain at least one item")
        for i, raw in enumerate(items):
            self._item(read.object(raw, f"input[{i}]"), i)
        for message in self.out:
            for call in message.tool_calls:
                if call.id in self._signatures:
                    call.signature = self._signatures[call.id]
        if not self.out:
            raise PARAMS.wrong_value("input", "has no message the model could read (every item was dropped)")

    def _item(self, item: JSON, index: int) -> None:
        where = f"input[{index}]"
        kind = item.get("type")
        if kind is None and "role" in item:
            kind = "message"  # EasyInputMessage: {"role", "content"} without a type
        if kind == "message":
            self._message(item, where)
        elif kind == "function_call":
            self._function_call(item, where)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self._output(item, where)
        elif kind == "reasoning":
            self._reasoning_item(item, where)
        elif kind == "custom_tool_call":
            self._custom_call(item, where)
        elif kind == "item_reference":
            raise PARAMS.wrong_value(
                f"{where}.type",
                "item_reference needs stored responses, which this gateway does not keep; "
                "send the item itself",
            )
        elif isinstance(kind, str) and kind in HOSTED_ITEMS:
            self.dropped.append(f"input.{kind}")
        elif kind is None:
            raise PARAMS.missing(f"{where}.type")
        else:
            raise PARAMS.wrong_value(
                f"{where}.type",
                f"unknown input item type {show(kind)} at input index {index} "
                f"(supported: {', '.join(_KNOWN)})",
            )

    # --- the model's turns -----------------------------------------------------------------

    def _turn(self) -> pb.Message:
        """The assistant message this item belongs to: the last one, unless a new turn began."""
        last = self.out[-1] if self.out else None
        if last is not None and last.role == pb.ROLE_ASSISTANT and not self._pending:
            return last
        message = self.out.add(role=pb.ROLE_ASSISTANT)
        message.content.extend(pb.ContentPart(reasoning=part) for part in self._parts)
        message.reasoning = "\n\n".join(self._reasoning)
        self._reasoning, self._parts, self._pending = [], [], False
        return message

    def _reasoning_item(self, item: JSON, where: str) -> None:
        texts = []
        for key in ("summary", "content"):
            for j, raw in enumerate(read.array(item.get(key), f"{where}.{key}")):
                part = read.object(raw, f"{where}.{key}[{j}]")
                texts.append(read.string(part.get("text"), f"{where}.{key}[{j}].text"))
            if texts:
                break  # a summary stands for the content; the content only when there is no summary
        encrypted = read.string(item.get("encrypted_content"), f"{where}.encrypted_content")
        carried = reasoning.decode(encrypted) if encrypted else reasoning.Carried()
        self._signatures.update(carried.call_signatures)
        if carried.parts or any(texts):
            self._reasoning.extend(t for t in texts if t)
            self._parts.extend(carried.parts)
            self._pending = True

    def _message(self, item: JSON, where: str) -> None:
        role_name = item.get("role")
        role = _ROLES.get(role_name) if isinstance(role_name, str) else None
        if role is None:
            raise PARAMS.wrong_value(
                f"{where}.role", f"expected one of user, assistant, system, developer, got {show(role_name)}"
            )
        content = item.get("content")
        if content is None:
            raise PARAMS.missing(f"{where}.content")
        if role == pb.ROLE_ASSISTANT:
            message = self._turn()
            if message.tool_calls or any(p.HasField("text") for p in message.content):
                message = self.out.add(role=pb.ROLE_ASSISTANT)  # a second answer of one turn
        else:
            message = self.out.add(role=role)
        _content(content, where, message.content)

    def _function_call(self, item: JSON, where: str) -> None:
        call_id = read.required_string(item.get("call_id"), f"{where}.call_id")
        name = read.required_string(item.get("name"), f"{where}.name")
        namespace = read.string(item.get("namespace"), f"{where}.namespace") or None
        canonical = self.tools.canonical_name(name, namespace)
        arguments = _arguments(item.get("arguments"), f"{where}.arguments")
        self._turn().tool_calls.add(id=call_id, name=canonical, arguments=arguments)
        self._calls[call_id] = canonical

    def _custom_call(self, item: JSON, where: str) -> None:
        """A freeform tool's call, kept as a function call whose one argument is the input."""
        call_id = read.required_string(item.get("call_id"), f"{where}.call_id")
        name = read.required_string(item.get("name"), f"{where}.name")
        text = read.string(item.get("input"), f"{where}.input")
        arguments = orjson.dumps({"input": text}).decode()
        self._turn().tool_calls.add(id=call_id, name=name, arguments=arguments)
        self._calls[call_id] = name

    def _output(self, item: JSON, where: str) -> None:
        call_id = read.required_string(item.get("call_id"), f"{where}.call_id")
        name = self._calls.get(call_id)
        if name is None:
            raise PARAMS.wrong_value(
                f"{where}.call_id",
                f"no function_call with call_id {show(call_id)} comes before this output",
            )
        output = item.get("output")
        if output is None:
            raise PARAMS.missing(f"{where}.output")
        message = self.out.add(role=pb.ROLE_TOOL, tool_call_id=call_id, name=name)
        if isinstance(output, str):
            if output:
                message.content.add(text=output)
        else:
            _content(output, where, message.content, key="output")


def _arguments(value: Any, param: str) -> str:
    if isinstance(value, dict):  # some clients send the object itself
        return orjson.dumps(value).decode()
    text = read.string(value, param)
    if text:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PARAMS.wrong_value(param, f"expected a JSON string, got {show(text)} ({exc})") from None
    return text


def _content(
    value: Any, where: str, out: RepeatedCompositeFieldContainer[pb.ContentPart], key: str = "content"
) -> None:
    if isinstance(value, str):
        if value:
            out.add(text=value)
        return
    for j, raw in enumerate(read.array(value, f"{where}.{key}")):
        part_where = f"{where}.{key}[{j}]"
        part = read.object(raw, part_where)
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            out.add(text=read.string(part.get("text"), f"{part_where}.text"))
        elif kind == "refusal":
            out.add(text=read.string(part.get("refusal"), f"{part_where}.refusal"))
        elif kind == "input_image":
            out.add(image=_image(part, part_where))
        elif kind == "input_file":
            raise PARAMS.wrong_value(
                f"{part_where}.type", "input_file parts are not supported by the gateway; send the text"
            )
        else:
            raise PARAMS.wrong_value(
                f"{part_where}.type",
                f"expected input_text, input_image, output_text or refusal, got {show(kind)}",
            )


def _image(part: JSON, where: str) -> pb.ImagePart:
    url = part.get("image_url")
    if isinstance(url, dict):  # the chat-style {"url": ...} some clients send
        url = url.get("url")
    if url is None and part.get("file_id") is not None:
        raise PARAMS.wrong_value(
            f"{where}.file_id", "file ids need OpenAI's Files API, which the gateway does not have"
        )
    checked = read.required_string(url, f"{where}.image_url")
    detail = read.string(part.get("detail"), f"{where}.detail")
    return pb.ImagePart(url=checked, detail=detail)
