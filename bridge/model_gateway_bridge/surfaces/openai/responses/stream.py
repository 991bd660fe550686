"""Canonical stream chunks → the Responses API's typed SSE events.

Every event is `event: <type>` + `data: {"type": <type>, ..., "sequence_number": n}`,
n counting from 0. The sequence: response.created and response.in_progress
(status in_progress, no output yet); per output item, response.output_item.added,
its content events, response.output_item.done - a reasoning item
(reasoning_summary_part.added, reasoning_summary_text.delta ... .done,
reasoning_summary_part.done), a message (content_part.added,
output_text.delta ... output_text.done, content_part.done), a function call
(function_call_arguments.delta ... .done) - one item open at a time except
parallel calls; then response.completed with the whole response and its
usage (response.incomplete when the output limit cut it short). A failure
after the first event is an `error` event and then response.failed (with
`response.error`), never a silent end: Codex, for one, retries a turn whose
stream ends without response.completed or response.failed. No `[DONE]`
follows, as api.openai.com sends none on this endpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.fields import JSON
from model_gateway_bridge.framing import sse_event
from model_gateway_bridge.streaming import Framer
from model_gateway_bridge.surfaces.openai.errors import error_body, model_failed
from model_gateway_bridge.surfaces.openai.responses import reasoning
from model_gateway_bridge.surfaces.openai.responses.request import ResponsesCall
from model_gateway_bridge.surfaces.openai.responses.response import (
    call_item,
    message_item,
    new_id,
    output_text,
    reasoning_item,
    response_object,
    status_of,
    usage,
)
from modelgateway.v1 import gateway_pb2 as pb


@dataclass(slots=True)
class _Item:
    """An output item being streamed."""

    index: int  # output_index
    id: str
    kind: str  # "reasoning" | "message" | "function_call"
    text: str = ""  # the summary, the message text or the call's arguments
    started: bool = False  # reasoning: its summary part was announced
    call_id: str = ""
    name: str = ""
    # reasoning: the signed (or redacted) blocks so far, and the text the next signature will close
    parts: list[pb.ReasoningPart] = field(default_factory=list)
    unsigned: str = ""


class ResponsesStream(Framer):
    unfinished = "the gateway ended the stream before the model finished"

    def __init__(self, call: ResponsesCall) -> None:
        self.call = call
        self.id = new_id("resp")
        self.model = call.request.model
        self.created_at = 0
        self._seq = 0
        self._started = False
        self._ended = False  # a terminal event (completed, incomplete, failed) was sent
        self._output: list[JSON | None] = []  # by output_index; None while the item is open
        self._open: _Item | None = None  # the open reasoning or message item
        self._calls: dict[int, _Item] = {}  # canonical tool-call index → its item (open or done)
        self._open_calls: list[_Item] = []
        self._signatures: dict[str, str] = {}  # call_id → a provider's signature on the call

    # --- the Framer --------------------------------------------------------------------------

    def frame(self, chunk: pb.StreamChunk) -> bytes:
        if self._ended:
            return b""
        out = self._start(chunk) if not self._started else b""
        if chunk.HasField("delta"):
            out += self._delta(chunk.delta)
        elif chunk.HasField("final"):
            out += self._final(chunk.final)
        return out

    def error(self, err: BridgeError) -> bytes:
        if self._ended:
            return b""
        out = b"" if self._started else self._start(pb.StreamChunk())
        self._ended = True
        body = error_body(err)["error"]
        out += self._event("error", code=body["code"], message=body["message"], param=body["param"])
        failure = {
            "code": "rate_limit_exceeded" if err.status == 429 else "server_error",
            "message": err.message,
        }
        done = [item for item in self._output if item is not None]
        return out + self._event(
            "response.failed", response=self._response("failed", done, None, error=failure)
        )

    # --- events ------------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> bytes:
        body = {"type": kind, **fields, "sequence_number": self._seq}
        self._seq += 1
        return sse_event(body, event=kind)

    def _response(
        self,
        status: str,
        output: list[JSON],
        usage_value: JSON | None,
        incomplete: JSON | None = None,
        error: JSON | None = None,
    ) -> JSON:
        return response_object(
            self.call, self.id, self.created_at, self.model, status, output, usage_value, incomplete, error
        )

    def _start(self, chunk: pb.StreamChunk) -> bytes:
        self._started = True
        self.created_at = chunk.created or int(time.time())
        snapshot = self._response("in_progress", [], None)
        return self._event("response.created", response=snapshot) + self._event(
            "response.in_progress", response=snapshot
        )

    def _add(self, kind: str, prefix: str) -> _Item:
        item = _Item(len(self._output), new_id(prefix), kind)
        self._output.append(None)
        return item

    def _delta(self, delta: pb.Delta) -> bytes:
        out = b""
        if delta.reasoning or delta.reasoning_signature or delta.redacted_reasoning:
            out += self._reasoning(delta)
        if delta.text:
            out += self._text(delta.text)
        for fragment in delta.tool_calls:
            out += self._call(fragment)
        return out

    def _reasoning(self, delta: pb.Delta) -> bytes:
        out = b""
        item = self._open
        if item is None or item.kind != "reasoning":
            out += self._close_all("completed")
            item = self._open = self._add("reasoning", "rs")
            out += self._event(
                "response.output_item.added", output_index=item.index, item=reasoning_item(item.id, "", None)
            )
        if delta.reasoning:
            where = {"item_id": item.id, "output_index": item.index, "summary_index": 0}
            if not item.started:
                item.started = True
                part = {"type": "summary_text", "text": ""}
                out += self._event("response.reasoning_summary_part.added", **where, part=part)
            item.text += delta.reasoning
            item.unsigned += delta.reasoning
            out += self._event("response.reasoning_summary_text.delta", **where, delta=delta.reasoning)
        # A stream does not say which provider kind signed: "" (Anthropic takes it back, others skip it).
        if delta.reasoning_signature:
            item.parts.append(pb.ReasoningPart(text=item.unsigned, signature=delta.reasoning_signature))
            item.unsigned = ""
        if delta.redacted_reasoning:
            item.parts.append(pb.ReasoningPart(redacted=True, data=delta.redacted_reasoning))
        return out

    def _text(self, text: str) -> bytes:
        out = b""
        item = self._open
        if item is None or item.kind != "message":
            out += self._close_all("completed")
            item = self._open = self._add("message", "msg")
            out += self._event(
                "response.output_item.added",
                output_index=item.index,
                item=message_item(item.id, None, "in_progress"),
            )
            out += self._event(
                "response.content_part.added",
                item_id=item.id,
                output_index=item.index,
                content_index=0,
                part=output_text(""),
            )
        item.text += text
        return out + self._event(
            "response.output_text.delta",
            item_id=item.id,
            output_index=item.index,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def _call(self, fragment: pb.ToolCallDelta) -> bytes:
        out = b""
        item = self._calls.get(fragment.index)
        if item is None:
            out += self._close_open("completed")
            item = self._calls[fragment.index] = self._add("function_call", "fc")
            item.call_id = fragment.id or new_id("call")
            item.name = fragment.name
            self._open_calls.append(item)
            added = call_item(self.call, item.id, item.call_id, item.name, "", "in_progress")
            out += self._event("response.output_item.added", output_index=item.index, item=added)
        if fragment.signature:
            self._signatures[item.call_id] = fragment.signature
        if not fragment.arguments:
            return out
        item.text += fragment.arguments
        if item not in self._open_calls:
            return out  # a late fragment of a call already done: kept for the final response only
        return out + self._event(
            "response.function_call_arguments.delta",
            item_id=item.id,
            output_index=item.index,
            delta=fragment.arguments,
        )

    # --- closing items -----------------------------------------------------------------------

    def _close_open(self, status: str) -> bytes:
        """Ends the open reasoning or message item."""
        item, self._open = self._open, None
        if item is None:
            return b""
        if item.kind == "message":
            return self._close_message(item, status)
        carried = reasoning.encode(item.parts, {}) if self.call.carry_reasoning else None
        return self._close_reasoning(item, carried)

    def _close_all(self, status: str) -> bytes:
        out = self._close_open(status)
        for item in self._open_calls:
            out += self._close_call(item, status)
        self._open_calls = []
        return out

    def _done(self, item: _Item, body: JSON) -> bytes:
        self._output[item.index] = body
        return self._event("response.output_item.done", output_index=item.index, item=body)

    def _close_message(self, item: _Item, status: str) -> bytes:
        where = {"item_id": item.id, "output_index": item.index, "content_index": 0}
        out = self._event("response.output_text.done", **where, text=item.text, logprobs=[])
        out += self._event("response.content_part.done", **where, part=output_text(item.text))
        return out + self._done(item, message_item(item.id, item.text, status))

    def _close_reasoning(self, item: _Item, carried: str | None = None) -> bytes:
        out = b""
        if item.started:
            where = {"item_id": item.id, "output_index": item.index, "summary_index": 0}
            out += self._event("response.reasoning_summary_text.done", **where, text=item.text)
            part = {"type": "summary_text", "text": item.text}
            out += self._event("response.reasoning_summary_part.done", **where, part=part)
        return out + self._done(item, reasoning_item(item.id, item.text, carried))

    def _close_call(self, item: _Item, status: str) -> bytes:
        arguments = item.text or "{}"
        out = self._event(
            "response.function_call_arguments.done",
            item_id=item.id,
            output_index=item.index,
            arguments=arguments,
        )
        item_status = "completed" if status == "completed" else "incomplete"
        return out + self._done(
            item, call_item(self.call, item.id, item.call_id, item.name, arguments, item_status)
        )

    # --- the end -----------------------------------------------------------------------------

    def _final(self, final: pb.FinalChunk) -> bytes:
        if final.finish_reason == pb.FINISH_REASON_ERROR:
            return self.error(model_failed(" after the stream started"))
        status, incomplete = status_of(final.finish_reason)
        out = self._close_all(status)
        if not self._output:
            # No text and no call: an empty message, as the unstreamed response has.
            out += self._text_item_empty(status)
        carried = reasoning.encode((), self._signatures) if self.call.carry_reasoning else None
        if carried:
            # Call signatures (Gemini's) travel in a reasoning item of their own, after the calls.
            item = self._add("reasoning", "rs")
            out += self._event(
                "response.output_item.added", output_index=item.index, item=reasoning_item(item.id, "", None)
            )
            out += self._close_reasoning(item, carried)
        for call in self._calls.values():
            body = self._output[call.index]
            if body is not None and body.get("arguments") != (call.text or "{}"):
                body["arguments"] = call.text or "{}"  # late fragments, folded into the final response
        self._ended = True
        done = [item for item in self._output if item is not None]
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._event(kind, response=self._response(status, done, usage(final.usage), incomplete))

    def _text_item_empty(self, status: str) -> bytes:
        item = self._add("message", "msg")
        out = self._event(
            "response.output_item.added",
            output_index=item.index,
            item=message_item(item.id, None, "in_progress"),
        )
        out += self._event(
            "response.content_part.added",
            item_id=item.id,
            output_index=item.index,
            content_index=0,
            part=output_text(""),
        )
        return out + self._close_message(item, status)
