"""The lock of the proto's wire contract: contracts/proto-lock.json.

It records, from the generated descriptor (modelgateway.v1.gateway_pb2), every
message's fields (name, number, type, label, oneof, JSON name) and reserved
numbers and names, every enum's values, and every RPC's input, output,
streaming and google.api.http bindings. `compare(locked, current)` lists what
would break a client built against the lock: anything removed, renumbered,
retyped or renamed. Additions are compatible.

    python -m tests.contract.proto_lock           # check; exit 1 on a breaking change
    python -m tests.contract.proto_lock --write   # record additions (refuses breaking changes)
    python -m tests.contract.proto_lock --write --allow-breaking   # a deliberate major change
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped]
from google.protobuf import descriptor_pb2

from modelgateway.v1 import gateway_pb2

LOCK_PATH = Path(__file__).resolve().parents[2] / "contracts" / "proto-lock.json"
UPDATE_COMMAND = "python -m tests.contract.proto_lock --write"

JSON = dict[str, Any]

_FIELD = descriptor_pb2.FieldDescriptorProto
_HTTP_VERBS = ("get", "put", "post", "delete", "patch")


# --- reading the descriptor ----------------------------------------------------------------------


def _scalar(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.type in (_FIELD.TYPE_MESSAGE, _FIELD.TYPE_ENUM):
        return field.type_name.lstrip(".")
    return _FIELD.Type.Name(field.type).removeprefix("TYPE_").lower()


def _http_rules(rule: http_pb2.HttpRule) -> list[JSON]:
    rules: list[JSON] = []
    verb = rule.WhichOneof("pattern")
    if verb in _HTTP_VERBS:
        entry: JSON = {"method": verb.upper(), "path": getattr(rule, verb)}
        if rule.body:
            entry["body"] = rule.body
        if rule.response_body:
            entry["response_body"] = rule.response_body
        rules.append(entry)
    elif verb == "custom":
        rules.append({"method": rule.custom.kind, "path": rule.custom.path, "body": rule.body})
    for extra in rule.additional_bindings:
        rules.extend(_http_rules(extra))
    return rules


def _message(
    message: descriptor_pb2.DescriptorProto,
    scope: str,
    messages: JSON,
    enums: JSON,
    map_entries: dict[str, str],
) -> None:
    name = f"{scope}.{message.name}"
    for nested in message.nested_type:
        if nested.options.map_entry:
            key, value = (_scalar(f) for f in nested.field)
            map_entries[f"{name}.{nested.name}"] = f"map<{key}, {value}>"
        else:
            _message(nested, name, messages, enums, map_entries)
    for enum in message.enum_type:
        enums[f"{name}.{enum.name}"] = {value.name: value.number for value in enum.value}
    # CopyToProto leaves json_name out; the runtime descriptor has it.
    runtime = gateway_pb2.DESCRIPTOR.pool.FindMessageTypeByName(name)
    fields: JSON = {}
    for field in message.field:
        json_name = runtime.fields_by_name[field.name].json_name
        entry: JSON = {"number": field.number, "type": _scalar(field), "json_name": json_name}
        if field.label == _FIELD.LABEL_REPEATED:
            entry["label"] = "repeated"
        elif field.proto3_optional:
            entry["label"] = "optional"  # explicit presence
        else:
            entry["label"] = "singular"
        if field.HasField("oneof_index") and not field.proto3_optional:
            entry["oneof"] = message.oneof_decl[field.oneof_index].name
        fields[field.name] = entry
    reserved = {
        "numbers": sorted(n for r in message.reserved_range for n in range(r.start, r.end)),
        "names": sorted(message.reserved_name),
    }
    messages[name] = {"fields": fields, "reserved": reserved}


def current_lock() -> JSON:
    """The lock as the generated descriptor describes the proto today."""
    proto = descriptor_pb2.FileDescriptorProto()
    gateway_pb2.DESCRIPTOR.CopyToProto(proto)
    scope = proto.package
    messages: JSON = {}
    enums: JSON = {}
    map_entries: dict[str, str] = {}
    for message in proto.message_type:
        _message(message, scope, messages, enums, map_entries)
    for enum in proto.enum_type:
        enums[f"{scope}.{enum.name}"] = {value.name: value.number for value in enum.value}
    # A map field's type is its entry message; write it as map<K, V>, as the .proto does.
    for message in messages.values():
        for field in message["fields"].values():
            if field["type"] in map_entries:
                field["type"] = map_entries[field["type"]]
    services: JSON = {}
    file = gateway_pb2.DESCRIPTOR
    for service in file.services_by_name.values():
        methods: JSON = {}
        for method in service.methods:
            rule = method.GetOptions().Extensions[annotations_pb2.http]
            methods[method.name] = {
                "input": method.input_type.full_name,
                "output": method.output_type.full_name,
                "client_streaming": method.client_streaming,
                "server_streaming": method.server_streaming,
                "http": _http_rules(rule),
            }
        services[service.full_name] = {"methods": methods}
    return {
        "file": proto.name,
        "package": proto.package,
        "messages": dict(sorted(messages.items())),
        "enums": dict(sorted(enums.items())),
        "services": services,
    }


# --- comparing ---------------------------------------------------------------------------------


def compare(locked: JSON, current: JSON) -> list[str]:
    """Every breaking difference between the lock and the proto as it is now."""
    problems: list[str] = []
    if current["package"] != locked["package"]:
        problems.append(f"package renamed: {locked['package']} -> {current['package']}")
    for name, old in locked["messages"].items():
        new = current["messages"].get(name)
        if new is None:
            problems.append(f"message {name} removed")
            continue
        by_number = {field["number"]: (field_name, field) for field_name, field in new["fields"].items()}
        for field_name, field in old["fields"].items():
            where = f"{name}.{field_name} = {field['number']}"
            if field["number"] not in by_number:
                problems.append(f"field {where} removed")
                continue
            new_name, new_field = by_number[field["number"]]
            if new_name != field_name:
                problems.append(f"field {where} renamed to {new_name}")
            for key in ("type", "label", "json_name", "oneof"):
                if field.get(key) != new_field.get(key):
                    problems.append(
                        f"field {where}: {key} changed from {field.get(key)} to {new_field.get(key)}"
                    )
        for number in old["reserved"]["numbers"]:
            if number not in new["reserved"]["numbers"]:
                problems.append(f"{name}: reserved number {number} is no longer reserved")
        for reserved_name in old["reserved"]["names"]:
            if reserved_name not in new["reserved"]["names"]:
                problems.append(f"{name}: reserved name {reserved_name!r} is no longer reserved")
    for name, values in locked["enums"].items():
        new_values = current["enums"].get(name)
        if new_values is None:
            problems.append(f"enum {name} removed")
            continue
        by_number = {number: value for value, number in new_values.items()}
        for value, number in values.items():
            if value not in new_values and number not in by_number:
                problems.append(f"enum value {name}.{value} = {number} removed")
            elif value not in new_values:
                problems.append(f"enum value {name}.{value} = {number} renamed to {by_number[number]}")
            elif new_values[value] != number:
                problems.append(f"enum value {name}.{value} renumbered {number} -> {new_values[value]}")
    for name, service in locked["services"].items():
        new_service = current["services"].get(name)
        if new_service is None:
            problems.append(f"service {name} removed")
            continue
        for method_name, method in service["methods"].items():
            new_method = new_service["methods"].get(method_name)
            if new_method is None:
                problems.append(f"rpc {name}.{method_name} removed")
                continue
            for key in ("input", "output", "client_streaming", "server_streaming"):
                if method[key] != new_method[key]:
                    problems.append(
                        f"rpc {name}.{method_name}: {key} changed from {method[key]} to {new_method[key]}"
                    )
            for binding in method["http"]:
                if binding not in new_method["http"]:
                    problems.append(f"rpc {name}.{method_name}: HTTP binding {binding} removed or changed")
    return problems


def additions(locked: JSON, current: JSON) -> list[str]:
    """What the proto has that the lock does not record yet (compatible; worth locking)."""
    found: list[str] = []
    for name, message in current["messages"].items():
        old = locked["messages"].get(name)
        if old is None:
            found.append(f"message {name}")
            continue
        found += [f"field {name}.{field}" for field in message["fields"] if field not in old["fields"]]
    for name, values in current["enums"].items():
        old_values = locked["enums"].get(name, {})
        found += [f"enum value {name}.{value}" for value in values if value not in old_values]
    for name, service in current["services"].items():
        old_methods = locked["services"].get(name, {}).get("methods", {})
        for method_name, method in service["methods"].items():
            if method_name not in old_methods:
                found.append(f"rpc {name}.{method_name}")
                continue
            found += [
                f"rpc {name}.{method_name} HTTP binding {binding}"
                for binding in method["http"]
                if binding not in old_methods[method_name]["http"]
            ]
    return found


def read_lock(path: Path = LOCK_PATH) -> JSON:
    lock: JSON = json.loads(path.read_text())
    return lock


def render(lock: JSON) -> str:
    return json.dumps(lock, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--write", action="store_true", help=f"update {LOCK_PATH.name} with the proto as it is"
    )
    parser.add_argument("--allow-breaking", action="store_true", help="with --write: accept breaking changes")
    parser.add_argument("--lock", type=Path, default=LOCK_PATH)
    args = parser.parse_args(argv)
    current = current_lock()
    if not args.lock.exists():
        if not args.write:
            print(f"{args.lock} does not exist; create it with: {UPDATE_COMMAND}", file=sys.stderr)
            return 1
        args.lock.write_text(render(current))
        print(f"wrote {args.lock}")
        return 0
    locked = read_lock(args.lock)
    problems = compare(locked, current)
    for problem in problems:
        print(f"BREAKING: {problem}", file=sys.stderr)
    if not args.write:
        for added in additions(locked, current):
            print(f"not locked yet: {added} (record it with: {UPDATE_COMMAND})")
        return 1 if problems else 0
    if problems and not args.allow_breaking:
        print(
            "refusing to record breaking changes; pass --allow-breaking for a deliberate major change",
            file=sys.stderr,
        )
        return 1
    args.lock.write_text(render(current))
    print(f"wrote {args.lock}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
