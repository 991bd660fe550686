"""One model call as it moves through the stages, and what it left behind when it ended."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from model_gateway.core.context import RequestContext
from model_gateway.routing.registry import Route
from modelgateway.v1 import gateway_pb2 as pb

UNKNOWN = "_unknown"  # a label for a model that is not in the config, or no provider at all


@dataclass(slots=True)
class Call:
    rpc: str  # Generate | StreamGenerate | Embed
    ctx: RequestContext
    request: pb.GenerateRequest | pb.EmbedRequest
    model_label: str  # the configured name behind the requested one, or UNKNOWN: a bounded label
    started: float = field(default_factory=time.perf_counter)
    routes: list[Route] = field(default_factory=list)  # in the order they will be tried
    decision: str = ""  # the strategy or rule that ordered them
    served_by: Route | None = None  # the route that answered
    route: pb.Route | None = None  # ... as the client sees it
    usage: pb.Usage | None = None  # set when the call is answered
    cost: pb.Cost | None = None  # set by the price stage
    # A stage that answers by itself (the cache) sets this; the upstream is not called.
    answer: pb.GenerateResponse | None = None
    # The upstream's reply, for stages that keep answers (the cache): a unary
    # call's response; a stream's chunks, collected only when a stage sets a list here.
    response: pb.GenerateResponse | None = None
    chunks: list[pb.StreamChunk] | None = None
    error: BaseException | None = None
    first_chunk_s: float | None = None  # streams: seconds to the first chunk
    cache_hit: bool = False  # answered from the response cache
    saved_usd: float = 0.0  # what a cache hit saved (the cost of the answer it replayed)
    arm: str = ""  # the A/B arm a split model chose
    # Request fields no route could carry, named to the client.
    dropped: list[str] = field(default_factory=list)

    @property
    def requested_model(self) -> str:
        return self.request.model

    def answered(self, route: pb.Route, usage: pb.Usage) -> None:
        self.route, self.usage = route, usage

    def chunk(self) -> None:
        if self.first_chunk_s is None:
            self.first_chunk_s = time.perf_counter() - self.started
