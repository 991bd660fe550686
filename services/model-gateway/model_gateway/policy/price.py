"""Price: the cost of an answered call, from the serving model's configured prices."""

from __future__ import annotations

from model_gateway.core.call import Call
from model_gateway.core.stages import PassStage
from model_gateway.pricing import cost_of


class Price(PassStage):
    name = "price"

    async def leave(self, call: Call) -> None:
        if call.usage is not None and call.served_by is not None:
            call.cost = cost_of(call.served_by.model.pricing, call.usage)
