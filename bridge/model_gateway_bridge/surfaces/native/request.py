"""JSON bodies → request messages, by the proto3 JSON mapping, as strict as grpc-gateway."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from model_gateway_bridge.errors import bad_request
from model_gateway_bridge.fields import JSON

_NUMBERS = {
    FieldDescriptor.CPPTYPE_DOUBLE,
    FieldDescriptor.CPPTYPE_FLOAT,
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
}


def parse_into(body: JSON, message: Message) -> None:
    """Fills `message` from the body; unknown fields are discarded, wrong types are a 400."""
    _check_types(message.DESCRIPTOR, body, "")
    try:
        json_format.ParseDict(body, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise bad_request(f"invalid {message.DESCRIPTOR.name}: {exc}") from None


def _check_types(descriptor: Any, value: JSON, path: str) -> None:
    """Reject what protojson (grpc-gateway) rejects but python's json_format lets through:
    a string or list for a message (read as an empty one), a bool or fraction for
    an enum, a bool for a number."""
    fields = {f.json_name: f for f in descriptor.fields} | {f.name: f for f in descriptor.fields}
    for key, item in value.items():
        field = fields.get(key)
        if field is None or item is None:
            continue
        where = f"{path}{key}"
        repeated = field.is_repeated
        for index, element in enumerate(item if repeated and isinstance(item, list) else [item]):
            at = f"{where}[{index}]" if repeated else where
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                nested: Any = field.message_type
                if nested.full_name.startswith("google.protobuf.") or nested.GetOptions().map_entry:
                    continue  # a Struct takes any JSON; a map is an object of scalars
                if not isinstance(element, dict):
                    raise bad_request(f"{at}: expected an object, got {type(element).__name__}", param=at)
                _check_types(nested, element, f"{at}.")
            elif field.type == FieldDescriptor.TYPE_ENUM and (
                isinstance(element, bool) or (isinstance(element, float) and not element.is_integer())
            ):
                raise bad_request(f"{at}: {element!r} is not an enum value", param=at)
            elif field.cpp_type in _NUMBERS and isinstance(element, bool):
                raise bad_request(f"{at}: expected a number, got {element!r}", param=at)
