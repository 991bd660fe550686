"""The response cache's key: a hash of the canonical request after normalisation.

Everything that can change an answer is in it — the model as resolved (an
alias and its model share entries), messages or prompt and system, tools,
tool choice, response format, every sampling parameter and the provider
options (a Struct, whose keys deterministic serialization sorts). What cannot
is left out: the stream flag (a unary answer replays as a stream), `user`,
`metadata`, `tags` and the cache control itself. The caller's key name is in
it only when `cache.per_key` is set.

One copy and one deterministic serialization of the request, hashed with
BLAKE2b: a few microseconds for an ordinary chat request.
"""

from __future__ import annotations

from hashlib import blake2b

from modelgateway.v1 import gateway_pb2 as pb

VERSION = b"mg-cache-v1"  # part of every key: change it when the key's recipe changes


def cache_key(request: pb.GenerateRequest, model: str, owner: str = "") -> str:
    """The hex key of `request` asked of `model` (the configured name), kept apart per `owner`."""
    canonical = pb.GenerateRequest()
    canonical.CopyFrom(request)
    canonical.model = model
    for name in ("stream", "user", "metadata", "tags", "cache_control"):  # never change an answer
        canonical.ClearField(name)
    digest = blake2b(digest_size=20, person=VERSION)
    if owner:
        digest.update(owner.encode())
        digest.update(b"\0")
    digest.update(canonical.SerializeToString(deterministic=True))
    return digest.hexdigest()


def deterministic(request: pb.GenerateRequest) -> bool:
    """Temperature 0 or a seed: an answer worth keeping for the same request."""
    sampling = request.sampling
    return sampling.HasField("seed") or (sampling.HasField("temperature") and sampling.temperature == 0)
