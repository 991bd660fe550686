"""The bridge tests' scripted gateway, plus what the Anthropic surface needs of it.

- CountTokens: 42 tokens; estimated unless the model is "counted".
- "thinker": a signed thinking block, a redacted one, then text (unary and streamed).
- "slow": the first chunk comes after SLOW_S (to see the pings).
- "cached": usage with prompt-cache reads and writes.
- "length", "refused", "errored": those finish reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.scripted import ScriptedGateway

SLOW_S = 0.3
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8r"
CACHED = pb.Usage(
    input_tokens=2100,
    output_tokens=7,
    cached_input_tokens=2000,
    cache_write_input_tokens=60,
    total_tokens=2107,
)
FINISH = {
    "length": pb.FINISH_REASON_LENGTH,
    "refused": pb.FINISH_REASON_CONTENT_FILTER,
    "errored": pb.FINISH_REASON_ERROR,
}


def thinking_message() -> pb.Message:
    return pb.Message(
        role=pb.ROLE_ASSISTANT,
        reasoning="Let me think.",
        content=[
            pb.ContentPart(
                reasoning=pb.ReasoningPart(
                    text="Let me think.", signature=SIGNATURE, provider_kind="anthropic"
                )
            ),
            pb.ContentPart(
                reasoning=pb.ReasoningPart(redacted=True, data=REDACTED, provider_kind="anthropic")
            ),
            pb.ContentPart(text="Hello there"),
        ],
    )


class AnthropicScripted(ScriptedGateway):
    def __init__(self) -> None:
        super().__init__()
        self.counted: list[pb.GenerateRequest] = []

    def clear(self) -> None:
        super().clear()
        self.counted.clear()

    async def CountTokens(self, request: pb.GenerateRequest, context: Any) -> pb.CountTokensResponse:
        self._seen(context)
        self.counted.append(request)
        if request.model == "missing":
            await context.abort(__import__("grpc").StatusCode.NOT_FOUND, "model 'missing' not found")
        route = pb.Route(served_model=request.model, provider="local", deployment="local/x", attempts=1)
        return pb.CountTokensResponse(input_tokens=42, estimated=request.model != "counted", route=route)

    async def Generate(self, request: pb.GenerateRequest, context: Any) -> pb.GenerateResponse:
        if request.model == "thinker":
            await self._route(request, context)
            return pb.GenerateResponse(
                id="chatcmpl-think",
                model=request.model,
                message=thinking_message(),
                finish_reason=pb.FINISH_REASON_STOP,
                usage=pb.Usage(input_tokens=12, output_tokens=30, reasoning_tokens=20, total_tokens=42),
            )
        response = await super().Generate(request, context)
        if request.model == "cached":
            response.usage.CopyFrom(CACHED)
        if request.model in FINISH:
            response.finish_reason = FINISH[request.model]
        return response

    async def StreamGenerate(
        self, request: pb.GenerateRequest, context: Any
    ) -> AsyncIterator[pb.StreamChunk]:
        if request.model == "slow":
            await asyncio.sleep(SLOW_S)
        if request.model == "thinker":
            await self._route(request, context)
            for delta in (
                pb.Delta(reasoning="Let me"),
                pb.Delta(reasoning=" think."),
                pb.Delta(reasoning_signature=SIGNATURE),
                pb.Delta(redacted_reasoning=REDACTED),
                pb.Delta(text="Hello"),
                pb.Delta(text=" there"),
            ):
                yield pb.StreamChunk(id="chatcmpl-think", delta=delta)
            usage = pb.Usage(input_tokens=12, output_tokens=30, reasoning_tokens=20, total_tokens=42)
            yield pb.StreamChunk(
                id="chatcmpl-think", final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_STOP, usage=usage)
            )
            return
        async for chunk in super().StreamGenerate(request, context):
            if chunk.HasField("final"):
                if request.model == "cached":
                    chunk.final.usage.CopyFrom(CACHED)
                if request.model in FINISH:
                    chunk.final.finish_reason = FINISH[request.model]
            yield chunk
