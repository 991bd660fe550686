"""Policy stages: authenticate, limit, cache, price — one file each, in the stage list's order.

`policy_stages` builds the list the pipeline runs (see core/stages.py);
stages that do not exist yet are named no-ops.
"""

from __future__ import annotations

from collections.abc import Sequence

from model_gateway.config import GatewayConfig
from model_gateway.core.observers import OutcomeSink
from model_gateway.core.stages import Record, Stage
from model_gateway.policy.auth import Authenticate
from model_gateway.policy.cache import ResponseCache
from model_gateway.policy.limits import Limit
from model_gateway.policy.price import Price


def policy_stages(config: GatewayConfig, sinks: Sequence[OutcomeSink] = ()) -> list[Stage]:
    return [Authenticate(), Limit(), ResponseCache(), Price(), Record(sinks)]
