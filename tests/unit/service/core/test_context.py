"""RequestContext from gRPC metadata: ids kept only when sane, credentials kept apart and never shown."""

from __future__ import annotations

from model_gateway.core.context import DIRECT, RequestContext
from model_gateway.deadline import Deadline


def test_metadata_becomes_a_context() -> None:
    ctx = RequestContext.from_metadata(
        (
            ("x-request-id", "req-1"),
            ("x-gateway-surface", "ollama"),
            ("authorization", "Bearer mg-secret"),
            ("user-agent", "openai-python/2"),
            ("grpc-trace-bin", b"\x00"),
            ("cookie", "not kept"),
        ),
        Deadline(5),
    )
    assert (ctx.request_id, ctx.surface, ctx.credential) == ("req-1", "ollama", "Bearer mg-secret")
    assert ctx.client == {"user-agent": "openai-python/2"}
    assert ctx.principal.anonymous
    assert "mg-secret" not in repr(ctx)


def test_unsafe_ids_and_surfaces_are_dropped() -> None:
    ctx = RequestContext.from_metadata(
        (("x-request-id", "bad id\n"), ("x-gateway-surface", "x" * 500)), Deadline(1)
    )
    assert ctx.request_id == "" and ctx.surface == DIRECT


def test_x_api_key_is_a_credential_too() -> None:
    ctx = RequestContext.from_metadata((("x-api-key", "sk-ant-1"),), Deadline(1))
    assert ctx.credential == "sk-ant-1" and ctx.request_id == "" and ctx.surface == DIRECT
