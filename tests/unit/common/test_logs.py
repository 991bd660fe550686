"""The log formatters and setup: one JSON object per line, readable text on a terminal, no credentials."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from model_gateway_common.logs import JsonFormatter, TextFormatter, setup_logging, stop_logging


def record(**fields: object) -> logging.LogRecord:
    made = logging.LogRecord("model_gateway.access", logging.INFO, __file__, 1, "request", None, None)
    made.fields = fields
    return made


def test_json_line_has_the_fields_at_the_top_level() -> None:
    line = JsonFormatter().format(record(request_id="r1", latency_ms=12.5, served_model=None, msg="clash"))
    assert "\n" not in line
    body = json.loads(line)
    assert body["level"] == "INFO" and body["logger"] == "model_gateway.access" and body["msg"] == "request"
    assert body["ts"].endswith("Z")
    assert body["request_id"] == "r1" and body["latency_ms"] == 12.5 and body["served_model"] is None
    assert body["field.msg"] == "clash"  # a field never overwrites the line's own keys


def test_exceptions_are_one_field_and_credentials_are_scrubbed() -> None:
    try:
        raise RuntimeError("upstream said: Authorization: Bearer sk-live-abc123 was rejected")
    except RuntimeError:
        made = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed with %s", ("Bearer tok.en",), sys.exc_info()
        )
    body = json.loads(JsonFormatter().format(made))
    assert body["msg"] == "failed with Bearer [redacted]"
    assert "RuntimeError" in body["exc"] and "sk-live-abc123" not in body["exc"]


def test_text_lines_are_for_people() -> None:
    text = TextFormatter().format(record(request_id="r1", status="OK", ttft_ms=None))
    assert "INFO" in text and "model_gateway.access request" in text
    assert "request_id=r1 status=OK" in text and "ttft_ms" not in text


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    stop_logging()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def wait_for_output(stream: io.StringIO) -> str:
    end = time.monotonic() + 5
    while not stream.getvalue() and time.monotonic() < end:
        time.sleep(0.01)
    return stream.getvalue()


def test_setup_writes_json_off_the_caller_with_the_trace_id(restore_root: None) -> None:
    stream = io.StringIO()  # not a terminal: JSON
    setup_logging(stream, env={"LOG_LEVEL": "info"})
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("call") as span:
        logging.getLogger("model_gateway.access").info("request", extra={"fields": {"rpc": "Generate"}})
        trace_id = format(span.get_span_context().trace_id, "032x")
    body = json.loads(wait_for_output(stream))
    assert body["rpc"] == "Generate" and body["trace_id"] == trace_id


def test_log_level_and_format_come_from_the_environment(restore_root: None) -> None:
    stream = io.StringIO()
    setup_logging(stream, env={"LOG_LEVEL": "WARNING", "LOG_FORMAT": "text"})
    log = logging.getLogger("model_gateway.test")
    log.info("not shown")
    log.warning("shown")
    output = wait_for_output(stream)
    assert "shown" in output and "not shown" not in output and not output.startswith("{")
