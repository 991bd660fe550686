"""Ollama's names for roles and `done_reason`s."""

from __future__ import annotations

from modelgateway.v1 import gateway_pb2 as pb

ROLE_BY_NAME: dict[str, pb.Role.ValueType] = {
    "system": pb.ROLE_SYSTEM,
    "user": pb.ROLE_USER,
    "assistant": pb.ROLE_ASSISTANT,
    "tool": pb.ROLE_TOOL,
}

# Ollama has no developer role: its instructions are a system message.
NAME_BY_ROLE: dict[int, str] = {
    pb.ROLE_SYSTEM: "system",
    pb.ROLE_DEVELOPER: "system",
    pb.ROLE_USER: "user",
    pb.ROLE_ASSISTANT: "assistant",
    pb.ROLE_TOOL: "tool",
}

FINISH_BY_NAME: dict[str, pb.FinishReason.ValueType] = {
    "stop": pb.FINISH_REASON_STOP,
    "length": pb.FINISH_REASON_LENGTH,
}


def done_reason(reason: pb.FinishReason.ValueType) -> str:
    """Ollama says "stop" for a tool-call answer too; it has no other reasons for a generation."""
    return "length" if reason == pb.FINISH_REASON_LENGTH else "stop"
