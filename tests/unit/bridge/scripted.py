"""A scripted gRPC ModelGateway on loopback, for driving the bridge's routes in-process.

It answers by model name: "missing" is NOT_FOUND, "broken" fails after the
first chunk, "unfinished" ends its stream without a final chunk; a request
with tools is answered with a tool call. Every call's x-gateway-surface is
recorded, to check which surface the bridge resolved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

LLAMA = pb.Model(
    name="llama3.2",
    aliases=["tiny"],
    deployments=[pb.Deployment(provider="local", model="llama3.2")],
    context_window=131072,
    capabilities=["chat", "tools"],
    created=1_700_000_000,
)
TAGGED = pb.Model(name="qwen3:8b", deployments=[pb.Deployment(provider="local", model="qwen3:8b")])

USAGE = pb.Usage(input_tokens=5, output_tokens=2, total_tokens=7)


def delta(text: str = "", reasoning: str = "", *calls: pb.ToolCallDelta) -> pb.StreamChunk:
    return pb.StreamChunk(delta=pb.Delta(text=text, reasoning=reasoning, tool_calls=calls))


def final(**fields: Any) -> pb.StreamChunk:
    base: dict[str, Any] = {
        "finish_reason": pb.FINISH_REASON_STOP,
        "usage": pb.Usage(input_tokens=26, output_tokens=3),
    }
    base.update(fields)
    return pb.StreamChunk(final=pb.FinalChunk(**base))


class ScriptedGateway(pb_grpc.ModelGatewayServicer):
    def __init__(self) -> None:
        self.requests: list[pb.GenerateRequest] = []
        self.embeds: list[pb.EmbedRequest] = []
        self.surfaces: list[str] = []  # each call's x-gateway-surface

    def clear(self) -> None:
        self.requests.clear()
        self.embeds.clear()
        self.surfaces.clear()

    def _seen(self, context: Any) -> None:
        metadata = dict(context.invocation_metadata() or ())
        self.surfaces.append(metadata.get("x-gateway-surface", ""))

    async def _route(self, request: pb.GenerateRequest, context: Any) -> None:
        self._seen(context)
        self.requests.append(request)
        if request.model == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "model 'missing' not found")
        await context.send_initial_metadata(
            (("x-gateway-provider", "local"), ("x-gateway-model", request.model))
        )

    @staticmethod
    def _answer(request: pb.GenerateRequest) -> tuple[str, list[pb.ToolCall]]:
        if request.tools:
            return "", [pb.ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')]
        return "Hello there", []

    async def Generate(self, request: pb.GenerateRequest, context: Any) -> pb.GenerateResponse:
        await self._route(request, context)
        text, calls = self._answer(request)
        message = pb.Message(role=pb.ROLE_ASSISTANT, tool_calls=calls)
        if text:
            message.content.append(pb.ContentPart(text=text))
        return pb.GenerateResponse(
            model=request.model,
            message=message,
            finish_reason=pb.FINISH_REASON_TOOL_CALLS if calls else pb.FINISH_REASON_STOP,
            usage=USAGE,
            # Unary calls carry their route in the reply, as the gateway sends it.
            route=pb.Route(served_model=request.model, provider="local", attempts=1),
        )

    async def StreamGenerate(
        self, request: pb.GenerateRequest, context: Any
    ) -> AsyncIterator[pb.StreamChunk]:
        await self._route(request, context)
        text, calls = self._answer(request)
        for word in text.split(" "):
            yield pb.StreamChunk(delta=pb.Delta(text=word + " "))
            if request.model == "broken":
                await context.abort(grpc.StatusCode.UNAVAILABLE, "upstream cut the stream")
            if request.model == "unfinished":
                return  # a gateway bug: the stream ends OK, without its final chunk
        for i, call in enumerate(calls):
            half = len(call.arguments) // 2
            yield delta(
                "", "", pb.ToolCallDelta(index=i, id=call.id, name=call.name, arguments=call.arguments[:half])
            )
            yield delta("", "", pb.ToolCallDelta(index=i, arguments=call.arguments[half:]))
        finish = pb.FINISH_REASON_TOOL_CALLS if calls else pb.FINISH_REASON_STOP
        yield final(finish_reason=finish, usage=USAGE)

    async def ListModels(self, request: pb.ListModelsRequest, context: Any) -> pb.ListModelsResponse:
        self._seen(context)
        return pb.ListModelsResponse(models=[LLAMA, TAGGED])

    async def GetModel(self, request: pb.GetModelRequest, context: Any) -> pb.Model:
        self._seen(context)
        if request.name.removesuffix(":latest") not in ("llama3.2", "tiny"):
            await context.abort(grpc.StatusCode.NOT_FOUND, f"model '{request.name}' not found")
        return LLAMA

    async def Health(self, request: pb.HealthRequest, context: Any) -> pb.HealthResponse:
        self._seen(context)
        return pb.HealthResponse(status=pb.HealthResponse.STATUS_SERVING)

    async def Embed(self, request: pb.EmbedRequest, context: Any) -> pb.EmbedResponse:
        self._seen(context)
        self.embeds.append(request)
        return pb.EmbedResponse(
            model=request.model,
            embeddings=[pb.Embedding(values=[0.5, -0.25]) for _ in request.input],
            usage=pb.Usage(input_tokens=3 * len(request.input)),
        )
