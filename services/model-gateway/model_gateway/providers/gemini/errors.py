"""Gemini's error bodies (`google.rpc.Status` as JSON) → GatewayError.

Gemini answers `{"error": {"code", "message", "status", "details"}}`; the
`status` decides, the HTTP code only when it is missing:

- INVALID_ARGUMENT / OUT_OF_RANGE → INVALID_ARGUMENT with Gemini's message
  (CONTEXT_TOO_LONG when it is about the token limit), except a rejected key
  (ErrorInfo reason API_KEY_INVALID and friends, which Gemini sends as a
  400) → UNAUTHENTICATED about the provider's key;
- FAILED_PRECONDITION (the account's region or billing: "free tier is not
  available in your country") → UNAVAILABLE, so another deployment is tried;
- UNAUTHENTICATED / PERMISSION_DENIED → the provider's key, never echoing it;
- RESOURCE_EXHAUSTED → RATE_LIMITED with the RetryInfo delay (Gemini sends
  no Retry-After header, only `retryDelay: "37s"` in the details);
- NOT_FOUND → NOT_FOUND; UNAVAILABLE / INTERNAL / DEADLINE_EXCEEDED → UNAVAILABLE;
- a body that is not JSON (a proxy's HTML page) → UNAVAILABLE quoting its first 200 bytes.

DebugInfo details can quote the key ("Invalid API key: ..."), so only
`message` is ever shown, and through UpstreamHTTP.redact.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import orjson

from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.gemini.wire import read_dict, read_int, read_list, read_str
from model_gateway.providers.http import UpstreamHTTP, parse_retry_after

_KEY_REASONS = frozenset(
    {
        "API_KEY_INVALID",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED",
    }
)
_CONTEXT_MARKERS = ("exceeds the maximum number of tokens", "input token count", "context window")
_HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_TYPE_PREFIX = "type.googleapis.com/google.rpc."
RAW_QUOTE_BYTES = 200


def status_of(obj: Any) -> dict[str, Any] | None:
    """The google.rpc.Status inside an error body (or stream chunk), or None."""
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), dict):
        return None
    return read_dict(obj["error"])


def retry_delay(status: dict[str, Any]) -> float | None:
    """RetryInfo.retryDelay in seconds: a protobuf Duration, "37s" or "0.5s"."""
    for detail in read_list(status.get("details")):
        detail = read_dict(detail)
        if detail.get("@type") == _TYPE_PREFIX + "RetryInfo":
            text = read_str(detail.get("retryDelay")).removesuffix("s")
            try:
                return max(0.0, float(text))
            except ValueError:
                return None
    return None


def _error_reasons(status: dict[str, Any]) -> set[str]:
    return {
        read_str(detail.get("reason"))
        for detail in map(read_dict, read_list(status.get("details")))
        if detail.get("@type") == _TYPE_PREFIX + "ErrorInfo"
    }


class GeminiHTTP(UpstreamHTTP):
    """UpstreamHTTP with Gemini's error table; transport errors and timeouts stay the shared ones."""

    def status_error(self, status: int, raw: bytes, retry_after: str | None) -> GatewayError:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        rpc = status_of(body)
        if rpc is None:
            quoted = self.redact(raw[:RAW_QUOTE_BYTES].decode("utf-8", "replace")).strip() or "(empty body)"
            return GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                Reason.UPSTREAM_UNAVAILABLE,
                f"{self._where()} answered HTTP {status} with a body that is not a Gemini error: {quoted!r}",
                retry_after=parse_retry_after(retry_after),
                metadata=self._meta(status),
            )
        return self.rpc_error(rpc, status, retry_after)

    def rpc_error(
        self, rpc: dict[str, Any], http_status: int | None, retry_after: str | None = None
    ) -> GatewayError:
        """A google.rpc.Status (from an error body or a stream chunk) as the canonical error."""
        http_status = http_status or read_int(rpc.get("code")) or None
        name = read_str(rpc.get("status")) or _HTTP_STATUS.get(http_status or 0, "")
        message = self.redact(read_str(rpc.get("message")) or name or "no message")[:500]
        where = self._where()
        meta = self._meta(http_status)
        if name:
            meta["upstream_rpc_status"] = name
        code_text = f"{name} (HTTP {http_status})" if http_status else name
        if name in ("UNAUTHENTICATED", "PERMISSION_DENIED") or _error_reasons(rpc) & _KEY_REASONS:
            grpc_code = (
                grpc.StatusCode.PERMISSION_DENIED
                if name == "PERMISSION_DENIED"
                else grpc.StatusCode.UNAUTHENTICATED
            )
            return GatewayError(
                grpc_code,
                Reason.UPSTREAM_AUTH_FAILED,
                f"{where} rejected the gateway's API key for it ({code_text}); check the provider's api_key: "
                f"{message}",
                metadata=meta,
            )
        if name == "RESOURCE_EXHAUSTED":
            delay = retry_delay(rpc)
            return GatewayError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                Reason.RATE_LIMITED,
                f"{where} is rate limiting ({code_text}): {message}",
                retry_after=delay if delay is not None else parse_retry_after(retry_after),
                metadata=meta,
            )
        if name == "FAILED_PRECONDITION":
            return GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                Reason.UPSTREAM_ERROR,
                f"{where} cannot serve requests for this account ({code_text}): {message}",
                metadata=meta,
            )
        if name in ("INVALID_ARGUMENT", "OUT_OF_RANGE"):
            lowered = message.lower()
            reason = (
                Reason.CONTEXT_TOO_LONG
                if any(marker in lowered for marker in _CONTEXT_MARKERS)
                else Reason.UPSTREAM_BAD_REQUEST
            )
            return GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                reason,
                f"{where} rejected the request ({code_text}): {message}",
                metadata=meta,
            )
        if name == "NOT_FOUND":
            return GatewayError(
                grpc.StatusCode.NOT_FOUND,
                Reason.UPSTREAM_MODEL_NOT_FOUND,
                f"{where} answered {code_text}: {message}",
                metadata=meta,
            )
        if name == "DEADLINE_EXCEEDED":
            return GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                Reason.UPSTREAM_TIMEOUT,
                f"{where} timed out ({code_text}): {message}",
                metadata=meta,
            )
        return GatewayError(
            grpc.StatusCode.UNAVAILABLE,
            Reason.UPSTREAM_UNAVAILABLE,
            f"{where} failed ({code_text}): {message}",
            retry_after=retry_delay(rpc) or parse_retry_after(retry_after),
            metadata=meta,
        )

    def failed_finish(self, reason: str, message: str) -> GatewayError:
        """A candidate that ended in MALFORMED_FUNCTION_CALL (or another failed tool call)."""
        detail = f": {self.redact(message)[:500]}" if message else ""
        return GatewayError(
            grpc.StatusCode.UNAVAILABLE,
            Reason.UPSTREAM_ERROR,
            f"{self._where()} stopped with finishReason {reason} (the model produced an invalid "
            f"function call){detail}",
            metadata={"provider": self.provider, "finish_reason": reason},
        )

    def transport_error(self, exc: BaseException) -> GatewayError:
        # aiohttp's messages can carry the URL; the key travels in a header, but redact anyway.
        error = super().transport_error(exc)
        return dataclasses.replace(error, message=self.redact(error.message))

    def _where(self) -> str:
        return f"provider '{self.provider}' ({self.address})"

    def _meta(self, http_status: int | None) -> dict[str, str]:
        meta = {"provider": self.provider}
        if http_status:
            meta["upstream_status"] = str(http_status)
        return meta


__all__ = ["GeminiHTTP", "retry_delay", "status_of"]
