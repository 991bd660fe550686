"""Messages → JSON as grpc-gateway marshals them (unpopulated fields emitted)."""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import Message

from model_gateway_bridge.fields import JSON


def to_json(message: Message) -> JSON:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
