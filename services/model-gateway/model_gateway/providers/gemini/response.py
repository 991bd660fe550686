"""`GenerateContentResponse` → canonical response: parts, finish reason, usage.

Only `candidates[0]` is read (the gateway never asks for more). Its parts
become, in order: text (adjacent text parts joined), thought parts
(`thought: true`) as reasoning parts signed with their `thoughtSignature`, a
signature on a text part as an empty reasoning part right after that text,
and `functionCall` parts as tool calls (arguments a JSON string, the
signature kept on the call). Gemini gives calls no id, so one is made up,
stable for a response (see `call_id`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from model_gateway.providers.gemini.wire import (
    JSON,
    FailedFinish,
    WireError,
    read_dict,
    read_int,
    read_list,
    read_str,
)
from modelgateway.v1 import gateway_pb2 as pb

KIND = "gemini"

_FINISH: dict[str, pb.FinishReason.ValueType] = {
    "STOP": pb.FINISH_REASON_STOP,
    "MAX_TOKENS": pb.FINISH_REASON_LENGTH,
    "SAFETY": pb.FINISH_REASON_CONTENT_FILTER,
    "RECITATION": pb.FINISH_REASON_CONTENT_FILTER,
    "BLOCKLIST": pb.FINISH_REASON_CONTENT_FILTER,
    "PROHIBITED_CONTENT": pb.FINISH_REASON_CONTENT_FILTER,
    "SPII": pb.FINISH_REASON_CONTENT_FILTER,
    "LANGUAGE": pb.FINISH_REASON_CONTENT_FILTER,  # refused: a language the model does not support
    "IMAGE_SAFETY": pb.FINISH_REASON_CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": pb.FINISH_REASON_CONTENT_FILTER,
    "IMAGE_RECITATION": pb.FINISH_REASON_CONTENT_FILTER,
    # OTHER comes with no content and a finishMessage such as "Model failed to generate
    # content due to internal error": an error, not a normal stop.
    "OTHER": pb.FINISH_REASON_ERROR,
    "NO_IMAGE": pb.FINISH_REASON_ERROR,
    "IMAGE_OTHER": pb.FINISH_REASON_ERROR,
}
# A broken tool call is Gemini failing, not the model finishing: raised so failover can retry.
FAILED_FINISHES = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})


@dataclass(frozen=True, slots=True)
class Part:
    """One wire part, classified: kind is "text", "thought", "call" or "image" (others are skipped)."""

    kind: str
    text: str = ""
    signature: str = ""
    name: str = ""
    arguments: str = ""
    call_id: str = ""
    mime_type: str = ""
    data: bytes = b""


def read_parts(candidate: JSON) -> list[Part]:
    parts: list[Part] = []
    for wire in read_list(read_dict(candidate.get("content")).get("parts")):
        part = _read_part(read_dict(wire))
        if part is not None:
            parts.append(part)
    return parts


def _read_part(wire: JSON) -> Part | None:
    signature = read_str(wire.get("thoughtSignature"))
    if "functionCall" in wire:
        call = read_dict(wire["functionCall"])
        args = call.get("args")
        return Part(
            "call",
            name=read_str(call.get("name")),
            arguments=orjson.dumps(args if isinstance(args, dict) else {}).decode(),
            call_id=read_str(call.get("id")),
            signature=signature,
        )
    if "inlineData" in wire:
        blob = read_dict(wire["inlineData"])
        try:
            data = base64.b64decode(read_str(blob.get("data")), validate=True)
        except (binascii.Error, ValueError):
            raise WireError("an inlineData part is not valid base64") from None
        return Part("image", mime_type=read_str(blob.get("mimeType")), data=data, signature=signature)
    if "text" in wire or signature:
        kind = "thought" if wire.get("thought") is True else "text"
        return Part(kind, text=read_str(wire.get("text")), signature=signature)
    return None  # executableCode, codeExecutionResult and other server-side tool parts


def call_id(response_id: str, index: int) -> str:
    """An id for the index-th call of a response: the same streamed or not, unique across responses."""
    seed = f"{response_id}:{index}" if response_id else uuid.uuid4().hex
    return "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def reasoning_part(text: str, signature: str) -> pb.ContentPart:
    return pb.ContentPart(reasoning=pb.ReasoningPart(text=text, signature=signature, provider_kind=KIND))


def message_from(parts: list[Part], response_id: str) -> pb.Message:
    """The assistant message of a candidate's parts (or of a stream's parts, in order).

    Adjacent text parts are joined, as are adjacent thoughts until a signature
    closes one: a stream cuts them wherever it likes, the unstreamed reply does not.
    """
    message = pb.Message(role=pb.ROLE_ASSISTANT)
    texts: list[str] = []
    thoughts: list[str] = []

    def flush_text() -> None:
        if texts:
            message.content.add(text="".join(texts))
            texts.clear()

    def flush_thought(signature: str = "") -> None:
        if thoughts or signature:
            message.content.append(reasoning_part("".join(thoughts), signature))
            thoughts.clear()

    for part in parts:
        if part.kind == "text":
            flush_thought()
            texts.append(part.text)
            if part.signature:
                flush_text()
                message.content.append(reasoning_part("", part.signature))
        elif part.kind == "thought":
            flush_text()
            thoughts.append(part.text)
            message.reasoning += part.text
            if part.signature:
                flush_thought(part.signature)
        elif part.kind == "image":
            flush_text()
            flush_thought()
            message.content.add(image=pb.ImagePart(data=part.data, mime_type=part.mime_type))
        elif part.kind == "call":
            message.tool_calls.add(
                id=part.call_id or call_id(response_id, len(message.tool_calls)),
                name=part.name,
                arguments=part.arguments,
                signature=part.signature,
            )
    flush_thought()
    flush_text()
    return message


def finish_reason(value: str, has_calls: bool, finish_message: str = "") -> pb.FinishReason.ValueType:
    """The canonical reason; a failed tool call raises FailedFinish instead."""
    if value in FAILED_FINISHES:
        raise FailedFinish(value, finish_message)
    reason = _FINISH.get(value, pb.FINISH_REASON_STOP)
    # Gemini says STOP after function calls; the caller has tools to run.
    if reason == pb.FINISH_REASON_STOP and has_calls:
        return pb.FINISH_REASON_TOOL_CALLS
    return reason


def usage_from(value: Any) -> pb.Usage | None:
    """usageMetadata → Usage. Output counts thinking too (as OpenAI's completion_tokens do, and as billed)."""
    if not isinstance(value, dict) or not ("promptTokenCount" in value or "totalTokenCount" in value):
        return None
    prompt = read_int(value.get("promptTokenCount")) + read_int(value.get("toolUsePromptTokenCount"))
    thoughts = read_int(value.get("thoughtsTokenCount"))
    output = read_int(value.get("candidatesTokenCount")) + thoughts
    return pb.Usage(
        input_tokens=prompt,
        output_tokens=output,
        cached_input_tokens=read_int(value.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        total_tokens=read_int(value.get("totalTokenCount")) or prompt + output,
    )


def first_candidate(obj: JSON) -> JSON | None:
    candidates = read_list(obj.get("candidates"))
    return read_dict(candidates[0]) if candidates else None


def prompt_blocked(obj: JSON) -> bool:
    """No candidates because the prompt was blocked (promptFeedback.blockReason, or a feedback alone)."""
    feedback = obj.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback) and not read_list(obj.get("candidates"))


def response_from(obj: Any) -> pb.GenerateResponse:
    """A GenerateContentResponse; `usage` is left unset when Gemini sent no usageMetadata."""
    if not isinstance(obj, dict):
        raise WireError(f"expected a JSON object, got {type(obj).__name__}")
    response = pb.GenerateResponse(id=read_str(obj.get("responseId")))
    usage = usage_from(obj.get("usageMetadata"))
    if usage is not None:
        response.usage.CopyFrom(usage)
    candidate = first_candidate(obj)
    if candidate is None:
        if not prompt_blocked(obj):
            raise WireError("the reply has no candidates and no promptFeedback")
        response.message.role = pb.ROLE_ASSISTANT
        response.finish_reason = pb.FINISH_REASON_CONTENT_FILTER
        return response
    response.message.CopyFrom(message_from(read_parts(candidate), response.id))
    response.finish_reason = finish_reason(
        read_str(candidate.get("finishReason")),
        bool(response.message.tool_calls),
        read_str(candidate.get("finishMessage")),
    )
    return response
