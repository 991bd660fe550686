"""A provider's first model: the bridge knows models only through ListModels, so it asks, briefly cached.

"First" is the configuration's order. A model counts when one of its
deployments is on that provider and it is not only an embedding model. The
gateway still routes the call as it routes every call to that model: a model
with deployments on several providers may be served by another one (the
reply's `provider` says which).
"""

from __future__ import annotations

import hashlib
import time

from model_gateway_bridge.client import CallContext, call_unary
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.state import BridgeState
from modelgateway.v1 import gateway_pb2 as pb

TTL_S = 5.0
_MAX_ENTRIES = 256
# The caller's credential → (when fetched, the models it may see).
_cache: dict[str, tuple[float, pb.ListModelsResponse]] = {}


def _caller(ctx: CallContext) -> str:
    """Whose list it is: the list may depend on the key, so it is cached per credential (hashed)."""
    credential = "".join(value for name, value in ctx.metadata if name in ("authorization", "x-api-key"))
    return hashlib.sha256(credential.encode()).hexdigest()


async def list_models(state: BridgeState, ctx: CallContext) -> pb.ListModelsResponse:
    key, now = _caller(ctx), time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < TTL_S:
        return hit[1]
    call = state.client.stub.ListModels(pb.ListModelsRequest(), metadata=ctx.metadata, timeout=ctx.timeout)
    reply: pb.ListModelsResponse = await call_unary(call, ctx)
    if len(_cache) >= _MAX_ENTRIES:
        _cache.clear()
    _cache[key] = (now, reply)
    return reply


def first_model(reply: pb.ListModelsResponse, provider: str) -> str:
    for model in reply.models:
        chat = not model.capabilities or any(c != "embed" for c in model.capabilities)
        if chat and any(d.provider == provider for d in model.deployments):
            return model.name
    known = ", ".join(sorted({d.provider for m in reply.models for d in m.deployments})) or "none"
    raise BridgeError(
        404,
        f"no configured chat model is served by provider {provider!r} (providers: {known})",
        reason="MODEL_NOT_FOUND",
        param="provider",
    )


async def model_for(state: BridgeState, ctx: CallContext, provider: str) -> str:
    return first_model(await list_models(state, ctx), provider)
