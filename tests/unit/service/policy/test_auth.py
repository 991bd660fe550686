"""Authenticate: credentials, the key table and its refresh, expiry, model patterns, anonymous rules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from model_gateway.config import AuthConfig, GatewayConfig, parse_config
from model_gateway.core.call import Call
from model_gateway.core.context import Limits, RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.core.stages import Record
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.policy import policy_stages
from model_gateway.policy.auth import (
    Authenticate,
    KeyTable,
    anonymous_refusal,
    is_loopback,
    presented_key,
)
from model_gateway.storage.database import Database, open_database
from model_gateway.storage.keys import KeyRecord, KeyStore, ProjectRecord, Scope, key_hash, new_key
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import ScriptedProvider

STATIC = "static-key-0123456789"
CONFIG = parse_config(
    f"""
providers: {{a: {{kind: openai}}}}
models:
  - {{name: llama3.2, aliases: [tiny], deployments: [{{provider: a, model: m}}]}}
  - {{name: qwen3, deployments: [{{provider: a, model: m}}]}}
  - {{name: gpt-4o, deployments: [{{provider: a, model: m}}]}}
auth:
  keys:
    - {{name: team-a, key: "{STATIC}", models: ["llama*", "qwen*"], rpm: 60, tpm: 1000, budget_usd: 10}}
    - {{name: ops, key: "ops-key-0123456789abcdef", admin: true}}
"""
)


class Sink:
    def __init__(self) -> None:
        self.calls: list[Call] = []

    def record(self, call: Call) -> None:
        self.calls.append(call)


def ctx(credential: str = "") -> RequestContext:
    metadata = (("authorization", credential),) if credential else ()
    return RequestContext.from_metadata(metadata, Deadline(5))


def request(model: str = "llama3.2") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model=model, messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="x")])]
    )


def refused(exc: pytest.ExceptionInfo[GatewayError]) -> tuple[grpc.StatusCode, str, str]:
    return exc.value.code, exc.value.reason, exc.value.message


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await open_database(f"sqlite:///{tmp_path / 'gateway.db'}")
    yield opened
    await opened.close()


# --- the credential ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "key"),
    [
        ("Bearer mg-abc", "mg-abc"),
        ("bearer   mg-abc ", "mg-abc"),
        ("BEARER mg-abc", "mg-abc"),
        ("mg-abc", "mg-abc"),
    ],
)
def test_bearer_or_a_bare_x_api_key(credential: str, key: str) -> None:
    assert presented_key(credential) == key


@pytest.mark.parametrize("credential", ["Basic dXNlcjpwYXNz", "Token mg-abc", "Bearer "])
def test_another_scheme_is_refused_naming_the_expected_form(credential: str) -> None:
    stage = Authenticate(CONFIG)
    with pytest.raises(GatewayError) as raised:
        stage.identify(credential)
    code, reason, message = refused(raised)
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, Reason.UNAUTHENTICATED)
    assert "Authorization: Bearer <key>" in message and "x-api-key" in message
    assert "dXNlcjpwYXNz" not in message and "mg-abc" not in message


# --- who is calling ------------------------------------------------------------------------------


def test_a_known_key_becomes_its_principal_with_limits() -> None:
    principal = Authenticate(CONFIG).identify(f"Bearer {STATIC}")
    assert (principal.name, principal.anonymous, principal.admin) == ("team-a", False, False)
    assert principal.models == ("llama*", "qwen*")
    assert principal.limits == Limits(rpm=60, tpm=1000, budget_usd=10, budget_period="month")


@pytest.mark.parametrize(
    ("credential", "problem"), [("", "missing API key"), ("Bearer mg-not-a-key", "invalid API key")]
)
def test_missing_or_unknown_keys_are_unauthenticated(credential: str, problem: str) -> None:
    with pytest.raises(GatewayError) as raised:
        Authenticate(CONFIG).identify(credential)
    code, _, message = refused(raised)
    assert code == grpc.StatusCode.UNAUTHENTICATED and message.startswith(problem)
    assert "mg-not-a-key" not in message


def test_without_keys_every_caller_is_anonymous_whatever_it_sends() -> None:
    # SDKs always send some key (the OpenAI SDK insists on one): with auth off it is ignored.
    stage = Authenticate(GatewayConfig())
    assert stage.identify("").anonymous and stage.identify("Bearer sk-whatever").anonymous


def test_with_keys_allow_anonymous_admits_callers_without_one_but_not_wrong_keys() -> None:
    config = CONFIG.model_copy(update={"auth": CONFIG.auth.model_copy(update={"allow_anonymous": True})})
    stage = Authenticate(config)
    assert stage.identify("").anonymous
    with pytest.raises(GatewayError):
        stage.identify("Bearer wrong")


def test_a_public_bind_without_keys_is_never_anonymous_unless_allowed() -> None:
    with pytest.raises(GatewayError):
        Authenticate(GatewayConfig(), public=True).identify("")
    allowed = GatewayConfig(auth=AuthConfig(allow_anonymous=True))
    assert Authenticate(allowed, public=True).identify("").anonymous


async def test_revoked_and_expired_keys_say_so(database: Database) -> None:
    store = KeyStore(database)
    revoked, expired, soon = new_key(), new_key(), new_key()
    now = time.time()
    await store.create_key(KeyRecord("old", key_hash(revoked), Scope(), created_at=now))
    await store.revoke("old", now=now)
    await store.create_key(KeyRecord("past", key_hash(expired), Scope(), expires_at=now - 1, created_at=now))
    await store.create_key(KeyRecord("later", key_hash(soon), Scope(), expires_at=now + 3600, created_at=now))
    table = KeyTable(AuthConfig(), store)
    await table.refresh()
    stage = Authenticate(GatewayConfig(), table)
    for key, text in ((revoked, "API key 'old' was revoked on "), (expired, "API key 'past' expired on ")):
        with pytest.raises(GatewayError) as raised:
            stage.identify(f"Bearer {key}")
        assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED and raised.value.message.startswith(text)
    assert stage.identify(f"Bearer {soon}").name == "later"
    stage.clock = lambda: now + 7200  # an hour past its expiry
    with pytest.raises(GatewayError, match="expired"):
        stage.identify(f"Bearer {soon}")


# --- which models ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["llama3.2", "tiny", "qwen3"])
def test_a_model_matching_a_pattern_by_any_of_its_names_is_permitted(model: str) -> None:
    stage = Authenticate(CONFIG)
    stage.permit(stage.identify(STATIC), model)


def test_a_model_outside_the_patterns_is_denied_naming_model_and_key_name() -> None:
    stage = Authenticate(CONFIG)
    with pytest.raises(GatewayError) as raised:
        stage.permit(stage.identify(STATIC), "gpt-4o")
    code, reason, message = refused(raised)
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, Reason.PERMISSION_DENIED)
    assert "'gpt-4o'" in message and "'team-a'" in message and STATIC not in message
    assert raised.value.metadata == {"key": "team-a", "model": "gpt-4o"}


async def test_a_project_bounds_its_keys_models_and_lends_them_its_limits(database: Database) -> None:
    store = KeyStore(database)
    await store.create_project(ProjectRecord("research", Scope(("qwen*",), rpm=100, budget_usd=50), 1.0))
    key = new_key()
    await store.create_key(KeyRecord("r1", key_hash(key), Scope(rpm=10), project="research", created_at=1.0))
    table = KeyTable(AuthConfig(), store)
    await table.refresh()
    stage = Authenticate(CONFIG, table)
    principal = stage.identify(key)
    assert (principal.project, principal.project_models) == ("research", ("qwen*",))
    assert principal.limits.rpm == 10 and principal.project_limits == Limits(100, None, 50, "month")
    stage.permit(principal, "qwen3")
    with pytest.raises(GatewayError, match=r"project 'research'.*'llama3\.2'"):
        stage.permit(principal, "llama3.2")


# --- the key table -------------------------------------------------------------------------------


async def test_keys_created_and_revoked_elsewhere_take_effect_after_a_refresh(database: Database) -> None:
    store = KeyStore(database)
    table = KeyTable(AuthConfig(refresh_s=0.05), store)
    await table.refresh()
    assert not table.any_keys
    key = new_key()
    table.start()
    try:
        await store.create_key(KeyRecord("late", key_hash(key), Scope(), created_at=time.time()))
        await _eventually(lambda: table.lookup(key) is not None)
        await store.revoke("late")
        await _eventually(lambda: (entry := table.lookup(key)) is not None and entry.revoked_at is not None)
    finally:
        await table.close()


async def test_a_failing_refresh_keeps_the_last_table(database: Database) -> None:
    store = KeyStore(database)
    key = new_key()
    await store.create_key(KeyRecord("kept", key_hash(key), Scope(), created_at=1.0))
    table = KeyTable(AuthConfig(refresh_s=0.02), store)
    await table.refresh()
    await database.close()  # every later read fails
    table.start()
    await asyncio.sleep(0.1)
    await table.close()
    assert table.lookup(key) is not None


def test_the_lookup_is_cheap() -> None:
    keys = [
        {"name": f"k{i}", "key": f"key-{i:04d}-0123456789abcdef", "models": ["llama*"]} for i in range(2000)
    ]
    stage = Authenticate(GatewayConfig.model_validate({"auth": {"keys": keys}}))
    credential = f"Bearer {keys[1234]['key']}"
    rounds = 20_000
    started = time.perf_counter()
    for _ in range(rounds):
        stage.permit(stage.identify(credential), "llama3.2")
    per_call_ms = (time.perf_counter() - started) / rounds * 1000
    assert per_call_ms < 0.05, f"{per_call_ms:.4f} ms per authentication"


async def _eventually(check: object, timeout: float = 2.0) -> None:
    end = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < end, "did not happen in time"
        await asyncio.sleep(0.01)


# --- when the gateway may run without keys --------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1:50051", True),
        ("127.0.0.2:50051", True),
        ("localhost:50051", True),
        ("[::1]:50051", True),
        ("unix:///run/mg.sock", True),
        ("0.0.0.0:50051", False),
        ("[::]:50051", False),
        (":50051", False),
        ("10.0.0.5:50051", False),
        ("gateway.internal:50051", False),
    ],
)
def test_loopback_binds(address: str, local: bool) -> None:
    assert is_loopback(address) is local


def test_no_keys_on_a_public_bind_refuses_to_start_unless_allowed() -> None:
    config = GatewayConfig()
    assert anonymous_refusal(config, ["127.0.0.1:50051", "unix:///tmp/x.sock"], any_keys=False) is None
    refusal = anonymous_refusal(config, ["0.0.0.0:50051"], any_keys=False)
    assert refusal is not None and "0.0.0.0:50051" in refusal and "auth.allow_anonymous" in refusal
    assert anonymous_refusal(config, ["0.0.0.0:50051"], any_keys=True) is None
    allowed = GatewayConfig(auth=AuthConfig(allow_anonymous=True))
    assert anonymous_refusal(allowed, ["0.0.0.0:50051"], any_keys=False) is None
    public_bridge = GatewayConfig.model_validate({"server": {"bridge": "0.0.0.0:8080"}})
    assert "0.0.0.0:8080" in (anonymous_refusal(public_bridge, ["127.0.0.1:1"], any_keys=False) or "")


# --- through the pipeline ------------------------------------------------------------------------


def pipeline() -> tuple[Pipeline, Sink]:
    sink = Sink()
    stages = policy_stages(CONFIG, sinks=[sink])
    assert isinstance(stages[-1], Record)
    return Pipeline(CONFIG, {"a": ScriptedProvider("a")}, stages), sink


async def test_a_refused_call_reaches_no_upstream_and_is_recorded_once() -> None:
    gateway, sink = pipeline()
    with pytest.raises(GatewayError) as raised:
        await gateway.generate(request("gpt-4o"), ctx(f"Bearer {STATIC}"))
    assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED
    [call] = sink.calls
    assert call.ctx.principal.name == "team-a" and call.served_by is None


async def test_an_answered_call_carries_the_principal() -> None:
    gateway, sink = pipeline()
    await gateway.generate(request("tiny"), ctx(f"Bearer {STATIC}"))
    assert sink.calls[0].ctx.principal.name == "team-a"


async def test_list_models_shows_a_key_only_its_models() -> None:
    gateway, _ = pipeline()
    listed = await gateway.list_models(ctx(f"Bearer {STATIC}"))
    assert [m.name for m in listed.models] == ["llama3.2", "qwen3"]
    every = await gateway.list_models(ctx("Bearer ops-key-0123456789abcdef"))
    assert len(every.models) == 3
    with pytest.raises(GatewayError) as raised:
        await gateway.list_models(ctx())
    assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED


async def test_get_model_and_count_tokens_authenticate_and_check_the_model() -> None:
    gateway, sink = pipeline()
    assert (await gateway.get_model("tiny", ctx(f"Bearer {STATIC}"))).name == "llama3.2"
    with pytest.raises(GatewayError) as raised:
        await gateway.get_model("gpt-4o", ctx(f"Bearer {STATIC}"))
    assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(GatewayError) as raised:
        await gateway.count_tokens(request("gpt-4o"), ctx(f"Bearer {STATIC}"))
    assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(GatewayError) as raised:
        await gateway.count_tokens(request(), ctx("Bearer nope"))
    assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert (await gateway.count_tokens(request(), ctx(f"Bearer {STATIC}"))).input_tokens > 0
    assert sink.calls == []  # none of these is a model call: nothing for the ledger
