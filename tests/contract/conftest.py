"""The live stack the contract tests talk to, and readers for the contract's schemas and stream framings.

One session-scoped `model-gateway up` (gRPC service + bridge as processes)
against the fake Ollama and OpenAI upstreams, configured exactly like the
integration suite (tests/integration/conftest.py), whose helpers are reused.
Model names pick the fakes' behaviour: `gpt-4o-mini`/`mini` and
`llama3.2`/`tiny` answer, `limited` is rate limited, `broken` fails, ...
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from tests.integration.conftest import ROOT, run_gateway

SPEC_PATH = ROOT / "contracts" / "openapi.yaml"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

JSON = dict[str, Any]

# Configured models (tests/integration/conftest.py) that answer normally.
CHAT_MODELS = ("gpt-4o-mini", "mini", "llama3.2", "tiny", "llama3.2:latest", "no-usage", "flaky")
EMBED_MODELS = ("embed-local", "embed-cloud")
# Models that fail on cue, each with a documented status (none hangs: the slow ones are left out).
CUE_MODELS = (
    "limited",  # 429 + Retry-After
    "badkey",  # 401 (the provider's key)
    "broken",  # 503
    "unreachable",  # 503 (connection refused)
    "missing-upstream",  # 404 from the upstream
    "with-fallback",  # 200 via its fallback
    "cut",  # 503, or a stream ended by an error event
    "inband",  # 503, or a stream ended by an error event
)
UNKNOWN_MODELS = ("no-such-model", "gpt-5-nano")
# A 5xx from one of these is a bug; the cue models may answer 501-504 as documented.
HEALTHY_MODELS = frozenset(CHAT_MODELS + EMBED_MODELS + ("with-fallback",))


@dataclass(frozen=True)
class Bridge:
    """The running stack: the bridge's base URL and the gRPC target behind it."""

    url: str
    grpc_target: str
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    with run_gateway(tmp_path_factory.mktemp("contract"), log_level="WARNING") as running:
        yield Bridge(running.bridge_url, running.grpc_target, running.log_path)


# --- the contract's schemas ------------------------------------------------------------------


@cache
def spec() -> JSON:
    document: JSON = yaml.safe_load(SPEC_PATH.read_text())
    return document


def _validator(schema: JSON) -> jsonschema_rs.Validator:
    # The schema is evaluated inside a copy of the whole document, so "#/components/..." resolves.
    root = {**schema, "components": spec()["components"]}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


@cache
def component_validator(name: str) -> jsonschema_rs.Validator:
    """A validator for components/schemas/<name>."""
    return _validator({"$ref": f"#/components/schemas/{name}"})


def media_schema(path: str, method: str, status: int, media_type: str) -> JSON:
    """The schema documented for one response media type (refs to components/responses followed)."""
    response = spec()["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema: JSON = response["content"][media_type]["schema"]
    return schema


@cache
def media_validator(path: str, method: str, status: int, media_type: str) -> jsonschema_rs.Validator:
    return _validator(media_schema(path, method, status, media_type))


def schema_errors(validator: jsonschema_rs.Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.instance_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


# --- stream framings -------------------------------------------------------------------------


def parse_sse(body: bytes) -> list[JSON]:
    """SSE events as {"event": name, "data": text}; the default event name is "message"."""
    events: list[JSON] = []
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        event: JSON = {"event": "message"}
        data: list[str] = []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            elif field in ("event", "id", "retry"):
                event[field] = value
        event["data"] = "\n".join(data)
        events.append(event)
    return events


def parse_ndjson(body: bytes) -> list[JSON]:
    """One JSON object per line; every line must end with a newline."""
    text = body.decode()
    assert text.endswith("\n"), f"an NDJSON body must end with a newline: {text[-80:]!r}"
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()
