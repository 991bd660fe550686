"""Messages API `messages` (and `system`) → canonical messages.

- A user turn's `tool_result` blocks become canonical tool messages (in
  place, so a turn of results then text is results, then a user message),
  each naming the tool its `tool_use_id` called; an id that no earlier
  `tool_use` has is a 400, as the API answers it.
- An assistant turn is one canonical message: `text`, `thinking` and
  `redacted_thinking` blocks as content parts in their order (the signed
  blocks go back to an Anthropic upstream as they came; the visible
  thinking is also `Message.reasoning`), `tool_use` blocks as tool calls.
- `image` (base64 or URL), `document` with a text source and
  `search_result` blocks are read; blocks the canonical schema has no place
  for (server-tool calls and results, container uploads) are left out and
  named in the reply's x-gateway-dropped-params header. Any other block
  type is a 400 naming the type and its index.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.fields import JSON, show
from model_gateway_bridge.surfaces.anthropic.errors import FIELDS as read
from model_gateway_bridge.surfaces.anthropic.errors import INVALID
from modelgateway.v1 import gateway_pb2 as pb

# Block types the front door reads, per role.
USER_BLOCKS = ("text", "image", "document", "search_result", "tool_result")
ASSISTANT_BLOCKS = ("text", "thinking", "redacted_thinking", "tool_use")
# Documented block types the canonical schema cannot carry: dropped, and named.
SKIPPED_BLOCKS = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
        "tool_reference",
        "browser_state",
    }
)
_KNOWN_BLOCKS = frozenset(USER_BLOCKS) | frozenset(ASSISTANT_BLOCKS) | SKIPPED_BLOCKS


@dataclass(slots=True)
class Conversation:
    """What reading `system` and `messages` leaves beside the canonical messages."""

    dropped: list[str] = field(default_factory=list)  # paths of blocks left out
    cache_control: JSON | None = None  # the last cache_control breakpoint the caller set


def read_system(value: Any, seen: Conversation) -> str:
    """`system` as a string or text blocks; the blocks' texts are joined by blank lines."""
    if value is None or isinstance(value, str):
        return value or ""
    texts: list[str] = []
    for i, raw in enumerate(read.array(value, "system")):
        block = read.object(raw, f"system.{i}")
        if block.get("type") != "text":
            raise INVALID.wrong_value(
                f"system.{i}.type", f"system blocks are text blocks, got {show(block.get('type'))}"
            )
        _cache_marker(block, f"system.{i}", seen)
        text = read.string(block.get("text"), f"system.{i}.text")
        if text:
            texts.append(text)
    return "\n\n".join(texts)


def read_messages(messages: list[Any], out: RepeatedCompositeFieldContainer[pb.Message]) -> Conversation:
    seen = Conversation()
    calls: dict[str, str] = {}  # tool_use id → tool name, from the assistant turns so far
    for i, raw in enumerate(messages):
        where = f"messages.{i}"
        obj = read.object(raw, where)
        role = obj.get("role")
        content = obj.get("content")
        if content is None:
            raise INVALID.missing(f"{where}.content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        blocks = read.array(blocks, f"{where}.content")
        if role == "user":
            _user_turn(blocks, where, out, calls, seen)
        elif role == "assistant":
            _assistant_turn(blocks, where, out.add(role=pb.ROLE_ASSISTANT), calls, seen)
        elif role == "system":  # the SDK's SystemMessageParam: text only, in place
            message = out.add(role=pb.ROLE_SYSTEM)
            message.content.add(text=read_system(content, seen) if isinstance(content, list) else content)
        else:
            raise INVALID.wrong_value(
                f"{where}.role", f"Input should be 'user' or 'assistant', got {show(role)}"
            )
    return seen


def _blocks(
    blocks: list[Any], where: str, allowed: tuple[str, ...], seen: Conversation
) -> list[tuple[str, JSON]]:
    """(path, block) for each block this role takes; skipped types named in `seen.dropped`."""
    out: list[tuple[str, JSON]] = []
    for j, raw in enumerate(blocks):
        path = f"{where}.content.{j}"
        block = read.object(raw, path)
        kind = block.get("type")
        if not isinstance(kind, str) or kind not in _KNOWN_BLOCKS:
            raise unknown_block(kind, path, j, allowed)
        _cache_marker(block, path, seen)
        if kind in allowed:
            out.append((path, block))
        else:
            seen.dropped.append(f"{path} ({kind})")
    return out


def unknown_block(kind: Any, path: str, index: int, allowed: tuple[str, ...]) -> BridgeError:
    return INVALID.wrong_value(
        f"{path}.type",
        f"unknown content block type {show(kind)} at index {index}; expected one of {', '.join(allowed)}",
    )


def _user_turn(
    blocks: list[Any],
    where: str,
    out: RepeatedCompositeFieldContainer[pb.Message],
    calls: dict[str, str],
    seen: Conversation,
) -> None:
    message: pb.Message | None = None  # the user message being filled; a tool result ends it
    for path, block in _blocks(blocks, where, USER_BLOCKS, seen):
        if block["type"] == "tool_result":
            _tool_result(block, path, out.add(role=pb.ROLE_TOOL), calls, seen)
            message = None
            continue
        if message is None:
            message = out.add(role=pb.ROLE_USER)
        _user_part(block, path, message.content)


def _user_part(block: JSON, path: str, out: RepeatedCompositeFieldContainer[pb.ContentPart]) -> None:
    kind = block["type"]
    if kind == "text":
        text = read.string(block.get("text"), f"{path}.text")
        if text:
            out.add(text=text)
    elif kind == "image":
        out.add(image=_image(block, path))
    elif kind == "document":
        text = _document_text(block, path)
        if text:
            out.add(text=text)
    elif kind == "search_result":
        pieces = [
            read.string(block.get("title"), f"{path}.title"),
            read.string(block.get("source"), f"{path}.source"),
        ]
        pieces += [
            _text_block(b, f"{path}.content.{k}")
            for k, b in enumerate(read.array(block.get("content"), f"{path}.content"))
        ]
        out.add(text="\n\n".join(piece for piece in pieces if piece))


def _text_block(raw: Any, path: str) -> str:
    block = read.object(raw, path)
    if block.get("type") != "text":
        raise INVALID.wrong_value(f"{path}.type", f"expected a text block, got {show(block.get('type'))}")
    return read.string(block.get("text"), f"{path}.text")


def _image(block: JSON, path: str) -> pb.ImagePart:
    source = read.object(block.get("source"), f"{path}.source")
    kind = source.get("type")
    if kind == "url":
        return pb.ImagePart(url=read.required_string(source.get("url"), f"{path}.source.url"))
    if kind == "base64":
        mime = read.required_string(source.get("media_type"), f"{path}.source.media_type")
        return pb.ImagePart(data=_base64(source.get("data"), f"{path}.source.data"), mime_type=mime)
    raise INVALID.wrong_value(
        f"{path}.source.type", f"the gateway takes base64 and url image sources, got {show(kind)}"
    )


def _base64(value: Any, path: str) -> bytes:
    text = read.required_string(value, path)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise INVALID.wrong_value(path, "is not valid base64") from None


def _document_text(block: JSON, path: str) -> str:
    """A document the canonical schema can carry: plain text (a `text` or `content` source)."""
    source = read.object(block.get("source"), f"{path}.source")
    kind = source.get("type")
    if kind == "text":
        body = read.string(source.get("data"), f"{path}.source.data")
    elif kind == "content":
        content = source.get("content")
        if isinstance(content, str):
            body = content
        else:
            items = read.array(content, f"{path}.source.content")
            body = "\n\n".join(_text_block(b, f"{path}.source.content.{k}") for k, b in enumerate(items))
    else:
        raise INVALID.wrong_value(
            f"{path}.source.type",
            f"the gateway carries documents as text (source type 'text' or 'content'), got {show(kind)}",
        )
    title = read.string(block.get("title"), f"{path}.title")
    context = read.string(block.get("context"), f"{path}.context")
    return "\n\n".join(piece for piece in (title, context, body) if piece)


def _tool_result(
    block: JSON, path: str, message: pb.Message, calls: dict[str, str], seen: Conversation
) -> None:
    call_id = read.required_string(block.get("tool_use_id"), f"{path}.tool_use_id")
    if call_id not in calls:
        raise INVALID.wrong_value(
            f"{path}.tool_use_id",
            f"{show(call_id)} matches no tool_use block of an earlier assistant turn; each tool_result "
            "must answer a tool_use",
        )
    message.tool_call_id = call_id
    message.name = calls[call_id]
    message.is_error = read.boolean(block.get("is_error"), f"{path}.is_error")
    content = block.get("content")
    if isinstance(content, str):
        if content:
            message.content.add(text=content)
        return
    allowed = ("text", "image", "document", "search_result")
    for k, raw in enumerate(read.array(content, f"{path}.content")):
        inner = f"{path}.content.{k}"
        part = read.object(raw, inner)
        kind = part.get("type")
        kind = kind if isinstance(kind, str) else None
        if kind in allowed:
            _cache_marker(part, inner, seen)
            _user_part(part, inner, message.content)
        elif kind in SKIPPED_BLOCKS:
            seen.dropped.append(f"{inner} ({kind})")
        else:
            raise unknown_block(kind, inner, k, allowed)


def _assistant_turn(
    blocks: list[Any], where: str, message: pb.Message, calls: dict[str, str], seen: Conversation
) -> None:
    thinking: list[str] = []
    for path, block in _blocks(blocks, where, ASSISTANT_BLOCKS, seen):
        kind = block["type"]
        if kind == "text":
            text = read.string(block.get("text"), f"{path}.text")
            if text:
                message.content.add(text=text)
        elif kind == "thinking":
            text = read.string(block.get("thinking"), f"{path}.thinking")
            signature = read.string(block.get("signature"), f"{path}.signature")
            thinking.append(text)
            # Whose signature it is cannot be told from the wire: an Anthropic upstream checks it.
            message.content.add(reasoning=pb.ReasoningPart(text=text, signature=signature))
        elif kind == "redacted_thinking":
            data = read.required_string(block.get("data"), f"{path}.data")
            message.content.add(reasoning=pb.ReasoningPart(redacted=True, data=data))
        else:  # tool_use
            call_id = read.required_string(block.get("id"), f"{path}.id")
            name = read.required_string(block.get("name"), f"{path}.name")
            arguments = read.object(_or_empty(block.get("input")), f"{path}.input")
            message.tool_calls.add(id=call_id, name=name, arguments=orjson.dumps(arguments).decode())
            calls[call_id] = name
    message.reasoning = "".join(thinking)


def _or_empty(value: Any) -> Any:
    return {} if value is None else value


def _cache_marker(block: JSON, path: str, seen: Conversation) -> None:
    marker = block.get("cache_control")
    if marker is not None:
        seen.cache_control = read.object(marker, f"{path}.cache_control")
