"""Cascades (FrugalGPT-style): whether a cheaper model's answer is good enough to keep.

A model of `kind: cascade` lists models cheapest first; failover tries their
routes tier by tier, each answer is checked here, and the first that passes
is the reply (the last tier's answer is kept whatever it says; if every
later tier fails, the last rejected answer is better than an error). Checks, as configured (`cascade:`):
`finish_stop` (the answer ended by itself, or called a tool), `min_chars`
(that much text, unless it called a tool), `json_valid` (valid JSON when the
request asked for JSON), `refusals` (none of these phrases near the start).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from model_gateway.routing.registry import Route
from model_gateway.routing_settings import CascadeSettings
from modelgateway.v1 import gateway_pb2 as pb

_ENDED = frozenset({pb.FINISH_REASON_STOP, pb.FINISH_REASON_TOOL_CALLS})
_JSON = frozenset({pb.ResponseFormat.TYPE_JSON_OBJECT, pb.ResponseFormat.TYPE_JSON_SCHEMA})
_REFUSAL_WINDOW = 300  # characters from the start where a refusal phrase counts


def rejection(settings: CascadeSettings, request: pb.GenerateRequest, answer: pb.GenerateResponse) -> str:
    """Why the answer is not good enough ("" when it is): a bounded reason, for the decision and logs."""
    if settings.finish_stop and answer.finish_reason not in _ENDED:
        return "unfinished"
    tool_call = bool(answer.message.tool_calls)
    text = "".join(p.text for p in answer.message.content if p.HasField("text"))
    if not tool_call and len(text.strip()) < settings.min_chars:
        return "too_short"
    if settings.json_valid and request.response_format.type in _JSON and not tool_call:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            return "invalid_json"
    start = text[:_REFUSAL_WINDOW].lower()
    if any(phrase.lower() in start for phrase in settings.refusals):
        return "refusal"
    return ""


def cascade_check(request: pb.GenerateRequest) -> Callable[[Route, pb.GenerateResponse], str]:
    """For failover: why a cascade tier's answer is rejected ("" to keep it)."""

    def check(route: Route, answer: pb.GenerateResponse) -> str:
        return rejection(route.cascade, request, answer) if route.cascade is not None else ""

    return check
