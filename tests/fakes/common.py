"""Plumbing shared by the fake upstreams: stats, cues, deterministic replies, serving.

Everything a fake answers is a pure function of the request, so a test can
predict it: the reply text, how it is split into stream chunks, the token
usage (identical streamed and unstreamed) and the failure picked by the
model name (see `CUES` and `HARDENING_CUES`).

Flags make a fake closer to a real server, each off by default: `--chop`
(streams cut at arbitrary byte boundaries and flushed piece by piece; SSE
with CRLF line ends and comment lines), `--strict` (OpenAI's 400 for a body
field it does not know) and `--chaos P` (that share of model calls fails at
random: 5xx, 429 with Retry-After, reset, slow first byte, cut midway; the
soak's faults). `Stats` counts streams and one-piece replies a client left
early, and calls per upstream model, for tests to wait on instead of sleeping.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

# Model names that make a fake misbehave on purpose (the brief of each is in the package docstring).
CUES = (
    "fail-429",
    "fail-500",
    "fail-401",
    "fail-404",
    "cut-stream",
    "slow-first-byte",
    "slow-stream",
    "no-usage",
    "inband-error",
)
# Cues a fake lists as models; `fail-404` behaves as a model the server does not have.
LISTED_CUES = tuple(cue for cue in CUES if cue != "fail-404")
# Cues of the OpenAI and Ollama fakes for hardening tests: a 400, 403 and 503 (Ollama's overload);
# a 429 whose Retry-After is an HTTP date; errors that echo the caller's key whole and masked
# (`leak-*`, unary and in-band); and (Ollama) a final count without prompt_eval_count, as for a
# prompt served from its cache. Also `fail-429-<n>` (RETRY_AFTER_CUE), not listed.
HARDENING_CUES = (
    "fail-400",
    "fail-403",
    "fail-503",
    "fail-429-date",
    "leak-401",
    "leak-403",
    "leak-500",
    "leak-inband",
    "cached-prompt",
)
RETRY_AFTER_SECONDS = 7
SLOW_STREAM_INTERVAL = 0.2
SLOW_STREAM_CHUNKS = 300  # 300 x 0.2 s = 60 s
INBAND_ERROR_MESSAGE = "upstream exploded"
DELAY_HEADER = "x-fake-delay"
# `fail-429-<n>`: a 429 whose Retry-After is n seconds (several routes, several waits).
RETRY_AFTER_CUE = re.compile(r"^fail-429-(\d+)$")
MAX_BODY_BYTES = 64 * 1024 * 1024  # real upstreams take large prompts; aiohttp's default is 1 MiB


def retry_after_date(seconds: int) -> str:
    """Retry-After as an HTTP date (RFC 9110 section 10.2.3), `seconds` from now."""
    from email.utils import formatdate

    return formatdate(time.time() + seconds, usegmt=True)


def masked(key: str) -> str:
    """A key as upstreams show it in their errors: `sk-…abcd`."""
    return f"{key[:3]}…{key[-4:]}" if len(key) > 8 else "…"


def leak_text(key: str) -> str:
    """What a careless upstream echoes: the key whole and masked."""
    return f"key {key} (that is {masked(key)}) was not accepted"


@dataclass
class Stats:
    """What a fake has seen; served as JSON at GET /_fake/stats."""

    requests: int = 0
    by_path: dict[str, int] = field(default_factory=dict)
    streams_started: int = 0
    streams_completed: int = 0
    streams_cancelled: int = 0
    active_streams: int = 0
    # One-piece replies: a client that closes its connection before the reply counts as cancelled.
    unary_started: int = 0
    unary_completed: int = 0
    unary_cancelled: int = 0
    active_unary: int = 0
    by_model: dict[str, int] = field(default_factory=dict)  # requests per upstream model named
    chaos: dict[str, int] = field(default_factory=dict)  # faults injected at random, by kind
    last_request: JSON | None = None

    def as_json(self) -> JSON:
        return asdict(self)

    def reset(self) -> None:
        # streams still running decrement active_streams when they end, so it survives a reset
        active = Stats(active_streams=self.active_streams, active_unary=self.active_unary)
        self.__dict__.update(active.__dict__)

    def record(self, request: web.Request, raw_body: bytes) -> None:
        self.requests += 1
        self.by_path[request.path] = self.by_path.get(request.path, 0) + 1
        body: object
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = raw_body.decode(errors="replace")
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            self.by_model[body["model"]] = self.by_model.get(body["model"], 0) + 1
        self.last_request = {
            "method": request.method,
            "path": request.path,
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "body": body,
        }

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        """Count one streamed response; a client that goes away counts as cancelled."""
        self.streams_started += 1
        self.active_streams += 1
        try:
            yield
        except (asyncio.CancelledError, ConnectionError):
            self.streams_cancelled += 1
            raise
        else:
            self.streams_completed += 1
        finally:
            self.active_streams -= 1

    @contextlib.contextmanager
    def unary(self) -> Iterator[None]:
        """Count one one-piece reply; a client that goes away before it is sent counts as cancelled."""
        self.unary_started += 1
        self.active_unary += 1
        try:
            yield
        except (asyncio.CancelledError, ConnectionError):
            self.unary_cancelled += 1
            raise
        else:
            self.unary_completed += 1
        finally:
            self.active_unary -= 1


STATS = web.AppKey("stats", Stats)


@dataclass(frozen=True)
class Settings:
    models: frozenset[str]  # what the fake serves; any other name is not found
    slow_seconds: float  # first-byte delay of slow-first-byte
    # Like a real server behind proxies: streams cut at arbitrary byte boundaries, each piece
    # flushed on its own; SSE with CRLF line ends and comment lines between events.
    chop: bool = False
    # Like api.openai.com: a body field it does not know is a 400 (off: like vLLM, which takes extras).
    strict: bool = False
    # The soak's random faults: this share of model calls fails at random (see `chaos`).
    chaos: float = 0.0


SETTINGS = web.AppKey("settings", Settings)


class Reject(Exception):
    """Raised by a handler to answer with `response` (an error in the fake's own shape)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class FakeServer:
    """A fake running in this process (see `serve`)."""

    runner: web.AppRunner
    host: str
    port: int
    stats: Stats

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


CHAOS_KINDS = ("fail-500", "fail-429", "reset", "slow-first-byte", "cut-stream")
_chaos_random = random.Random(int(os.environ.get("FAKE_CHAOS_SEED", "0")) or None)


async def chaos(request: web.Request, share: float) -> web.StreamResponse | None:
    """With probability `share`, one fault picked at random: a 500, a 429 with Retry-After, a
    connection reset before any reply, a slow first byte (1 s), or a stream (or body) cut midway.
    Returns the reply to send instead, or None to answer normally (perhaps slowly, perhaps cut)."""
    if _chaos_random.random() >= share:
        return None
    kind = _chaos_random.choice(CHAOS_KINDS)
    stats = request.app[STATS]
    stats.chaos[kind] = stats.chaos.get(kind, 0) + 1
    ollama = request.path.startswith("/api/")
    if kind in ("fail-500", "fail-429"):
        status = 500 if kind == "fail-500" else 429
        message = f"chaos: injected {status}"
        body: object = {"error": message}
        if not ollama:
            body = {"error": {"message": message, "type": "server_error"}}
        headers = {"Retry-After": "1"} if status == 429 else None
        return web.json_response(body, status=status, headers=headers)
    if kind == "reset":
        drop_connection(request)
        return web.Response(status=500)  # never sent: the connection is gone
    if kind == "slow-first-byte":
        await asyncio.sleep(1.0)
    else:
        request["chaos_cut"] = True
    return None


def new_app(settings: Settings) -> web.Application:
    """An application with the /_fake control routes, request recording and `Reject` handling."""
    stats = Stats()

    @web.middleware
    async def record(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not request.path.startswith("/_fake/"):
            stats.record(request, await request.read())
            if request.method == "POST" and request.app[SETTINGS].chaos:
                fault = await chaos(request, request.app[SETTINGS].chaos)
                if fault is not None:
                    return fault
        try:
            response: web.StreamResponse = await handler(request)
        except Reject as reject:
            return reject.response
        return response

    async def get_stats(_: web.Request) -> web.Response:
        return web.json_response(stats.as_json())

    async def reset(_: web.Request) -> web.Response:
        stats.reset()
        return web.json_response(stats.as_json())

    app = web.Application(middlewares=[record], client_max_size=MAX_BODY_BYTES)
    app[STATS] = stats
    app[SETTINGS] = settings
    app.router.add_get("/_fake/stats", get_stats)
    app.router.add_post("/_fake/reset", reset)
    return app


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> FakeServer:
    # handler_cancellation: a client that disconnects cancels its handler at once.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_port: int = runner.addresses[0][1]
    return FakeServer(runner, host, bound_port, app[STATS])


def main(create_app: Callable[[float], web.Application], description: str) -> None:
    """`python -m tests.fakes.<name> --port 0 --port-file PATH`: serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="written with the bound port once listening")
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of slow-first-byte")
    parser.add_argument(
        "--chop", action="store_true", help="streams in pieces of 1-7 bytes; SSE with CRLF and comments"
    )
    parser.add_argument("--strict", action="store_true", help="refuse unknown body fields (OpenAI) with 400")
    parser.add_argument("--chaos", type=float, default=0.0, help="share of model calls failed at random")
    args = parser.parse_args()

    async def run() -> None:
        app = create_app(args.slow_seconds)
        app[SETTINGS] = replace(app[SETTINGS], chop=args.chop, strict=args.strict, chaos=args.chaos)
        server = await serve(app, args.host, args.port)
        print(server.port, flush=True)
        if args.port_file is not None:
            partial = args.port_file.with_name(args.port_file.name + ".tmp")
            partial.write_text(str(server.port))
            os.replace(partial, args.port_file)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.close()

    asyncio.run(run())


# --- requests -----------------------------------------------------------------------------------


def bearer_token(request: web.Request) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ").strip()


def first_byte_delay(request: web.Request, model: str, slow_seconds: float) -> float:
    """Seconds to wait before the first byte: the x-fake-delay header, else slow-first-byte's delay."""
    header = request.headers.get(DELAY_HEADER)
    if header:
        return float(header)
    return slow_seconds if model == "slow-first-byte" else 0.0


def message_text(content: object) -> str:
    """Text of a message content: a string or a list of OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def word_count(text: str) -> int:
    return len(text.split())


# --- deterministic replies ----------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: JSON

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Reply:
    """What the fake model answers; streamed and unstreamed forms are cut from the same reply."""

    text: str
    tool_call: ToolCall | None
    prompt_tokens: int
    completion_tokens: int
    truncated: bool = False  # cut short by max_tokens: finish reason "length"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def pieces(self) -> list[str]:
        return split_words(self.text)


def split_words(text: str) -> list[str]:
    """The text split at word starts ("a b" -> ["a", " b"]); joined they give the text back."""
    parts: list[str] = re.findall(r"\s*\S+", text)
    tail = text[len("".join(parts)) :]
    if not parts:
        return [tail]
    parts[-1] += tail
    return parts


_SAMPLE_VALUES: dict[str, object] = {"integer": 42, "number": 4.2, "boolean": True, "array": [], "object": {}}


def json_text(schema: object, text: str) -> str:
    """A JSON object answer; follows a JSON schema's top-level properties when one is given."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return json.dumps({"reply": text})
    kinds = {name: spec.get("type") if isinstance(spec, dict) else None for name, spec in properties.items()}
    return json.dumps({name: _SAMPLE_VALUES.get(str(kind), text) for name, kind in kinds.items()})


def build_reply(
    label: str,
    model: str,
    messages: Sequence[JSON],
    *,
    tools: Sequence[JSON] = (),
    json_schema: object = None,
    max_tokens: int | None = None,
) -> Reply:
    """The reply to a chat (a raw prompt is one user message).

    - last message from a tool: "<label>: the tool said <content>"
    - tools given and the last user message mentions "weather": a call of the first tool
    - JSON asked for (`json_schema` is True or a schema): a JSON object
    - model `slow-stream`: 300 words ("tick1 tick2 ...")
    - otherwise: "Hello from <label>: <last user text, at most 40 chars>"

    A text longer than `max_tokens` words is cut to that many (`truncated`).
    Usage: prompt = words of every message + 3 per message; completion = words of the reply
    (a tool call: words of its JSON arguments + 1).
    """
    prompt_tokens = sum(word_count(message_text(m.get("content"))) + 3 for m in messages)
    user_texts = [message_text(m.get("content")) for m in messages if m.get("role") == "user"]
    last_user = user_texts[-1] if user_texts else ""
    last_role = messages[-1].get("role") if messages else None
    tool_names = [str(tool.get("function", {}).get("name")) for tool in tools]

    if last_role == "tool":
        text = f"{label}: the tool said {message_text(messages[-1].get('content'))}"
    elif tool_names and "weather" in last_user.lower():
        digest = hashlib.sha256(last_user.encode()).hexdigest()[:24]
        call = ToolCall(f"call_{digest}", tool_names[0], {"city": "Paris"})
        return Reply("", call, prompt_tokens, word_count(call.arguments_json) + 1)
    elif json_schema is not None:
        text = json_text(json_schema, f"Hello from {label}")
    elif model == "slow-stream":
        text = " ".join(f"tick{i}" for i in range(1, SLOW_STREAM_CHUNKS + 1))
    else:
        text = f"Hello from {label}: {last_user[:40].strip()}"
    if max_tokens is not None and word_count(text) > max_tokens:
        text = "".join(split_words(text)[:max_tokens])
        return Reply(text, None, prompt_tokens, max_tokens, truncated=True)
    return Reply(text, None, prompt_tokens, word_count(text))


# Real embedding models top out at a few thousand dimensions; the fakes refuse
# more rather than allocate whatever a fuzzer asks for.
MAX_DIMENSIONS = 4096


def embedding(text: str, dimensions: int = 16) -> list[float]:
    """A deterministic vector in [-1, 1) whose values are exact in float32."""
    return [byte / 128 - 1 for byte in hashlib.shake_256(text.encode()).digest(dimensions)]


# --- responses ----------------------------------------------------------------------------------


def dumps(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def stream_frames(
    request: web.Request,
    model: str,
    frames: Sequence[bytes],
    *,
    content_type: str,
    delay: float,
    error_frames: Sequence[bytes],
    keep_before_error: int,
) -> web.StreamResponse:
    """A 200 stream of `frames` after `delay`, bent by the model's cue.

    cut-stream: the first 2 frames, then the connection drops. inband-error: the first
    `keep_before_error` frames, then `error_frames`. slow-stream: frames 0.2 s apart.
    Counted in the stats; a client that disconnects midway counts as cancelled.
    """
    cut = model == "cut-stream" or bool(request.get("chaos_cut"))
    if cut:
        frames = frames[:2]
    elif model in ("inband-error", "leak-inband"):
        frames = [*frames[:keep_before_error], *error_frames]
    interval = SLOW_STREAM_INTERVAL if model == "slow-stream" else 0.0
    chop = request.app[SETTINGS].chop
    sse = content_type.startswith("text/event-stream")
    pieces = chopped(frames, sse=sse, seed=request.path) if chop else []
    response = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
    with contextlib.suppress(ConnectionError), request.app[STATS].stream():
        await asyncio.sleep(delay)
        await response.prepare(request)
        if chop:
            # Pieces flushed one by one; slow-stream's pause comes where a whole frame has been sent.
            for piece, ends_frame in pieces:
                await response.write(piece)
                await asyncio.sleep(interval if ends_frame and interval else CHOP_INTERVAL)
        else:
            for frame in frames:
                await response.write(frame)
                if interval:
                    await asyncio.sleep(interval)
        if cut:
            drop_connection(request)
        else:
            await response.write_eof()
    return response


CHOP_INTERVAL = 0.002  # between pieces: each is its own write and, on loopback, its own segment
SSE_COMMENT = b": keep-alive\r\n\r\n"  # what proxies and OpenRouter send between events


def chopped(frames: Sequence[bytes], *, sse: bool, seed: str) -> list[tuple[bytes, bool]]:
    """The same bytes as a real server behind a proxy may send them: cut anywhere, 1-7 bytes a piece.

    SSE also gets CRLF line ends (allowed by the spec) and a comment line before every event.
    Each piece comes with whether a frame ends in it.
    """
    if sse:
        frames = [SSE_COMMENT + frame.replace(b"\n", b"\r\n") for frame in frames]
    ends, total = [], 0
    for frame in frames:
        total += len(frame)
        ends.append(total)
    data = b"".join(frames)
    pick = random.Random(f"{seed}:{len(data)}")
    pieces, at = [], 0
    while at < len(data):
        size = pick.randint(1, 7)
        after = bisect.bisect_right(ends, at)  # the first frame end past `at`
        pieces.append((data[at : at + size], after < len(ends) and ends[after] <= at + size))
        at += size
    return pieces


def drop_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


async def send_truncated(request: web.Request, body: bytes) -> web.StreamResponse:
    """A 200 whose Content-Length promises the whole body but only half arrives."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    drop_connection(request)
    return response


async def unary_reply(
    request: web.Request, model: str, payload: JSON, *, delay: float, inband_error: web.Response
) -> web.StreamResponse:
    """A one-piece reply after `delay`, bent by the model's cue.

    inband-error: `inband_error` instead. cut-stream: half the body, then the connection drops.
    slow-stream: the reply comes after 60 s.
    """
    with request.app[STATS].unary():
        await asyncio.sleep(delay)
        if model in ("inband-error", "leak-inband"):
            return inband_error
        if model == "cut-stream" or request.get("chaos_cut"):
            return await send_truncated(request, dumps(payload))
        if model == "slow-stream":
            await asyncio.sleep(SLOW_STREAM_CHUNKS * SLOW_STREAM_INTERVAL)
        return web.json_response(payload)
