"""A reasoning item's `encrypted_content`: the gateway's opaque carrier for signed reasoning.

The Responses API is stateless with `store: false`: a client such as Codex
asks for `include: ["reasoning.encrypted_content"]` and sends every reasoning
item back on the next turn. The gateway uses that round trip for what a
provider needs to see again - Anthropic's signed (or redacted) thinking
blocks, Gemini's thought signatures, on reasoning and on function calls - so
those providers keep working through a Responses client. The content is
`mg1.` + base64url(JSON); it is opaque to the client, not encrypted (the
signatures in it are the providers' own). Encrypted content the gateway did
not write (api.openai.com's) is kept as an OpenAI reasoning part.

An unstreamed reply names the provider kind of each part; a stream's deltas
do not, so streamed parts carry kind "" (Anthropic takes those back, Gemini
only its own: a Gemini stream's call signatures still travel, by call id).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from modelgateway.v1 import gateway_pb2 as pb

PREFIX = "mg1."
OPENAI_KIND = "openai"


@dataclass(slots=True)
class Carried:
    """What one reasoning item carries: signed reasoning parts, and call id → call signature."""

    parts: list[pb.ReasoningPart] = field(default_factory=list)
    call_signatures: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.parts or self.call_signatures)


def needs_carrying(part: pb.ReasoningPart) -> bool:
    """A part worth the round trip: a signature or opaque data a provider will ask for again."""
    return bool(part.signature or part.data or part.redacted)


def encode(parts: Iterable[pb.ReasoningPart], call_signatures: Mapping[str, str]) -> str | None:
    kept = [p for p in parts if needs_carrying(p)]
    if not kept and not call_signatures:
        return None
    body: dict[str, Any] = {}
    if kept:
        body["p"] = [[p.text, p.signature, p.redacted, p.data, p.provider_kind] for p in kept]
    if call_signatures:
        body["c"] = dict(call_signatures)
    return PREFIX + base64.urlsafe_b64encode(orjson.dumps(body)).decode("ascii")


def decode(content: str) -> Carried:
    """The parts and call signatures in `content`; anything not written by the gateway is OpenAI's own."""
    if not content.startswith(PREFIX):
        return Carried([pb.ReasoningPart(data=content, redacted=True, provider_kind=OPENAI_KIND)])
    try:
        body = orjson.loads(base64.urlsafe_b64decode(content[len(PREFIX) :]))
    except (binascii.Error, ValueError):
        return Carried()  # damaged: nothing a provider could verify anyway
    carried = Carried()
    if not isinstance(body, dict):
        return carried
    for entry in body.get("p") or ():
        if isinstance(entry, list) and len(entry) == 5:
            text, signature, redacted, data, kind = entry
            carried.parts.append(
                pb.ReasoningPart(
                    text=str(text),
                    signature=str(signature),
                    redacted=bool(redacted),
                    data=str(data),
                    provider_kind=str(kind),
                )
            )
    calls = body.get("c")
    if isinstance(calls, dict):
        carried.call_signatures = {str(k): str(v) for k, v in calls.items() if isinstance(v, str)}
    return carried
