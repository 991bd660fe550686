"""Anthropic's (Messages API) names for roles and stop reasons, and the Messages-only request keys.

Both directions read these tables: the front door (bridge, canonical →
`stop_reason`) and the provider (service, `stop_reason` → canonical).
"""

from __future__ import annotations

from modelgateway.v1 import gateway_pb2 as pb

# The Messages API has two roles in `messages`; instructions are the top-level `system`.
ROLE_BY_NAME: dict[str, pb.Role.ValueType] = {
    "user": pb.ROLE_USER,
    "assistant": pb.ROLE_ASSISTANT,
}

# canonical → stop_reason. A tool-call answer is "tool_use"; ERROR has no
# stop_reason (it is an error body, or an `error` event in a stream).
STOP_REASON: dict[int, str] = {
    pb.FINISH_REASON_UNSPECIFIED: "end_turn",
    pb.FINISH_REASON_STOP: "end_turn",
    pb.FINISH_REASON_LENGTH: "max_tokens",
    pb.FINISH_REASON_TOOL_CALLS: "tool_use",
    pb.FINISH_REASON_CONTENT_FILTER: "refusal",
}

# stop_reason → canonical (https://docs.anthropic.com/en/api/messages, `stop_reason`).
FINISH_BY_STOP_REASON: dict[str, pb.FinishReason.ValueType] = {
    "end_turn": pb.FINISH_REASON_STOP,
    "stop_sequence": pb.FINISH_REASON_STOP,
    "max_tokens": pb.FINISH_REASON_LENGTH,
    "model_context_window_exceeded": pb.FINISH_REASON_LENGTH,
    "tool_use": pb.FINISH_REASON_TOOL_CALLS,
    "refusal": pb.FINISH_REASON_CONTENT_FILTER,
    # A paused server-tool turn: unfinished, nothing failed ("ask again to continue").
    "pause_turn": pb.FINISH_REASON_LENGTH,
}

# Request keys of the Messages API that no other API has. The Anthropic front
# door passes them in GenerateRequest.provider_options (with the caller's
# `anthropic-beta` flags as "anthropic-beta"); an `anthropic` provider sends
# the documented ones upstream, and a provider of any other API must leave
# them out (OpenAI's API answers 400 to an unknown parameter).
MESSAGES_EXTRAS = frozenset(
    {
        "anthropic-beta",
        "cache_control",
        "container",
        "context_management",
        "diagnostics",
        "inference_geo",
        "mcp_servers",
        "output_config",
        "service_tier",
        "speed",
        "thinking",
    }
)
