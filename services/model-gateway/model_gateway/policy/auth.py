"""Authenticate: who is calling, and may they use the model they asked for.

Keys come from the config (`auth.keys`) and from the database (`model-gateway
keys create`). Every instance keeps them in memory, keyed by SHA-256, and
re-reads the database every `auth.refresh_s` seconds (2 by default), so a key
created or revoked anywhere takes effect everywhere within a few seconds. On
the hot path a call costs one SHA-256 of the presented key and one dict
lookup: keys are 32 random bytes, so the hash cannot be searched and a fast
hash is safe.

Auth is on as soon as any key exists. With none, every caller is anonymous,
which the server allows only on a loopback (or unix socket) bind unless
`auth.allow_anonymous: true`; with keys, `allow_anonymous: true` still lets
callers that send no key through, as `anonymous`.

Errors name the key by its name, never the key: a missing, unknown, revoked
or expired key is UNAUTHENTICATED; a model outside the key's (or its
project's) patterns is PERMISSION_DENIED naming the model and the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from model_gateway.config import AuthConfig, GatewayConfig, StaticKeyConfig
from model_gateway.core.call import Call
from model_gateway.core.context import ANONYMOUS, NO_LIMITS, Limits, Principal
from model_gateway.core.pipeline import may_use
from model_gateway.core.stages import PassStage
from model_gateway.errors import GatewayError, Reason
from model_gateway.storage.keys import KeyRecord, KeyStore, ProjectRecord, Scope
from model_gateway_common.addresses import split_host_port

log = logging.getLogger("model_gateway.auth")

EXPECTED_FORM = "send the key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"


@dataclass(frozen=True, slots=True)
class Entry:
    """One key as the hot path needs it: its principal (built once), digest and validity."""

    principal: Principal
    digest: bytes
    expires_at: float | None = None
    revoked_at: float | None = None


def _limits(scope: Scope) -> Limits:
    if scope.rpm is None and scope.tpm is None and scope.budget_usd is None:
        return NO_LIMITS
    return Limits(scope.rpm, scope.tpm, scope.budget_usd, scope.budget_period)


def _static_entry(key: StaticKeyConfig) -> Entry:
    scope = Scope(tuple(key.models), key.rpm, key.tpm, key.budget_usd, key.budget_period)
    principal = Principal(key.name, models=scope.models, limits=_limits(scope), admin=key.admin)
    return Entry(principal, hashlib.sha256(key.key.get_secret_value().encode()).digest())


def _stored_entry(record: KeyRecord, project: ProjectRecord | None) -> Entry:
    principal = Principal(
        record.name,
        project=record.project or "",
        models=record.scope.models,
        limits=_limits(record.scope),
        project_limits=_limits(project.scope) if project is not None else NO_LIMITS,
        project_models=project.scope.models if project is not None else (),
        admin=record.admin,
    )
    return Entry(principal, bytes.fromhex(record.key_hash), record.expires_at, record.revoked_at)


class KeyTable:
    """Every key by its SHA-256 digest: the config's, and the database's re-read every few seconds."""

    def __init__(self, config: AuthConfig, store: KeyStore | None = None) -> None:
        self.store = store
        self.refresh_s = config.refresh_s
        self._static = {entry.digest: entry for entry in map(_static_entry, config.keys)}
        self._table: dict[bytes, Entry] = dict(self._static)
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.refreshed_at = 0.0  # monotonic time of the last good read

    @property
    def any_keys(self) -> bool:
        return bool(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def lookup(self, key: str) -> Entry | None:
        digest = hashlib.sha256(key.encode()).digest()
        entry = self._table.get(digest)
        # The dict finds the entry by the digest of a 256-bit secret, which says nothing
        # useful about the key; the comparison of the digests themselves is constant-time.
        if entry is None or not hmac.compare_digest(entry.digest, digest):
            return None
        return entry

    async def refresh(self) -> None:
        """Re-read the database's keys and projects (raises StorageError when it cannot)."""
        if self.store is None:
            return
        projects = {project.name: project for project in await self.store.projects()}
        table: dict[bytes, Entry] = {}
        for record in await self.store.keys():
            table[bytes.fromhex(record.key_hash)] = _stored_entry(record, projects.get(record.project or ""))
        table.update(self._static)  # a key in the config wins
        self._table = table
        self.refreshed_at = time.monotonic()

    def start(self) -> None:
        if self.store is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="key-table-refresh")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # keep serving with the last table
                if not self._failing:
                    log.warning("cannot re-read API keys, keeping the last %d: %s", len(self), exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("API keys read again (%d)", len(self))
                self._failing = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def unauthenticated(message: str, problem: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.UNAUTHENTICATED, Reason.UNAUTHENTICATED, message, metadata={"problem": problem}
    )


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


def presented_key(credential: str) -> str:
    """The key in `Bearer <key>` or a bare value (x-api-key); another scheme is refused by name."""
    scheme, sep, rest = credential.strip().partition(" ")
    if not sep and scheme.lower() != "bearer":
        return scheme
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    shown = f"'{scheme}' " if scheme.isalnum() and len(scheme) <= 16 else ""
    raise unauthenticated(f"unsupported authorization scheme {shown}- {EXPECTED_FORM}", "scheme")


class Authenticate(PassStage):
    name = "authenticate"

    def __init__(
        self, config: GatewayConfig | None = None, keys: KeyTable | None = None, public: bool = False
    ) -> None:
        config = config or GatewayConfig()
        self.keys = keys or KeyTable(config.auth)
        self.allow_anonymous = config.auth.allow_anonymous
        self.public = public  # bound beyond loopback: never anonymous unless allowed
        # Every name a model answers to, by each of them: a pattern may match any.
        self._names: dict[str, tuple[str, ...]] = {}
        for model in config.models:
            names = (model.name, *model.aliases)
            self._names.update(dict.fromkeys(names, names))
        self.clock: Callable[[], float] = time.time

    async def enter(self, call: Call) -> None:
        ctx = call.ctx
        ctx.principal = self.identify(ctx.credential)
        if call.request.model:
            self.permit(ctx.principal, call.request.model)

    def identify(self, credential: str) -> Principal:
        if not self.keys.any_keys:
            if self.public and not self.allow_anonymous:
                raise unauthenticated(f"no API keys exist yet; {EXPECTED_FORM}", "missing")
            return ANONYMOUS  # auth is off: whatever a client sends (SDKs always send something)
        if not credential:
            if self.allow_anonymous:
                return ANONYMOUS
            raise unauthenticated(f"missing API key: {EXPECTED_FORM}", "missing")
        entry = self.keys.lookup(presented_key(credential))
        if entry is None:
            raise unauthenticated("invalid API key", "invalid")
        if entry.revoked_at is not None or entry.expires_at is not None:
            name, now = entry.principal.name, self.clock()
            if entry.revoked_at is not None:
                raise unauthenticated(f"API key '{name}' was revoked on {_day(entry.revoked_at)}", "revoked")
            if entry.expires_at is not None and now >= entry.expires_at:
                raise unauthenticated(f"API key '{name}' expired on {_day(entry.expires_at)}", "expired")
        return entry.principal

    def permit(self, principal: Principal, model: str) -> None:
        """PERMISSION_DENIED unless the key (and its project) may use `model`."""
        if not principal.models and not principal.project_models:
            return
        names = self._names.get(model, (model,))
        if not may_use(principal.models, names):
            raise _denied(f"key '{principal.name}' may not use model '{model}'", principal, model)
        if not may_use(principal.project_models, names):
            raise _denied(
                f"key '{principal.name}' (project '{principal.project}') may not use model '{model}'",
                principal,
                model,
            )


def _denied(message: str, principal: Principal, model: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.PERMISSION_DENIED,
        Reason.PERMISSION_DENIED,
        message,
        metadata={"key": principal.name, "model": model},
    )


def is_loopback(address: str) -> bool:
    """Whether a listen address is reachable from this machine only (loopback or a unix socket)."""
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    try:
        host, _ = split_host_port(address, default_host="")
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def anonymous_refusal(config: GatewayConfig, listen: Sequence[str], any_keys: bool) -> str | None:
    """Why the gateway must not start anonymously on these binds, or None when it may."""
    if any_keys or config.auth.allow_anonymous:
        return None
    public = [address for address in (*listen, config.server.bridge) if not is_loopback(address)]
    if not public:
        return None
    return (
        f"no API keys exist and {public[0]} is not a loopback address: create a key "
        "(model-gateway keys create --name NAME), bind to 127.0.0.1, or set auth.allow_anonymous: true"
    )
