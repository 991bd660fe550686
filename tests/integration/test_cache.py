"""The response cache through real processes: hit, miss and bypass over REST and gRPC, streams replayed."""

from __future__ import annotations

import json
import uuid

import grpc
import httpx

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import Gateway


def body(text: str, temperature: float = 0, stream: bool = False) -> dict[str, object]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": text}],
        "temperature": temperature,
        "stream": stream,
    }


def test_a_repeated_request_over_rest_is_a_hit_and_a_stream_replays_it(gateway: Gateway) -> None:
    text = f"cache me {uuid.uuid4().hex}"
    before = gateway.openai.stats()["requests"]
    with httpx.Client(base_url=gateway.bridge_url, timeout=10) as client:
        first = client.post("/v1/chat/completions", json=body(text))
        again = client.post("/v1/chat/completions", json=body(text))
        streamed = client.post("/v1/chat/completions", json=body(text, stream=True))
    assert first.status_code == again.status_code == streamed.status_code == 200
    assert first.headers["x-gateway-cache"] == "miss" and again.headers["x-gateway-cache"] == "hit"
    assert streamed.headers["x-gateway-cache"] == "hit"
    answer = first.json()["choices"][0]["message"]["content"]
    assert again.json()["choices"][0]["message"]["content"] == answer
    assert again.json()["usage"] == first.json()["usage"]
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    pieces = [
        json.loads(e)["choices"][0]["delta"].get("content") or ""
        for e in events[:-1]
        if json.loads(e)["choices"]
    ]
    assert "".join(pieces) == answer
    assert gateway.openai.stats()["requests"] == before + 1  # one upstream call for three answers


def test_non_deterministic_requests_bypass_the_cache(gateway: Gateway) -> None:
    text = f"creative {uuid.uuid4().hex}"
    with httpx.Client(base_url=gateway.bridge_url, timeout=10) as client:
        replies = [client.post("/v1/chat/completions", json=body(text, temperature=0.9)) for _ in range(2)]
    assert [r.headers["x-gateway-cache"] for r in replies] == ["bypass", "bypass"]


def test_cache_control_and_the_bypass_metadata_over_grpc(gateway: Gateway) -> None:
    def chat(text: str, **fields: object) -> pb.GenerateRequest:
        message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])
        return pb.GenerateRequest(
            model="gpt-4o-mini", messages=[message], sampling=pb.Sampling(seed=1), **fields
        )  # type: ignore[arg-type]

    text = f"controlled {uuid.uuid4().hex}"
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        stub = pb_grpc.ModelGatewayStub(channel)
        fresh = pb.CacheControl(no_cache=True)
        untouched = pb.CacheControl(no_store=True)
        assert stub.Generate(chat(text, cache_control=untouched), timeout=10).route.cache == "bypass"
        assert stub.Generate(chat(text, cache_control=fresh), timeout=10).route.cache == "bypass"
        hit = stub.Generate(chat(text), timeout=10)  # stored by the no-cache call, not the no-store one
        assert hit.route.cache == "hit" and hit.route.cache_hit and hit.cost.total_usd == 0
        bypassed = stub.Generate(chat(text), metadata=[("x-gateway-cache", "bypass")], timeout=10)
        assert bypassed.route.cache == "bypass" and not bypassed.route.cache_hit
        chunks = list(stub.StreamGenerate(chat(text), timeout=10))
        final = chunks[-1].final
        assert (
            final.route.cache_hit
            and "".join(c.delta.text for c in chunks[:-1]) == hit.message.content[0].text
        )


def test_cache_control_headers_over_rest(gateway: Gateway) -> None:
    text = f"headers {uuid.uuid4().hex}"
    before = gateway.openai.stats()["requests"]
    with httpx.Client(base_url=gateway.bridge_url, timeout=10) as client:

        def ask(**headers: str) -> str:
            reply = client.post("/v1/chat/completions", json=body(text), headers=headers)
            assert reply.status_code == 200
            return reply.headers["x-gateway-cache"]

        assert ask(**{"Cache-Control": "no-store"}) == "bypass"  # neither looked up nor kept
        assert ask(**{"x-gateway-cache": "bypass"}) == "bypass"
        assert ask(**{"Cache-Control": "no-cache"}) == "bypass"  # not looked up, but kept
        assert ask() == "hit"
        assert ask(**{"Cache-Control": "no-cache"}) == "bypass"
    assert gateway.openai.stats()["requests"] == before + 4
