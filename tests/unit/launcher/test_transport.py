"""The in-process transport behaves as the gRPC channel does: same replies, same errors, same streams.

Every case runs twice against one servicer: through a real grpc.aio server
and channel on loopback, and through InProcessTransport. What the bridge
makes of each (the reply, or `from_rpc_error`'s BridgeError: status,
message, reason, RetryInfo, ErrorInfo metadata) must be the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc import aio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from model_gateway_bridge.errors import BridgeError, from_rpc_error
from model_gateway_common.transport import EOF, InProcessTransport, Transport, TransportError
from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

ROUTE = (("x-gateway-model", "m"), ("x-gateway-provider", "p"))


def _details(reason: str, field: str, retry_s: int) -> bytes:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="gw", metadata={"field": field}))
    retry = any_pb2.Any()
    retry.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_s)))
    status = status_pb2.Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], details=[info, retry])
    encoded: bytes = status.SerializeToString()
    return encoded


class Servicer(pb_grpc.ModelGatewayServicer):
    """Answers by model name, the way the gateway's servicer fails: context.abort with details."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.closed: list[str] = []  # streams whose generator was unwound (cancelled or closed)

    async def Generate(self, request: pb.GenerateRequest, context: Any) -> pb.GenerateResponse:
        metadata = dict(context.invocation_metadata())
        remaining = context.time_remaining()
        self.seen.append({"request-id": metadata.get("x-request-id"), "remaining": remaining})
        if request.model == "limited":
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "slow down",
                trailing_metadata=(("grpc-status-details-bin", _details("RATE_LIMITED", "model", 7)),),
            )
        if request.model == "buggy":
            raise ValueError("a bug")
        if request.model == "slow":
            await asyncio.sleep(5)
        return pb.GenerateResponse(model=request.model, id="r1", route=pb.Route(provider="p"))

    async def StreamGenerate(
        self, request: pb.GenerateRequest, context: Any
    ) -> AsyncIterator[pb.StreamChunk]:
        try:
            if request.model == "missing":
                await context.abort(grpc.StatusCode.NOT_FOUND, "model 'missing' not found")
            await context.send_initial_metadata(ROUTE)
            for word in ("a", "b"):
                yield pb.StreamChunk(delta=pb.Delta(text=word))
                if request.model == "cut":
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "upstream cut the stream")
                if request.model == "endless":
                    await asyncio.sleep(30)
            yield pb.StreamChunk(final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_STOP))
        except (asyncio.CancelledError, GeneratorExit):
            self.closed.append(request.model)
            raise

    async def ListModels(self, request: pb.ListModelsRequest, context: Any) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[pb.Model(name="m")])


@pytest.fixture(scope="module")
async def both() -> AsyncIterator[tuple[Servicer, Transport, Transport]]:
    servicer = Servicer()  # type: ignore[abstract]  # the RPCs it leaves out answer UNIMPLEMENTED
    server = aio.server()
    pb_grpc.add_ModelGatewayServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    wire = cast(Transport, pb_grpc.ModelGatewayStub(channel))
    yield servicer, wire, InProcessTransport(servicer)
    await channel.close(None)
    await server.stop(None)


def _mapped(error: BaseException) -> BridgeError:
    assert isinstance(error, aio.AioRpcError)
    return from_rpc_error(error)


async def _failure(call: Any) -> BridgeError:
    with pytest.raises(aio.AioRpcError) as raised:
        await call
    return _mapped(raised.value)


async def test_a_reply_is_the_same_message(both: tuple[Servicer, Transport, Transport]) -> None:
    _, wire, local = both
    request = pb.GenerateRequest(model="ok")
    metadata = (("x-request-id", "req-1"),)
    assert await wire.Generate(request, metadata=metadata, timeout=5) == await local.Generate(
        request, metadata=metadata, timeout=5
    )
    assert await wire.ListModels(pb.ListModelsRequest()) == await local.ListModels(pb.ListModelsRequest())


async def test_metadata_and_the_deadline_reach_the_servicer(
    both: tuple[Servicer, Transport, Transport],
) -> None:
    servicer, _, local = both
    servicer.seen.clear()
    await local.Generate(pb.GenerateRequest(model="ok"), metadata=(("x-request-id", "req-2"),), timeout=5)
    await local.Generate(pb.GenerateRequest(model="ok"))
    (timed, untimed) = servicer.seen
    assert timed["request-id"] == "req-2" and 4 < timed["remaining"] <= 5
    assert untimed["remaining"] is None


@pytest.mark.parametrize(
    "model, status, reason", [("limited", 429, "RATE_LIMITED"), ("buggy", 500, ""), ("slow", 504, "")]
)
async def test_errors_map_to_the_same_bridge_error(
    both: tuple[Servicer, Transport, Transport], model: str, status: int, reason: str
) -> None:
    _, wire, local = both
    request = pb.GenerateRequest(model=model)
    over_wire = await _failure(wire.Generate(request, timeout=0.3))
    in_process = await _failure(local.Generate(request, timeout=0.3))
    assert over_wire.status == in_process.status == status
    assert (over_wire.code, over_wire.reason) == (in_process.code, in_process.reason)
    assert in_process.reason == reason
    assert over_wire.retry_after == in_process.retry_after
    assert over_wire.param == in_process.param
    assert over_wire.details == in_process.details
    if model != "slow":  # grpc's own deadline text names the transport ("Deadline Exceeded" either way)
        assert over_wire.message == in_process.message
    if model == "limited":
        assert in_process.retry_after == 7 and in_process.param == "model"


async def _drain(call: Any) -> tuple[list[pb.StreamChunk], dict[str, Any]]:
    chunks = []
    while (chunk := await call.read()) is not EOF and isinstance(chunk, pb.StreamChunk):
        chunks.append(chunk)
    return chunks, dict(await call.initial_metadata() or ())


async def test_streams_carry_the_same_chunks_and_initial_metadata(
    both: tuple[Servicer, Transport, Transport],
) -> None:
    _, wire, local = both
    request = pb.GenerateRequest(model="ok")
    over_wire = await _drain(wire.StreamGenerate(request, timeout=5))
    in_process = await _drain(local.StreamGenerate(request, timeout=5))
    assert over_wire[0] == in_process[0] and len(in_process[0]) == 3
    assert dict(ROUTE).items() <= over_wire[1].items()
    assert in_process[1] == dict(ROUTE)
    assert [c.delta.text async for c in local.StreamGenerate(request)][:2] == ["a", "b"]


@pytest.mark.parametrize("model", ["missing", "cut"])
async def test_stream_failures_map_the_same_before_and_after_the_first_chunk(
    both: tuple[Servicer, Transport, Transport], model: str
) -> None:
    _, wire, local = both
    request = pb.GenerateRequest(model=model)
    mapped = []
    for transport in (wire, local):
        call = transport.StreamGenerate(request, timeout=5)
        with pytest.raises(aio.AioRpcError) as raised:
            await _drain(call)
        mapped.append(_mapped(raised.value))
    assert (mapped[0].status, mapped[0].message) == (mapped[1].status, mapped[1].message)
    assert mapped[1].status == (404 if model == "missing" else 503)


async def test_a_stream_past_its_deadline_fails_and_unwinds_the_servicer(
    both: tuple[Servicer, Transport, Transport],
) -> None:
    servicer, _, local = both
    servicer.closed.clear()
    call = local.StreamGenerate(pb.GenerateRequest(model="endless"), timeout=0.3)
    assert (await call.read()).delta.text == "a"
    with pytest.raises(TransportError) as raised:
        await call.read()
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert servicer.closed == ["endless"]


async def test_a_caller_that_goes_away_cancels_the_servicer(
    both: tuple[Servicer, Transport, Transport],
) -> None:
    servicer, _, local = both
    servicer.closed.clear()
    # Gone while the servicer waits (mid-read): the reading task's cancellation unwinds it.
    call = local.StreamGenerate(pb.GenerateRequest(model="endless"), timeout=30)
    assert (await call.read()).delta.text == "a"
    reading = asyncio.ensure_future(call.read())
    await asyncio.sleep(0.05)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert call.cancel() is False  # it has ended already
    # Gone between chunks (the servicer suspended at a yield): cancel() closes it.
    idle = local.StreamGenerate(pb.GenerateRequest(model="ok"), timeout=30)
    assert (await idle.read()).delta.text == "a"
    assert idle.cancel() is True
    await asyncio.sleep(0.01)
    assert servicer.closed == ["endless", "ok"]
    with pytest.raises(TransportError) as raised:
        await idle.read()
    assert raised.value.code() == grpc.StatusCode.CANCELLED


async def test_each_call_is_a_bridge_client_span_over_a_gateway_server_span() -> None:
    bridge_spans, gateway_spans = InMemorySpanExporter(), InMemorySpanExporter()
    bridge, gateway = TracerProvider(), TracerProvider()
    bridge.add_span_processor(SimpleSpanProcessor(bridge_spans))
    gateway.add_span_processor(SimpleSpanProcessor(gateway_spans))
    inner = gateway.get_tracer("test")

    class Traced(Servicer):
        async def Generate(self, request: pb.GenerateRequest, context: Any) -> pb.GenerateResponse:
            with inner.start_as_current_span("chat m"):
                return await super().Generate(request, context)

    local = InProcessTransport(
        Traced(),  # type: ignore[abstract]
        client_tracer=bridge.get_tracer("bridge"),
        server_tracer=gateway.get_tracer("gateway"),
    )
    with bridge.get_tracer("test").start_as_current_span("POST /v1/chat/completions") as outer:
        await local.Generate(pb.GenerateRequest(model="ok"))
        with pytest.raises(TransportError):
            await local.Generate(pb.GenerateRequest(model="limited"))
    (client, failed_client, _outer) = bridge_spans.get_finished_spans()
    server, attempt, failed_server = sorted(
        gateway_spans.get_finished_spans(), key=lambda s: (s.start_time or 0, s.name)
    )[:3]
    assert client.name == "/modelgateway.v1.ModelGateway/Generate"
    assert client.kind == trace.SpanKind.CLIENT and server.kind == trace.SpanKind.SERVER
    assert client.parent is not None and client.parent.span_id == outer.get_span_context().span_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    assert attempt.parent is not None and attempt.parent.span_id == server.context.span_id
    assert attempt.context.trace_id == client.context.trace_id
    assert client.attributes is not None and client.attributes["rpc.method"] == "Generate"
    assert failed_client.status.status_code == trace.StatusCode.ERROR
    assert failed_client.attributes is not None
    assert failed_client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert failed_server.status.status_code == trace.StatusCode.ERROR


async def test_a_deadline_passing_between_reads_closes_the_servicer(
    both: tuple[Servicer, Transport, Transport],
) -> None:
    servicer, _, local = both
    servicer.closed.clear()
    call = local.StreamGenerate(pb.GenerateRequest(model="ok"), timeout=0.1)
    assert (await call.read()).delta.text == "a"
    await asyncio.sleep(0.2)  # nobody reads: gRPC would still cancel the handler at the deadline
    assert servicer.closed == ["ok"]
    with pytest.raises(TransportError) as raised:
        await call.read()
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
