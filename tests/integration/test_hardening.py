"""Rules that the rest of the suite could pass with the defect present, proved end to end.

One `model-gateway up` (logging at DEBUG) against fakes that behave like real
servers behind a proxy (`--chop`: streams cut at arbitrary byte boundaries and
flushed piece by piece, SSE with CRLF and comment lines; `--strict`: OpenAI's 400
for a body field it does not know), with models named
after the rule each test proves. Every wait is on an event the fake reports
(its stats), never on a sleep.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.fakes.common import masked
from tests.integration.conftest import (
    GATEWAY,
    PLANTED_KEY,
    ROOT,
    Fake,
    Gateway,
    free_port,
    run_gateway,
    stop,
    wait_for_tcp,
)
from tests.integration.test_grpc_service import chat, error_info, stream_all

EXTRA_MODELS = """
  - name: no-failover-on-400
    deployments: [{provider: cloud, model: fail-400}, {provider: local, model: "llama3.2"}]
  - name: all-down
    deployments: [{provider: cloud, model: fail-500}, {provider: local, model: fail-500}]
    routing: {retries: 0}
  - name: several-429
    deployments: [{provider: cloud, model: fail-429-30}, {provider: local, model: fail-429-4}]
    routing: {retries: 0}
  - name: date-limited
    deployments: [{provider: cloud, model: fail-429-date}]
    routing: {retries: 0}
  - name: cut-then-healthy
    deployments: [{provider: cloud, model: cut-stream}, {provider: local, model: "llama3.2"}]
  - name: hang-then-healthy
    deployments: [{provider: cloud, model: slow-stream}, {provider: local, model: "llama3.2"}]
  - name: overloaded-local
    deployments: [{provider: local, model: fail-503}]
    routing: {retries: 0}
  - name: cached-local
    deployments: [{provider: local, model: cached-prompt}]
"""
LEAKS = ("leak-401", "leak-403", "leak-500", "leak-inband")
EXTRA_MODELS += "".join(
    f"  - name: {cue}\n    deployments: [{{provider: cloud, model: {cue}}}]\n    routing: {{retries: 0}}\n"
    f"  - name: {cue}-local\n    deployments: [{{provider: local, model: {cue}}}]\n"
    "    routing: {retries: 0}\n"
    for cue in LEAKS
)
SECRETS = (PLANTED_KEY, masked(PLANTED_KEY), PLANTED_KEY[-12:])


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with run_gateway(
        tmp_path_factory.mktemp("hardening"),
        log_level="DEBUG",
        fake_args=("--chop", "--strict"),
        extra_models=EXTRA_MODELS,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def stub(hard: Gateway) -> Iterator[pb_grpc.ModelGatewayStub]:
    with grpc.insecure_channel(
        hard.grpc_target, options=[("grpc.max_send_message_length", 16 * 1024 * 1024)]
    ) as channel:
        yield pb_grpc.ModelGatewayStub(channel)


def wait_until(check: Callable[[], bool], what: str, within: float = 20.0) -> None:
    """Poll with a generous deadline: a loaded 2-core machine is slow, never wrong."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stat(fake: Fake, name: str) -> int:
    value = fake.stats()[name]
    assert isinstance(value, int)
    return value


def model_calls(fake: Fake, model: str) -> int:
    by_model = fake.stats()["by_model"]
    assert isinstance(by_model, dict)
    return int(by_model.get(model, 0))


# --- fakes closer to the real servers ------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o-mini", "llama3.2"])
def test_streams_cut_anywhere_with_crlf_and_comments_arrive_whole(
    stub: pb_grpc.ModelGatewayStub, model: str
) -> None:
    """SSE events split mid-`data:`, CRLF line ends, `: keep-alive` comments; NDJSON split mid-line."""
    request = chat(model, "Split me at every byte boundary you like")
    reply = stub.Generate(request, timeout=20)
    text, final, deltas = stream_all(stub, request)
    assert deltas > 1 and text == reply.message.content[0].text
    assert "Split me at every" in text
    assert final.usage == reply.usage and not final.usage.estimated


def test_openai_sse_through_the_bridge_from_a_chopped_upstream(hard: Gateway) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "chopped"}], "stream": True}
    with httpx.stream("POST", f"{hard.bridge_url}/v1/chat/completions", json=body, timeout=20) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert '"content":" chopped"' in "".join(events)


def test_every_sampling_field_reaches_openai_without_an_unknown_parameter(
    stub: pb_grpc.ModelGatewayStub,
) -> None:
    """The fake answers 400 to any body field api.openai.com does not know, as the real one does."""
    sampling = pb.Sampling(
        temperature=0.5, top_p=0.9, max_tokens=50, stop=["zz"], seed=7, presence_penalty=0.1,
        frequency_penalty=0.1,
    )  # fmt: skip
    reply = stub.Generate(chat("gpt-4o-mini", sampling=sampling), timeout=10)
    assert reply.finish_reason == pb.FINISH_REASON_STOP


def test_ollama_omitting_prompt_eval_count_for_a_cached_prompt_is_estimated_not_zero(
    stub: pb_grpc.ModelGatewayStub,
) -> None:
    reply = stub.Generate(chat("cached-local", "a prompt Ollama had cached already"), timeout=10)
    assert reply.usage.input_tokens > 0 and reply.usage.estimated
    _, final, _ = stream_all(stub, chat("cached-local", "a prompt Ollama had cached already"))
    assert final.usage.input_tokens > 0


def test_ollama_overloaded_503_is_unavailable_and_retryable(stub: pb_grpc.ModelGatewayStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(chat("overloaded-local"), timeout=10)
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)  # type: ignore[attr-defined]
    assert "busy" in caught.value.details() or "overload" in caught.value.details().lower()  # type: ignore[attr-defined]


# --- failover edge rules --------------------------------------------------------------------------


def test_a_400_is_not_tried_on_the_next_route(hard: Gateway, stub: pb_grpc.ModelGatewayStub) -> None:
    before = model_calls(hard.ollama, "llama3.2")
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(chat("no-failover-on-400"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "temperature" in caught.value.details()  # type: ignore[attr-defined]
    assert model_calls(hard.ollama, "llama3.2") == before  # the healthy second route was never asked


def test_every_route_failing_is_all_routes_failed(stub: pb_grpc.ModelGatewayStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(chat("all-down"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert error_info(caught.value)[0].reason == "ALL_ROUTES_FAILED"


def test_several_429s_hand_back_the_smallest_retry_after(stub: pb_grpc.ModelGatewayStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(chat("several-429"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    info, retry = error_info(caught.value)
    assert info.reason == "RATE_LIMITED"
    assert retry is not None and retry.retry_delay.seconds == 4  # not 30


def test_a_retry_after_given_as_an_http_date_is_understood(stub: pb_grpc.ModelGatewayStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(chat("date-limited"), timeout=10)
    _, retry = error_info(caught.value)
    assert retry is not None and 4 <= retry.retry_delay.seconds <= 7  # 7 s from when the fake answered


def test_a_stream_is_never_switched_after_its_first_chunk(
    hard: Gateway, stub: pb_grpc.ModelGatewayStub
) -> None:
    before = model_calls(hard.ollama, "llama3.2")
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for chunk in stub.StreamGenerate(chat("cut-then-healthy"), timeout=10):
            received.append(chunk)
    assert received and all(c.HasField("delta") for c in received)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert model_calls(hard.ollama, "llama3.2") == before  # the second route was never asked


# --- cancellation and disconnects ------------------------------------------------------------------


def test_cancelling_a_unary_call_closes_its_upstream_request(
    hard: Gateway, stub: pb_grpc.ModelGatewayStub
) -> None:
    cancelled, active = stat(hard.openai, "unary_cancelled"), stat(hard.openai, "active_unary")
    call = stub.Generate.future(chat("slow-stream"), timeout=60)  # the fake answers after 60 s
    wait_until(lambda: stat(hard.openai, "active_unary") > active, "the upstream request")
    call.cancel()
    wait_until(lambda: stat(hard.openai, "unary_cancelled") == cancelled + 1, "the upstream to be closed")


def raw_post(url: str, path: str, body: bytes) -> socket.socket:
    """A request on a bare socket, so the test decides when the client goes away."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def test_a_rest_client_leaving_a_unary_call_closes_the_upstream_request(hard: Gateway) -> None:
    cancelled, active = stat(hard.openai, "unary_cancelled"), stat(hard.openai, "active_unary")
    body = b'{"model": "slow-stream", "messages": [{"role": "user", "content": "hang"}]}'
    sock = raw_post(hard.bridge_url, "/v1/chat/completions", body)
    wait_until(lambda: stat(hard.openai, "active_unary") > active, "the upstream request")
    sock.close()
    wait_until(lambda: stat(hard.openai, "unary_cancelled") == cancelled + 1, "the upstream to be closed")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/chat/completions",
            b'{"model":"slow-stream","stream":true,"messages":[{"role":"user","content":"x"}]}',
        ),
        ("/api/v1/generate:stream", b'{"model":"slow-stream","prompt":"x"}'),
        ("/api/v1/generate", b'{"model":"slow-stream","prompt":"x","stream":true}'),
    ],
    ids=["openai-sse", "native-ndjson", "native-sse"],
)
def test_a_rest_client_leaving_a_stream_closes_the_upstream_stream(
    hard: Gateway, path: str, body: bytes
) -> None:
    cancelled = stat(hard.openai, "streams_cancelled")
    sock = raw_post(hard.bridge_url, path, body)
    received = b""
    while b"tick1" not in received:  # the first delta has reached this client
        piece = sock.recv(4096)
        assert piece, received
        received += piece
    assert b" 200 " in received.split(b"\r\n", 1)[0]
    sock.close()
    wait_until(lambda: stat(hard.openai, "streams_cancelled") == cancelled + 1, "the upstream to be closed")


# --- secrets --------------------------------------------------------------------------------------


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows the key ({secret!r}): {text[:500]}"


@pytest.mark.parametrize("model", [*LEAKS, *(f"{cue}-local" for cue in LEAKS)])
def test_upstream_errors_echoing_the_key_never_pass_it_on(
    hard: Gateway, stub: pb_grpc.ModelGatewayStub, model: str
) -> None:
    """401, 403, 500 and in-band errors whose bodies carry the key whole and masked (`sk-…cdef`)."""
    for call in (
        lambda: stub.Generate(chat(model), timeout=10),
        lambda: list(stub.StreamGenerate(chat(model), timeout=10)),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert_no_secret(caught.value.details(), f"{model}: the gRPC status")  # type: ignore[attr-defined]
        assert_no_secret(str(error_info(caught.value)[0]), f"{model}: ErrorInfo")
    for stream in (False, True):
        body = {"model": model, "messages": [{"role": "user", "content": "x"}], "stream": stream}
        response = httpx.post(f"{hard.bridge_url}/v1/chat/completions", json=body, timeout=10)
        assert_no_secret(response.text, f"{model}: the REST reply")
        assert_no_secret(str(response.headers), f"{model}: the REST headers")


def test_logs_at_debug_never_hold_keys_prompts_or_completions(
    hard: Gateway, stub: pb_grpc.ModelGatewayStub
) -> None:
    """Prompt and completion text stay out of the logs unless capture is on (it is off here)."""
    marker = f"zebra{uuid.uuid4().hex[:12]}"
    reply = stub.Generate(chat("gpt-4o-mini", f"secret prompt {marker}"), timeout=10)
    assert marker in reply.message.content[0].text  # the fake echoes it into the completion
    stream_all(stub, chat("llama3.2", f"secret prompt {marker}"))
    httpx.post(
        f"{hard.bridge_url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": marker}]},
        timeout=10,
    )
    for cue in LEAKS:  # make sure the leaking paths have run before reading the log
        with pytest.raises(grpc.RpcError):
            stub.Generate(chat(cue), timeout=10)
    logs = hard.logs()
    assert '"level": "DEBUG"' in logs or "DEBUG" in logs, "the gateway is not logging at DEBUG"
    assert marker not in logs
    assert_no_secret(logs, "the logs")


# --- message size -----------------------------------------------------------------------------------


def test_a_10_mib_request_succeeds_under_the_16_mib_limit(
    hard: Gateway, stub: pb_grpc.ModelGatewayStub
) -> None:
    words = "word " * (10 * 1024 * 1024 // 5)  # 10 MiB: gRPC's 4 MiB default would refuse it
    reply = stub.Generate(chat("gpt-4o-mini", words), timeout=60)
    assert reply.usage.input_tokens >= 10 * 1024 * 1024 // 5
    assert hard.openai.stats()["last_request"] is not None


# --- deadlines, enforced by the server ---------------------------------------------------------------


def start_serve(tmp: Path, fakes: Gateway, server: str) -> tuple[subprocess.Popen[bytes], str]:
    """A lone `serve` against the module's fakes, with its own `server:` settings."""
    port = free_port()
    config = tmp / f"serve-{port}.yaml"
    config.write_text(
        f"server: {{grpc: '127.0.0.1:{port}', {server}}}\n"
        f"storage: {{database: 'sqlite:///{tmp}/serve-{port}.db'}}\n"
        f"providers:\n  cloud: {{kind: openai, base_url: '{fakes.openai.url}/v1'}}\n"
        f"  local: {{kind: ollama, base_url: '{fakes.ollama.url}'}}\n"
        "models:\n"
        "  - {name: slow-stream, deployments: [{provider: cloud, model: slow-stream}]}\n"
        "  - name: hang-then-healthy\n"
        "    deployments: [{provider: cloud, model: slow-stream}, {provider: local, model: llama3.2}]\n"
    )
    with (tmp / "serve.log").open("ab") as log:
        process = subprocess.Popen(
            [*GATEWAY, "--config", str(config), "serve"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    wait_for_tcp(port, process)
    return process, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def deadline_target(hard: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service whose own request_timeout_s (1 s) is the only deadline: clients here wait 30 s."""
    process, target = start_serve(tmp_path_factory.mktemp("deadline"), hard, "request_timeout_s: 1")
    try:
        yield target
    finally:
        stop(process)


def test_the_server_ends_a_unary_call_at_its_deadline_and_closes_the_upstream(
    hard: Gateway, deadline_target: str
) -> None:
    cancelled = stat(hard.openai, "unary_cancelled")
    with grpc.insecure_channel(deadline_target) as channel:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.ModelGatewayStub(channel).Generate(chat("slow-stream"), timeout=30)
        elapsed = time.monotonic() - started
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert elapsed < 25  # the server's 1 s, not the client's 30 s (generous for a loaded machine)
    wait_until(lambda: stat(hard.openai, "unary_cancelled") == cancelled + 1, "the upstream to be closed")


def test_the_server_ends_a_stream_at_its_deadline_and_closes_the_upstream(
    hard: Gateway, deadline_target: str
) -> None:
    cancelled = stat(hard.openai, "streams_cancelled")
    received = []
    with grpc.insecure_channel(deadline_target) as channel, pytest.raises(grpc.RpcError) as caught:
        for chunk in pb_grpc.ModelGatewayStub(channel).StreamGenerate(chat("slow-stream"), timeout=30):
            received.append(chunk)
    assert received and not any(c.HasField("final") for c in received)  # cut mid-answer, with a status
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    wait_until(lambda: stat(hard.openai, "streams_cancelled") == cancelled + 1, "the upstream to be closed")


def test_failover_stops_at_the_servers_deadline(hard: Gateway, deadline_target: str) -> None:
    before = model_calls(hard.ollama, "llama3.2")
    with grpc.insecure_channel(deadline_target) as channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.ModelGatewayStub(channel).Generate(chat("hang-then-healthy"), timeout=30)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert model_calls(hard.ollama, "llama3.2") == before  # no time was left for the healthy route


# --- drain ---------------------------------------------------------------------------------------------


def test_draining_cuts_a_call_longer_than_the_grace_with_a_status_and_refuses_new_calls(
    hard: Gateway, tmp_path: Path
) -> None:
    process, target = start_serve(tmp_path, hard, "shutdown_grace_s: 1")
    log = tmp_path / "serve.log"
    gpt_calls = model_calls(hard.openai, "gpt-4o-mini")
    try:
        with grpc.insecure_channel(target) as channel:
            stub = pb_grpc.ModelGatewayStub(channel)
            long_call = stub.StreamGenerate(chat("slow-stream"), timeout=60)  # 60 s of ticks
            assert next(long_call).HasField("delta")
            upstream_calls = model_calls(hard.openai, "slow-stream")
            process.send_signal(signal.SIGTERM)
            wait_until(lambda: "stopping: draining" in log.read_text(), "the drain to begin")
            with pytest.raises(grpc.RpcError) as refused:  # while draining
                stub.Generate(chat("gpt-4o-mini"), timeout=10)
            # Refused before any work: UNAVAILABLE, or CANCELLED when the stream was reset
            # (grpc's shutdown races the new stream); either way the upstream never saw it.
            code = refused.value.code()  # type: ignore[attr-defined]
            assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), code
            with pytest.raises(grpc.RpcError) as cut:
                for _ in long_call:
                    pass
            code, details = cut.value.code(), cut.value.details()  # type: ignore[attr-defined]
            assert code == grpc.StatusCode.UNAVAILABLE, (code, details)
            assert "shutting down" in details, details
        assert model_calls(hard.openai, "slow-stream") == upstream_calls
        assert model_calls(hard.openai, "gpt-4o-mini") == gpt_calls
        assert process.wait(timeout=20) == 0
    finally:
        stop(process)


@pytest.mark.parametrize("topology", ["inprocess", "sidecar"])
def test_up_drains_the_bridges_rest_calls_in_flight(hard: Gateway, tmp_path: Path, topology: str) -> None:
    """SIGTERM to `up` while a REST call waits on its upstream: the call still gets its answer."""
    from concurrent.futures import ThreadPoolExecutor

    grpc_port, bridge_port = free_port(), free_port()
    config = tmp_path / "up.yaml"
    config.write_text(
        f"server: {{grpc: '127.0.0.1:{grpc_port}', bridge: '127.0.0.1:{bridge_port}', "
        "shutdown_grace_s: 10}\n"
        f"storage: {{database: 'sqlite:///{tmp_path}/up.db'}}\n"
        f"providers: {{cloud: {{kind: openai, base_url: '{hard.openai.url}/v1'}}}}\n"
        "models: [{name: slow, deployments: [{provider: cloud, model: slow-first-byte}]}]\n"
    )
    up = subprocess.Popen([*GATEWAY, "--config", str(config), "up", "--topology", topology], cwd=ROOT)
    body = {"model": "slow", "messages": [{"role": "user", "content": "drain me"}]}
    try:
        wait_for_tcp(bridge_port, up)
        before = stat(hard.openai, "unary_started")
        with ThreadPoolExecutor(1) as pool:
            reply = pool.submit(
                httpx.post, f"http://127.0.0.1:{bridge_port}/v1/chat/completions", json=body, timeout=30
            )
            wait_until(lambda: stat(hard.openai, "unary_started") > before, "the call to reach the upstream")
            up.send_signal(signal.SIGTERM)  # the upstream holds its first byte for 2 s
            answered = reply.result()
        assert answered.status_code == 200, answered.text
        assert "drain me" in answered.json()["choices"][0]["message"]["content"]
        assert up.wait(timeout=30) == 0
    finally:
        stop(up)


@pytest.mark.parametrize("topology", ["inprocess", "sidecar"])
def test_up_ends_rest_calls_longer_than_the_grace_with_a_clear_status(
    hard: Gateway, tmp_path: Path, topology: str
) -> None:
    """A stream gets its surface's terminal error frame, a unary call a 503, both saying why."""
    from concurrent.futures import ThreadPoolExecutor

    grpc_port, bridge_port = free_port(), free_port()
    config = tmp_path / "up.yaml"
    config.write_text(
        f"server: {{grpc: '127.0.0.1:{grpc_port}', bridge: '127.0.0.1:{bridge_port}', "
        "shutdown_grace_s: 1}\n"
        f"storage: {{database: 'sqlite:///{tmp_path}/up.db'}}\n"
        f"providers: {{cloud: {{kind: openai, base_url: '{hard.openai.url}/v1'}}}}\n"
        "models: [{name: long, deployments: [{provider: cloud, model: slow-stream}]}]\n"
    )
    up = subprocess.Popen([*GATEWAY, "--config", str(config), "up", "--topology", topology], cwd=ROOT)
    url = f"http://127.0.0.1:{bridge_port}/v1/chat/completions"
    body = {"model": "long", "messages": [{"role": "user", "content": "a long one"}]}
    try:
        wait_for_tcp(bridge_port, up)
        before = stat(hard.openai, "unary_started")
        with (
            ThreadPoolExecutor(1) as pool,
            httpx.stream("POST", url, json={**body, "stream": True}, timeout=30) as stream,
        ):
            lines = stream.iter_lines()
            assert next(lines).startswith("data: ")  # the stream is under way (60 s of ticks)
            unary = pool.submit(httpx.post, url, json=body, timeout=30)  # its upstream answers in 60 s
            wait_until(lambda: stat(hard.openai, "unary_started") > before, "the unary call upstream")
            up.send_signal(signal.SIGTERM)
            events = [line for line in lines if line.startswith("data: ")]
            answered = unary.result()
        assert events[-1] == "data: [DONE]" and "shutting down" in events[-2], events[-3:]
        assert answered.status_code == 503, answered.text
        assert "shutting down" in answered.json()["error"]["message"]
        assert up.wait(timeout=30) == 0
    finally:
        stop(up)
