"""The soak's calls, one kind per surface and mode, and how each outcome is judged.

Every call ends in exactly one of three ways:

- `answer`: a complete reply (a unary body in the surface's shape; a stream
  that reached its own end marker: `[DONE]`, `done: true`, a final chunk,
  `message_stop`, `response.completed`);
- `error`: a clear error in the surface's own shape (an HTTP error body, an
  in-band stream error, a gRPC status with details);
- `lost`: anything else: a connection dropped with no status, a stream that
  stopped without its end marker or an error (a silent cut), no reply in time.

The soak passes only with zero `lost`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import grpc
import httpx
from grpc import aio

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

ANSWER, ERROR, LOST = "answer", "error", "lost"


@dataclass(frozen=True)
class Outcome:
    kind: str  # answer | error | lost
    detail: str  # the status, or why it was lost


Call = Callable[[str, str], Awaitable[Outcome]]  # (model, request id) -> outcome


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _http_error(reply: httpx.Response, shape: Callable[[object], bool]) -> Outcome:
    """A non-200 reply: clear when its body is the surface's error shape."""
    body = _json(reply.text)
    if reply.status_code >= 400 and shape(body):
        return Outcome(ERROR, str(reply.status_code))
    return Outcome(LOST, f"HTTP {reply.status_code} without an error body: {reply.text[:120]!r}")


def openai_error(body: object) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and "message" in body["error"]


def ollama_error(body: object) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def native_error(body: object) -> bool:
    return isinstance(body, dict) and "code" in body and "message" in body


def anthropic_error(body: object) -> bool:
    return isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict)


class Surfaces:
    """The calls, over one HTTP client (the bridge) and one gRPC channel (the service)."""

    def __init__(self, http: httpx.AsyncClient, channel: aio.Channel) -> None:
        self.http = http
        self.stub = pb_grpc.ModelGatewayStub(channel)

    def calls(self) -> dict[str, Call]:
        return {
            "openai-unary": self.openai_unary,
            "openai-stream": self.openai_stream,
            "ollama-unary": self.ollama_unary,
            "ollama-stream": self.ollama_stream,
            "native-unary": self.native_unary,
            "native-stream": self.native_stream,
            "grpc-unary": self.grpc_unary,
            "grpc-stream": self.grpc_stream,
            "anthropic-unary": self.anthropic_unary,
            "anthropic-stream": self.anthropic_stream,
            "responses-unary": self.responses_unary,
            "responses-stream": self.responses_stream,
        }

    # --- OpenAI chat completions ---------------------------------------------------------------

    async def openai_unary(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "messages": [{"role": "user", "content": f"soak {rid}"}]}
        reply = await self.http.post("/v1/chat/completions", json=body, headers={"x-request-id": rid})
        if reply.status_code == 200:
            ok = isinstance(_json(reply.text), dict) and "choices" in reply.json()
            return Outcome(ANSWER, "200") if ok else Outcome(LOST, "200 without choices")
        return _http_error(reply, openai_error)

    async def openai_stream(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "messages": [{"role": "user", "content": f"soak {rid}"}], "stream": True}
        async with self.http.stream(
            "POST", "/v1/chat/completions", json=body, headers={"x-request-id": rid}
        ) as reply:
            if reply.status_code != 200:
                await reply.aread()
                return _http_error(reply, openai_error)
            errored = False
            async for line in reply.aiter_lines():
                if line == "data: [DONE]":
                    return Outcome(ERROR, "in-band") if errored else Outcome(ANSWER, "[DONE]")
                if line.startswith("data: ") and openai_error(_json(line[6:])):
                    errored = True
        return Outcome(LOST, "SSE ended without [DONE]")

    # --- Ollama ------------------------------------------------------------------------------------

    async def ollama_unary(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "messages": [{"role": "user", "content": f"soak {rid}"}], "stream": False}
        reply = await self.http.post("/api/chat", json=body, headers={"x-request-id": rid})
        if reply.status_code == 200:
            done = isinstance(_json(reply.text), dict) and reply.json().get("done") is True
            return Outcome(ANSWER, "200") if done else Outcome(LOST, "200 without done")
        return _http_error(reply, ollama_error)

    async def ollama_stream(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "messages": [{"role": "user", "content": f"soak {rid}"}]}
        return await self._ndjson("/api/chat", body, rid, ollama_error, lambda line: line.get("done") is True)

    # --- native (grpc-gateway style) ---------------------------------------------------------------

    async def native_unary(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "prompt": f"soak {rid}"}
        reply = await self.http.post("/api/v1/generate", json=body, headers={"x-request-id": rid})
        if reply.status_code == 200:
            ok = isinstance(_json(reply.text), dict) and "message" in reply.json()
            return Outcome(ANSWER, "200") if ok else Outcome(LOST, "200 without a message")
        return _http_error(reply, native_error)

    async def native_stream(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "prompt": f"soak {rid}"}

        def final(line: dict[str, object]) -> bool:
            result = line.get("result")
            return isinstance(result, dict) and "final" in result

        def in_band(body: object) -> bool:
            return isinstance(body, dict) and native_error(body.get("error"))

        return await self._ndjson(
            "/api/v1/generate:stream", body, rid, in_band, final, http_shape=native_error
        )

    async def _ndjson(
        self,
        path: str,
        body: Mapping[str, object],
        rid: str,
        error_line: Callable[[object], bool],
        final: Callable[[dict[str, object]], bool],
        http_shape: Callable[[object], bool] | None = None,
    ) -> Outcome:
        async with self.http.stream("POST", path, json=body, headers={"x-request-id": rid}) as reply:
            if reply.status_code != 200:
                await reply.aread()
                return _http_error(reply, http_shape or error_line)
            async for raw in reply.aiter_lines():
                line = _json(raw)
                if not isinstance(line, dict):
                    continue
                if error_line(line):
                    return Outcome(ERROR, "in-band")
                if final(line):
                    return Outcome(ANSWER, "final")
        return Outcome(LOST, "NDJSON ended without its final line")

    # --- gRPC ----------------------------------------------------------------------------------------

    def _request(self, model: str, rid: str) -> pb.GenerateRequest:
        message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=f"soak {rid}")])
        return pb.GenerateRequest(model=model, messages=[message])

    async def grpc_unary(self, model: str, rid: str) -> Outcome:
        try:
            await self.stub.Generate(self._request(model, rid), metadata=(("x-request-id", rid),), timeout=30)
        except aio.AioRpcError as error:
            return _grpc_error(error)
        return Outcome(ANSWER, "OK")

    async def grpc_stream(self, model: str, rid: str) -> Outcome:
        call = self.stub.StreamGenerate(
            self._request(model, rid), metadata=(("x-request-id", rid),), timeout=30
        )
        try:
            async for chunk in call:
                if chunk.HasField("final"):
                    return Outcome(ANSWER, "final")
        except aio.AioRpcError as error:
            return _grpc_error(error)
        return Outcome(LOST, "the stream ended OK without a final chunk")

    # --- Anthropic Messages ------------------------------------------------------------------------

    ANTHROPIC = {"anthropic-version": "2023-06-01"}

    async def anthropic_unary(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": f"soak {rid}"}]}
        reply = await self.http.post(
            "/v1/messages", json=body, headers={"x-request-id": rid, **self.ANTHROPIC}
        )
        if reply.status_code == 200:
            ok = isinstance(_json(reply.text), dict) and reply.json().get("type") == "message"
            return Outcome(ANSWER, "200") if ok else Outcome(LOST, "200 without a message")
        return _http_error(reply, anthropic_error)

    async def anthropic_stream(self, model: str, rid: str) -> Outcome:
        body = {
            "model": model,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": f"soak {rid}"}],
            "stream": True,
        }
        return await self._sse_events(
            "/v1/messages", body, {"x-request-id": rid, **self.ANTHROPIC}, {"message_stop"}, {"error"},
            anthropic_error,
        )  # fmt: skip

    # --- OpenAI Responses ------------------------------------------------------------------------------

    async def responses_unary(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "input": f"soak {rid}"}
        reply = await self.http.post("/v1/responses", json=body, headers={"x-request-id": rid})
        if reply.status_code == 200:
            ok = isinstance(_json(reply.text), dict) and reply.json().get("object") == "response"
            return Outcome(ANSWER, "200") if ok else Outcome(LOST, "200 without a response object")
        return _http_error(reply, openai_error)

    async def responses_stream(self, model: str, rid: str) -> Outcome:
        body = {"model": model, "input": f"soak {rid}", "stream": True}
        return await self._sse_events(
            "/v1/responses", body, {"x-request-id": rid}, {"response.completed"},
            {"response.failed", "error", "response.incomplete"}, openai_error,
        )  # fmt: skip

    async def _sse_events(
        self,
        path: str,
        body: dict[str, object],
        headers: dict[str, str],
        done: set[str],
        failed: set[str],
        http_shape: Callable[[object], bool],
    ) -> Outcome:
        async with self.http.stream("POST", path, json=body, headers=headers) as reply:
            if reply.status_code != 200:
                await reply.aread()
                return _http_error(reply, http_shape)
            async for line in reply.aiter_lines():
                if not line.startswith("event:"):
                    continue
                event = line.removeprefix("event:").strip()
                if event in done:
                    return Outcome(ANSWER, event)
                if event in failed:
                    return Outcome(ERROR, f"in-band {event}")
        return Outcome(LOST, "SSE ended without its end event")


def _grpc_error(error: aio.AioRpcError) -> Outcome:
    code, details = error.code(), error.details() or ""
    # A clear error: a status the gateway chose, saying why. A bare transport failure is not.
    if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.OK) or not details:
        return Outcome(LOST, f"{code.name}: {details[:120]!r}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and details == "Deadline Exceeded":
        return Outcome(LOST, "the client's own deadline: no answer in time")
    return Outcome(ERROR, code.name)
