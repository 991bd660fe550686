"""`model-gateway`: serve, bridge, up, check-config; db, keys, projects and usage for operators."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import importlib.util
import json
import math
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import uvloop

from model_gateway.config import GatewayConfig, load_config
from model_gateway_common.config_file import ConfigError, config_path

if TYPE_CHECKING:
    from model_gateway.storage.database import Database
    from model_gateway.storage.keys import KeyRecord, ProjectRecord, Scope

T = TypeVar("T")


def _load(args: argparse.Namespace) -> GatewayConfig:
    path = config_path(args.config)
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _setup_logging() -> None:
    from model_gateway_common.logs import setup_logging

    setup_logging()


def cmd_serve(args: argparse.Namespace) -> int:
    from model_gateway_common.lifeline import attach

    attach()  # started by `up`: die with it, however it dies
    config = _load(args)
    _setup_logging()
    from model_gateway.server import StartError, serve
    from model_gateway.storage.database import StorageError

    listen = args.listen or [config.server.grpc]
    try:
        # uvloop: grpc.aio runs on it, about 20% more calls per CPU second here (bench/).
        uvloop.run(serve(config, listen))
    except (StorageError, StartError) as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        return 2
    return 0


BRIDGE = [sys.executable, "-m", "model_gateway_bridge"]  # its own package and process, never imported


def cmd_bridge(args: argparse.Namespace) -> int:
    """The bridge, as its own program (`python -m model_gateway_bridge`) in this process's place."""
    argv = [*BRIDGE, "--config", str(config_path(args.config))]
    if args.grpc_target:
        argv += ["--grpc-target", args.grpc_target]
    if args.listen:
        argv += ["--listen", args.listen]
    os.execv(sys.executable, argv)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    from model_gateway.routing.registry import Registry

    registry = Registry(config)
    print(f"{config_path(args.config)}: OK")
    print(f"gRPC {config.server.grpc}, bridge {config.server.bridge}")
    for name, provider in config.providers.items():
        key = "key set" if provider.api_key else "no key"
        print(f"provider {name}: {provider.kind} at {provider.url} ({key})")
    for model in registry.models():
        aliases = f" (aliases: {', '.join(model.aliases)})" if model.aliases else ""
        routes = " -> ".join(
            f"{r.label}{' [fallback]' if r.fallback else ''}" for r in registry.routes(model.name)
        )
        print(f"model {model.name}{aliases}: {routes}")
    return 0


LAUNCHER = [sys.executable, "-m", "model_gateway_launcher"]  # imports service and bridge; run, never imported


def cmd_up(args: argparse.Namespace) -> int:
    """The service and the bridge together: handed over to the launcher in this process's place.

    The launcher (its own package, the only one importing both) runs N
    workers, in one process each (`--topology inprocess`) or as a service and
    a bridge process each (`--topology sidecar`); see its docstring.
    """
    config_path_text = str(config_path(args.config))
    _load(args)  # a bad config is refused here, with the usual one-line error
    if importlib.util.find_spec("model_gateway_launcher") is None:
        print("model-gateway: up needs the launcher package: run `make install`", file=sys.stderr)
        return 2
    argv = [*LAUNCHER, "--config", config_path_text, "up", "--workers", str(args.workers)]
    if args.topology:
        argv += ["--topology", args.topology]
    os.execv(sys.executable, argv)


# --- operators' commands: db, keys, projects, usage ---------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class _Refused(Exception):
    """A command that cannot do what it was asked; the message says why (exit 1)."""


def _with_database(
    args: argparse.Namespace, work: Callable[[Database, GatewayConfig], Awaitable[T]], upgrade: bool = True
) -> T:
    """Open the configured database (migrated, unless `upgrade` is off), run `work`, close it."""
    config = _load(args)
    from model_gateway.storage.database import StorageError, open_database

    async def run() -> T:
        database = await open_database(config.storage.database, upgrade=upgrade)
        try:
            return await work(database, config)
        finally:
            await database.close()

    try:
        return asyncio.run(run())
    except StorageError as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except _Refused as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "*"
    return str(value)


def _date(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d") if ts is not None else None


def _time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# Argument types: each refuses a bad value with the reason (argparse prints it, exit 2).


def _key_name(text: str) -> str:
    if not _NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return text


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be at least 1, got {value} "
            "(a limit of 0 would refuse every call; leave it out for no limit)"
        )
    return value


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of US dollars") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 USD, got {text} (a budget of 0 or less would refuse every call; "
            "leave it out for no budget)"
        )
    return value


def _patterns(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _expiry(text: str) -> float:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None
    if day <= dt.datetime.now(dt.UTC).date():
        raise argparse.ArgumentTypeError(
            f"{text} is not in the future (the key expires at 00:00 UTC that day)"
        )
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _day(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def _scope(args: argparse.Namespace) -> Scope:
    from model_gateway.storage.keys import Scope

    return Scope(tuple(args.models or ()), args.rpm, args.tpm, args.budget_usd, args.budget_period)


def _warn_unmatched(patterns: Sequence[str], config: GatewayConfig) -> None:
    from fnmatch import fnmatchcase

    names = [name for model in config.models for name in (model.name, *model.aliases)]
    for pattern in patterns:
        if not any(fnmatchcase(name, pattern) for name in names):
            known = ", ".join(m.name for m in config.models) or "none"
            print(
                f"model-gateway: warning: --models pattern '{pattern}' matches no configured model "
                f"(configured: {known})",
                file=sys.stderr,
            )


def _scope_dict(scope: Scope) -> dict[str, Any]:
    return {
        "models": list(scope.models),
        "rpm": scope.rpm,
        "tpm": scope.tpm,
        "budget_usd": scope.budget_usd,
        "budget_period": scope.budget_period,
    }


def _key_dict(record: KeyRecord, totals: dict[str, tuple[int, float]], now: float) -> dict[str, Any]:
    calls, cost = totals.get(record.name, (0, 0.0))
    status = "revoked" if record.revoked else "expired" if record.expired(now) else "active"
    return {
        "name": record.name,
        "source": "database",
        "status": status,
        "project": record.project,
        **_scope_dict(record.scope),
        "admin": record.admin,
        "expires": _date(record.expires_at),
        "created": _time(record.created_at),
        "revoked": _time(record.revoked_at),
        "calls": calls,
        "cost_usd": cost,
    }


def _static_key_dicts(config: GatewayConfig, totals: dict[str, tuple[int, float]]) -> list[dict[str, Any]]:
    rows = []
    for key in config.auth.keys:
        calls, cost = totals.get(key.name, (0, 0.0))
        scope = {
            "models": list(key.models),
            "rpm": key.rpm,
            "tpm": key.tpm,
            "budget_usd": key.budget_usd,
            "budget_period": key.budget_period,
        }
        rows.append(
            {
                "name": key.name,
                "source": "config",
                "status": "active",
                "project": None,
                **scope,
                "admin": key.admin,
                "expires": None,
                "created": None,
                "revoked": None,
                "calls": calls,
                "cost_usd": cost,
            }
        )
    return rows


_KEY_TABLE = (
    "name",
    "status",
    "project",
    "models",
    "rpm",
    "tpm",
    "budget_usd",
    "expires",
    "calls",
    "cost_usd",
)


def cmd_keys_create(args: argparse.Namespace) -> int:
    from model_gateway.storage.database import Conflict
    from model_gateway.storage.keys import KeyRecord, KeyStore, key_hash, new_key

    async def work(database: Database, config: GatewayConfig) -> dict[str, Any]:
        store = KeyStore(database)
        if any(key.name == args.name for key in config.auth.keys):
            raise _Refused(
                f"a key named '{args.name}' is in the config file (auth.keys); choose another name"
            )
        if args.project and await store.project(args.project) is None:
            known = ", ".join(p.name for p in await store.projects()) or "none yet"
            raise _Refused(
                f"no project named '{args.project}' (projects: {known}); "
                "create it first: model-gateway projects create --name NAME"
            )
        key = new_key()
        now = time.time()
        scope = _scope(args)
        record = KeyRecord(args.name, key_hash(key), scope, args.project, args.admin, args.expires, now)
        try:
            await store.create_key(record)
        except Conflict as exc:
            raise _Refused(str(exc)) from None
        return {"key": key, **_key_dict(record, {}, now)}

    _warn_unmatched(args.models or (), _load(args))
    created = _with_database(args, work)
    if args.json:
        _print_json(created)
    else:
        print(created["key"])
        print(
            f"model-gateway: created key '{args.name}'; it is shown only this once, so store it now",
            file=sys.stderr,
        )
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from model_gateway.storage.keys import KeyStore
    from model_gateway.storage.usage import totals_by_key

    async def work(database: Database, config: GatewayConfig) -> list[dict[str, Any]]:
        totals = await totals_by_key(database)
        now = time.time()
        stored = [_key_dict(record, totals, now) for record in await KeyStore(database).keys()]
        return _static_key_dicts(config, totals) + stored

    keys = _with_database(args, work)
    if args.json:
        _print_json(keys)
    else:
        _table(_KEY_TABLE, [[key[c] for c in _KEY_TABLE] for key in keys])
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    from model_gateway.storage.keys import KeyStore
    from model_gateway.storage.usage import totals_by_key

    async def work(database: Database, config: GatewayConfig) -> dict[str, Any]:
        totals = await totals_by_key(database)
        for static in _static_key_dicts(config, totals):
            if static["name"] == args.name:
                return static
        record = await KeyStore(database).key(args.name)
        if record is None:
            raise _Refused(f"no key named '{args.name}'")
        return _key_dict(record, totals, time.time())

    key = _with_database(args, work)
    if args.json:
        _print_json(key)
    else:
        for field, value in key.items():
            print(f"{field + ':':<15}{_cell(value)}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from model_gateway.storage.keys import KeyStore

    async def work(database: Database, config: GatewayConfig) -> dict[str, Any]:
        if any(key.name == args.name for key in config.auth.keys):
            raise _Refused(f"key '{args.name}' is in the config file (auth.keys): remove it there")
        store = KeyStore(database)
        if not await store.revoke(args.name):
            known = await store.key(args.name)
            missing = f"no key named '{args.name}'"
            raise _Refused(f"key '{args.name}' is already revoked" if known is not None else missing)
        return {"name": args.name, "revoked": True, "takes_effect_within_s": config.auth.refresh_s + 1}

    result = _with_database(args, work)
    if args.json:
        _print_json(result)
    else:
        within = result["takes_effect_within_s"]
        print(f"revoked key '{args.name}' (every gateway refuses it within {within:g} s)")
    return 0


def _project_dict(record: ProjectRecord, keys: list[str]) -> dict[str, Any]:
    created = _time(record.created_at)
    return {"name": record.name, **_scope_dict(record.scope), "created": created, "keys": keys}


_PROJECT_TABLE = ("name", "models", "rpm", "tpm", "budget_usd", "budget_period", "keys")


async def _project_keys(database: Database) -> dict[str, list[str]]:
    from model_gateway.storage.keys import KeyStore

    members: dict[str, list[str]] = {}
    for key in await KeyStore(database).keys():
        if key.project and not key.revoked:
            members.setdefault(key.project, []).append(key.name)
    return members


def cmd_projects_create(args: argparse.Namespace) -> int:
    from model_gateway.storage.database import Conflict
    from model_gateway.storage.keys import KeyStore, ProjectRecord

    async def work(database: Database, config: GatewayConfig) -> dict[str, Any]:
        record = ProjectRecord(args.name, _scope(args), time.time())
        try:
            await KeyStore(database).create_project(record)
        except Conflict as exc:
            raise _Refused(str(exc)) from None
        return _project_dict(record, [])

    _warn_unmatched(args.models or (), _load(args))
    project = _with_database(args, work)
    if args.json:
        _print_json(project)
    else:
        print(f"created project '{args.name}'")
    return 0


def cmd_projects_list(args: argparse.Namespace) -> int:
    from model_gateway.storage.keys import KeyStore

    async def work(database: Database, config: GatewayConfig) -> list[dict[str, Any]]:
        members = await _project_keys(database)
        return [_project_dict(p, members.get(p.name, [])) for p in await KeyStore(database).projects()]

    projects = _with_database(args, work)
    if args.json:
        _print_json(projects)
    else:
        rows = [{**p, "keys": ",".join(p["keys"])} for p in projects]
        _table(_PROJECT_TABLE, [[p[c] for c in _PROJECT_TABLE] for p in rows])
    return 0


def cmd_projects_show(args: argparse.Namespace) -> int:
    from model_gateway.storage.keys import KeyStore

    async def work(database: Database, config: GatewayConfig) -> dict[str, Any]:
        record = await KeyStore(database).project(args.name)
        if record is None:
            raise _Refused(f"no project named '{args.name}'")
        return _project_dict(record, (await _project_keys(database)).get(args.name, []))

    project = _with_database(args, work)
    if args.json:
        _print_json(project)
    else:
        for field, value in project.items():
            print(f"{field + ':':<15}{_cell(value)}")
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    from model_gateway.storage.usage import FIGURES, usage_report

    async def work(database: Database, config: GatewayConfig) -> list[dict[str, Any]]:
        rows = await usage_report(database, args.by, args.since, args.until)
        return [row.as_dict(args.by) for row in rows]

    rows = _with_database(args, work)
    columns = (args.by, *FIGURES)
    if args.json:
        _print_json(rows)
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[row[c] for c in columns] for row in rows])
    else:
        _table(columns, [[row[c] for c in columns] for row in rows])
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    async def work(database: Database, config: GatewayConfig) -> dict[str, Any]:
        applied = await database.upgrade()
        return {
            "database": database.shown,
            "applied": [{"version": m.version, "name": m.name} for m in applied],
            "version": max(await database.versions(), default=0),
        }

    result = _with_database(args, work, upgrade=False)  # opened as found, so the report lists what ran
    if args.json:
        _print_json(result)
    else:
        for migration in result["applied"]:
            print(f"applied migration {migration['version']}: {migration['name']}")
        print(f"{result['database']}: schema at version {result['version']}")
    return 0


def _admin_commands(commands: Any) -> list[argparse.ArgumentParser]:
    """db, keys, projects and usage: the subcommands (each leaf accepts --config and --json)."""
    leaves: list[argparse.ArgumentParser] = []

    def leaf(group: Any, name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> Any:
        parser = group.add_parser(name, help=help_text)
        parser.set_defaults(func=func)
        if func is not cmd_usage:
            parser.add_argument("--json", action="store_true", help="print JSON for scripts")
        leaves.append(parser)
        return parser

    def scope_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", required=True, type=_key_name)
        parser.add_argument("--models", type=_patterns, help="glob patterns, comma-separated (default: all)")
        parser.add_argument("--rpm", type=_limit, help="requests per minute")
        parser.add_argument("--tpm", type=_limit, help="tokens per minute")
        parser.add_argument("--budget-usd", type=_budget, help="spend allowed per budget period, in USD")
        parser.add_argument("--budget-period", choices=("day", "month", "total"), default="month")

    db = commands.add_parser("db", help="the database: schema migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    leaf(db_commands, "upgrade", "apply the schema migrations not applied yet", cmd_db_upgrade)

    keys = commands.add_parser("keys", help="API keys: create, list, show, revoke")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = leaf(key_commands, "create", "create a key and print it (once)", cmd_keys_create)
    scope_options(create)
    create.add_argument("--expires", type=_expiry, help="YYYY-MM-DD: refused from 00:00 UTC that day")
    create.add_argument("--project", type=_key_name, help="the project whose limits bound this key too")
    create.add_argument("--admin", action="store_true", help="may read every key's usage (GetUsage)")
    leaf(key_commands, "list", "every key: scopes, status, usage so far (never the key)", cmd_keys_list)
    leaf(key_commands, "show", "one key", cmd_keys_show).add_argument("name")
    revoke = leaf(
        key_commands, "revoke", "refuse a key from now on (everywhere within seconds)", cmd_keys_revoke
    )
    revoke.add_argument("name")

    projects = commands.add_parser("projects", help="projects: limits and models shared by their keys")
    project_commands = projects.add_subparsers(dest="projects_command", required=True)
    scope_options(leaf(project_commands, "create", "create a project", cmd_projects_create))
    leaf(project_commands, "list", "every project", cmd_projects_list)
    leaf(project_commands, "show", "one project and its keys", cmd_projects_show).add_argument("name")

    usage = leaf(commands, "usage", "calls, tokens and cost from the usage ledger", cmd_usage)
    usage.add_argument("--by", choices=("key", "model", "provider", "day"), default="key")
    usage.add_argument("--since", type=_day, help="YYYY-MM-DD (UTC, inclusive)")
    usage.add_argument("--until", type=_day, help="YYYY-MM-DD (UTC, inclusive)")
    form = usage.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="a list of rows")
    form.add_argument("--csv", action="store_true", help="CSV with a header row")
    return leaves


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="model-gateway", description=__doc__)
    parser.add_argument(
        "--config", help="config file (default: $MODEL_GATEWAY_CONFIG or config/gateway.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC service")
    serve.add_argument(
        "--listen", action="append", help="address to listen on (repeatable; default server.grpc)"
    )
    serve.set_defaults(func=cmd_serve)

    bridge = commands.add_parser("bridge", help="run the REST bridge")
    bridge.add_argument("--grpc-target", help="gRPC address of the service (default server.grpc)")
    bridge.add_argument("--listen", help="host:port to serve REST on (default server.bridge)")
    bridge.set_defaults(func=cmd_bridge)

    up = commands.add_parser("up", help="run the service and the bridge together")
    up.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    up.add_argument(
        "--topology",
        choices=("inprocess", "sidecar"),
        help="inprocess: one process per worker serves both ports (the default); sidecar: a service "
        "process and a bridge process per worker, over a unix socket",
    )
    up.set_defaults(func=cmd_up)

    check = commands.add_parser("check-config", help="validate the config and print models and routes")
    check.set_defaults(func=cmd_check_config)

    for sub in (serve, bridge, up, check, *_admin_commands(commands)):
        sub.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
