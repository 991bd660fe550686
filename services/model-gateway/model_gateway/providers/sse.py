"""An incremental Server-Sent-Events decoder: lines in, event payloads out.

Follows the WHATWG event-stream rules that OpenAI-compatible servers rely
on: `data:` lines (with or without the one space after the colon) are joined
with "\\n", `:` lines are comments (OpenRouter's `: OPENROUTER PROCESSING`,
keep-alives), a blank line dispatches the event, and `id:`/`retry:` are
ignored. The `event:` name is kept because some servers flag errors with
`event: error`. What a `[DONE]` payload means is the caller's business.

Lines come from `UpstreamHTTP.iter_lines`, already split on LF and stripped
of CR. Splitting on LF never cuts a UTF-8 sequence, so each line decodes
on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None  # the `event:` field; None means the default "message"


class SSEDecoder:
    """Feed it one line at a time; it returns an event when a blank line completes one."""

    __slots__ = ("_data", "_event", "_started")

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event: str | None = None
        self._started = False

    def feed(self, line: bytes | str) -> SSEEvent | None:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        if not self._started:
            self._started = True
            text = text.removeprefix(_BOM)  # the spec allows one BOM at the start of the stream
        if not text:
            return self._dispatch()
        if text.startswith(":"):
            return None
        name, colon, value = text.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # `id`, `retry` and unknown fields carry nothing a completion stream needs.
        return None

    def flush(self) -> SSEEvent | None:
        """The event still pending when the body ends without its blank line.

        The spec drops it; servers that omit the last blank line (or the
        caller, deciding a cut stream from a finished one) get it here instead.
        """
        return self._dispatch()

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            # An event with no data is not dispatched (spec), but its name is reset.
            self._event = None
            return None
        event = SSEEvent("\n".join(self._data), self._event)
        self._data = []
        self._event = None
        return event


async def iter_events(lines: AsyncIterable[bytes | str]) -> AsyncIterator[SSEEvent]:
    """Every event of a line stream, including one left unterminated at the end."""
    decoder = SSEDecoder()
    async for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event
    tail = decoder.flush()
    if tail is not None:
        yield tail
