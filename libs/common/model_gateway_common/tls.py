"""TLS for both doors: the settings, the REST side's SSLContext, and reloading certificates on SIGHUP.

`server.tls: {cert, key, client_ca}` (PEM files). The gRPC port serves TLS
with them, and verifies client certificates against `client_ca` when it is
set (mTLS); the bridge serves HTTPS with the same pair. SIGHUP re-reads the
files: connections already open keep going, new handshakes get the new
certificate (gRPC through its certificate-config fetcher, REST by loading the
new chain into the live SSLContext).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from pydantic import BaseModel, ConfigDict

log = logging.getLogger("model_gateway_common.tls")


class TLSConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cert: str  # PEM: the certificate chain, leaf first
    key: str  # PEM: its private key
    client_ca: str | None = None  # PEM: CAs whose client certificates the gRPC port requires (mTLS)


class GrpcClientTLS(BaseModel):
    """How the bridge dials the gRPC service over TLS (when they are on different hosts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca: str | None = None  # PEM roots that signed the service's certificate; default: the system's
    cert: str | None = None  # a client certificate, for a service that requires one (mTLS)
    key: str | None = None
    server_name: str | None = None  # the name to verify, when the target's host is not in the cert


def read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def server_context(tls: TLSConfig) -> ssl.SSLContext:
    """The REST side's context (TLS 1.2+); `reload_context` loads a new chain into it in place."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert, tls.key)
    context.set_alpn_protocols(["http/1.1"])
    return context


def reload_context(context: ssl.SSLContext, tls: TLSConfig) -> None:
    context.load_cert_chain(tls.cert, tls.key)


# --- SIGHUP: one handler, any number of reloaders (the gRPC port and the REST port may share a process)

_reloaders: list[Callable[[], None]] = []


def reload_all() -> None:
    for reload in list(_reloaders):
        try:
            reload()
        except Exception as exc:  # a bad new file keeps the old certificate serving
            log.error("certificate reload failed, keeping the current certificate: %s", exc)
    if _reloaders:
        log.info("certificates reloaded (SIGHUP)")


def on_sighup(reload: Callable[[], None]) -> None:
    """Run `reload` on every SIGHUP, in the event loop when there is one running."""
    _reloaders.append(reload)
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_all)
    except RuntimeError:  # no running loop yet: a plain handler, on the main thread
        try:
            signal.signal(signal.SIGHUP, lambda _s, _f: reload_all())
        except ValueError:
            log.warning("SIGHUP cannot be handled outside the main thread: certificates will not reload")


# --- gRPC ----------------------------------------------------------------------------------------


class GrpcServerCertificates:
    """The gRPC port's credentials; `reload()` makes the next handshake read the files again."""

    def __init__(self, tls: TLSConfig) -> None:
        self.tls = tls
        self._pending = False
        self._current = self._configuration()  # read now: a bad file stops the start

    def _configuration(self) -> Any:
        key, cert = Path(self.tls.key).read_bytes(), Path(self.tls.cert).read_bytes()
        return grpc.ssl_server_certificate_configuration(
            [(key, cert)], root_certificates=read(self.tls.client_ca)
        )

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self._current, self._fetch, require_client_authentication=self.tls.client_ca is not None
        )

    def reload(self) -> None:
        self._current = self._configuration()  # raises on a bad file: the old one keeps serving
        self._pending = True

    def _fetch(self) -> Any:
        """Called by gRPC before each handshake: a new configuration once after a reload, else None."""
        if not self._pending:
            return None
        self._pending = False
        return self._current


def channel_credentials(tls: GrpcClientTLS) -> tuple[grpc.ChannelCredentials, list[tuple[str, str]]]:
    """The bridge's credentials and channel options (the name to verify) for a TLS hop."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(tls.ca), private_key=read(tls.key), certificate_chain=read(tls.cert)
    )
    options = [("grpc.ssl_target_name_override", tls.server_name)] if tls.server_name else []
    return credentials, options
