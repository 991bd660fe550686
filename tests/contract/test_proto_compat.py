"""The proto stays backward compatible with contracts/proto-lock.json.

Anything the lock records - a message, a field's name, number, type, label,
oneof or JSON name, a reserved number or name, an enum value, an RPC's
types, streaming or HTTP binding - must still be there, unchanged. Additions
are fine; record them with `python -m tests.contract.proto_lock --write`.
"""

from __future__ import annotations

import copy
import warnings

from tests.contract.proto_lock import UPDATE_COMMAND, additions, compare, current_lock, read_lock


def test_proto_is_compatible_with_the_lock() -> None:
    problems = compare(read_lock(), current_lock())
    assert not problems, (
        "the proto breaks its locked contract (fields are only ever added; removed ones are `reserved`):\n  "
        + "\n  ".join(problems)
        + f"\nIf this is a deliberate major change: {UPDATE_COMMAND} --allow-breaking"
    )


def test_additions_are_locked() -> None:
    """Not a failure, a nudge: an addition that is not locked yet is not protected yet."""
    added = additions(read_lock(), current_lock())
    if added:
        warnings.warn(
            f"proto additions not in contracts/proto-lock.json yet ({', '.join(added)}); "
            f"record them with: {UPDATE_COMMAND}",
            stacklevel=1,
        )


def test_the_lock_covers_the_whole_service() -> None:
    lock = read_lock()
    methods = lock["services"]["modelgateway.v1.ModelGateway"]["methods"]
    assert set(methods) == {
        "Generate",
        "StreamGenerate",
        "ListModels",
        "GetModel",
        "Health",
        "Embed",
        "CountTokens",
        "GetUsage",
    }
    assert methods["StreamGenerate"]["server_streaming"] is True
    assert {"method": "GET", "path": "/api/v1/health/detailed"} in methods["Health"]["http"]
    assert (
        lock["messages"]["modelgateway.v1.GenerateRequest"]["fields"]["metadata"]["type"]
        == "map<string, string>"
    )
    assert lock["messages"]["modelgateway.v1.Sampling"]["fields"]["temperature"]["label"] == "optional"
    assert lock["messages"]["modelgateway.v1.ImagePart"]["fields"]["url"]["oneof"] == "source"


# --- the checker itself catches each kind of break --------------------------------------------


def _broken(edit: str) -> list[str]:
    lock = current_lock()
    changed = copy.deepcopy(lock)
    fields = changed["messages"]["modelgateway.v1.GenerateRequest"]["fields"]
    if edit == "remove field":
        del fields["user"]
    elif edit == "renumber field":
        fields["user"]["number"] = 99
    elif edit == "retype field":
        fields["user"]["type"] = "bytes"
    elif edit == "rename field":
        fields["client_user"] = fields.pop("user")
    elif edit == "relabel field":
        fields["tools"]["label"] = "singular"
    elif edit == "leave oneof":
        del changed["messages"]["modelgateway.v1.ImagePart"]["fields"]["url"]["oneof"]
    elif edit == "remove enum value":
        del changed["enums"]["modelgateway.v1.Role"]["ROLE_TOOL"]
    elif edit == "renumber enum value":
        changed["enums"]["modelgateway.v1.Role"]["ROLE_TOOL"] = 9
    elif edit == "rename enum value":
        changed["enums"]["modelgateway.v1.Role"]["ROLE_FUNCTION"] = changed["enums"][
            "modelgateway.v1.Role"
        ].pop("ROLE_TOOL")
    elif edit == "change rpc streaming":
        changed["services"]["modelgateway.v1.ModelGateway"]["methods"]["StreamGenerate"][
            "server_streaming"
        ] = False
    elif edit == "move http binding":
        changed["services"]["modelgateway.v1.ModelGateway"]["methods"]["Embed"]["http"][0]["path"] = (
            "/v2/embed"
        )
    elif edit == "remove message":
        del changed["messages"]["modelgateway.v1.Cost"]
    return compare(lock, changed)


def test_every_kind_of_break_is_caught() -> None:
    kinds = [
        "remove field",
        "renumber field",
        "retype field",
        "rename field",
        "relabel field",
        "leave oneof",
        "remove enum value",
        "renumber enum value",
        "rename enum value",
        "change rpc streaming",
        "move http binding",
        "remove message",
    ]
    for kind in kinds:
        assert _broken(kind), f"{kind} was not reported as breaking"


def test_additions_are_compatible() -> None:
    lock = current_lock()
    grown = copy.deepcopy(lock)
    grown["messages"]["modelgateway.v1.GenerateRequest"]["fields"]["priority"] = {
        "number": 99,
        "type": "int32",
        "json_name": "priority",
        "label": "singular",
    }
    grown["enums"]["modelgateway.v1.Role"]["ROLE_CRITIC"] = 6
    grown["services"]["modelgateway.v1.ModelGateway"]["methods"]["Health"]["http"].append(
        {"method": "GET", "path": "/healthz"}
    )
    assert compare(lock, grown) == []
    assert len(additions(lock, grown)) == 3
