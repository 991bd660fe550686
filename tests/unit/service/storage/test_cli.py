"""`model-gateway keys|projects|usage|db` round trips through main([...]) on a temporary SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from model_gateway.cli import main
from model_gateway.storage.database import open_database
from model_gateway.storage.keys import KeyStore
from model_gateway.storage.usage import USAGE_COLUMNS, insert_usage


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""
providers: {{local: {{kind: ollama}}}}
models:
  - {{name: llama3.2, aliases: [tiny], deployments: [{{provider: local, model: llama3.2}}]}}
  - {{name: qwen3, deployments: [{{provider: local, model: qwen3}}]}}
storage: {{database: "sqlite:///{tmp_path / "state" / "gateway.db"}"}}
auth:
  keys: [{{name: from-config, key: "static-key-0123456789"}}]
"""
    )
    return path


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["--config", str(config), *argv])
    except SystemExit as exit:
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> Any:
    code, out, err = run(capsys, config, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_keys_round_trip(capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, config, "db", "upgrade")
    assert code == 0 and "applied migration 1" in out and "schema at version" in out

    project = run_json(
        capsys, config, "projects", "create", "--name", "research", "--rpm", "100", "--models", "qwen*"
    )
    assert project["rpm"] == 100 and project["models"] == ["qwen*"]

    code, out, err = run(
        capsys, config, "keys", "create", "--name", "team-a", "--models", "llama*,qwen*", "--rpm", "60",
        "--tpm", "100000", "--budget-usd", "10", "--budget-period", "day", "--expires", "2999-01-01",
        "--project", "research",
    )  # fmt: skip
    assert code == 0, err
    key = out.strip()
    assert re.fullmatch(r"mg-[A-Za-z0-9_-]{43}", key) and "shown only this once" in err

    created = run_json(capsys, config, "keys", "create", "--name", "ops", "--admin")
    assert created["key"].startswith("mg-") and created["admin"] is True

    listed = run_json(capsys, config, "keys", "list")
    assert [(k["name"], k["source"], k["status"]) for k in listed] == [
        ("from-config", "config", "active"),
        ("team-a", "database", "active"),
        ("ops", "database", "active"),
    ]
    team = listed[1]
    assert (team["project"], team["models"], team["rpm"], team["tpm"]) == (
        "research",
        ["llama*", "qwen*"],
        60,
        100000,
    )
    assert (team["budget_usd"], team["budget_period"], team["expires"]) == (10.0, "day", "2999-01-01")
    assert "key" not in team

    code, out, _ = run(capsys, config, "keys", "list")
    assert code == 0 and "team-a" in out and key not in out

    shown = run_json(capsys, config, "keys", "show", "team-a")
    assert shown["name"] == "team-a" and key not in json.dumps(shown)
    assert run_json(capsys, config, "projects", "show", "research")["keys"] == ["team-a"]
    assert [p["name"] for p in run_json(capsys, config, "projects", "list")] == ["research"]

    code, out, _ = run(capsys, config, "keys", "revoke", "team-a")
    assert code == 0 and "revoked key 'team-a'" in out
    assert run_json(capsys, config, "keys", "show", "team-a")["status"] == "revoked"
    code, _, err = run(capsys, config, "keys", "revoke", "team-a")
    assert code == 1 and "already revoked" in err

    # The database holds the hash only.
    database = tmp_path / "state" / "gateway.db"
    with sqlite3.connect(database) as conn:
        dump = "\n".join(conn.iterdump())
    assert key not in dump and created["key"] not in dump


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--rpm", "0"], "argument --rpm: must be at least 1, got 0"),
        (["--tpm", "-5"], "argument --tpm: must be at least 1, got -5"),
        (["--budget-usd", "0"], "argument --budget-usd: must be more than 0 USD, got 0"),
        (["--budget-usd", "-1"], "argument --budget-usd: must be more than 0 USD, got -1"),
        (["--budget-period", "week"], "invalid choice: 'week'"),
        (["--expires", "2001-01-01"], "2001-01-01 is not in the future"),
        (["--expires", "soon"], "'soon' is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_values_are_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str], config: Path, argv: list[str], reason: str
) -> None:
    code, out, err = run(capsys, config, "keys", "create", "--name", "x", *argv)
    assert code == 2 and reason in err and out == ""


def test_refusals_that_need_the_database(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, _, err = run(capsys, config, "keys", "create", "--name", "from-config")
    assert code == 1 and "is in the config file" in err
    code, _, err = run(capsys, config, "keys", "create", "--name", "x", "--project", "nope")
    assert code == 1 and "no project named 'nope'" in err
    assert run(capsys, config, "keys", "create", "--name", "dup")[0] == 0
    code, _, err = run(capsys, config, "keys", "create", "--name", "dup")
    assert code == 1 and "already exists" in err
    code, _, err = run(capsys, config, "keys", "show", "ghost")
    assert code == 1 and "no key named 'ghost'" in err
    code, _, err = run(capsys, config, "keys", "revoke", "from-config")
    assert code == 1 and "remove it there" in err


def test_a_pattern_matching_no_model_is_a_warning(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, config, "keys", "create", "--name", "w", "--models", "tin*,gpt-*")
    assert code == 0 and out.startswith("mg-")
    assert "warning: --models pattern 'gpt-*' matches no configured model" in err
    assert "'tin*'" not in err  # matches the alias tiny


def test_a_bad_database_url_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text('storage: {database: "mysql://root:hunter2@db/gw"}\n')
    code, _, err = run(capsys, path, "keys", "list")
    assert code == 2 and err.startswith("model-gateway: storage.database: ") and "hunter2" not in err
    assert err.count("\n") == 1


def _seed_usage(config: Path, tmp_path: Path) -> None:
    async def seed() -> None:
        database = await open_database(f"sqlite:///{tmp_path / 'state' / 'gateway.db'}")
        rows = []
        for day, key, model, provider, status, cost in [
            ("2026-03-01", "team-a", "llama3.2", "local", "OK", 0.5),
            ("2026-03-01", "ops", "qwen3", "local", "OK", 0.25),
            ("2026-03-02", "team-a", "qwen3", "cloud", "INTERNAL", 0.0),
        ]:
            values = dict.fromkeys(USAGE_COLUMNS, "")
            values.update(
                ts=1.0, day=day, key_name=key, requested_model=model, provider=provider, status=status,
                attempts=1, input_tokens=10, output_tokens=20, cached_input_tokens=2, reasoning_tokens=0,
                estimated=0, cost_usd=cost, saved_usd=0.0, cache_hit=0, latency_ms=1.0, ttft_ms=None,
            )  # fmt: skip
            rows.append(tuple(values[c] for c in USAGE_COLUMNS))
        await insert_usage(database, rows)
        assert await KeyStore(database).keys() == []
        await database.close()

    asyncio.run(seed())


def test_usage_as_table_json_and_csv(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    _seed_usage(config, tmp_path)
    assert run_json(capsys, config, "usage") == [
        {"key": "ops", "calls": 1, "errors": 0, "input_tokens": 10, "output_tokens": 20,
         "cached_input_tokens": 2, "cost_usd": 0.25, "saved_usd": 0.0},
        {"key": "team-a", "calls": 2, "errors": 1, "input_tokens": 20, "output_tokens": 40,
         "cached_input_tokens": 4, "cost_usd": 0.5, "saved_usd": 0.0},
    ]  # fmt: skip
    by_model = run_json(capsys, config, "usage", "--by", "model")
    assert [(r["model"], r["calls"]) for r in by_model] == [("llama3.2", 1), ("qwen3", 2)]
    by_provider = run_json(capsys, config, "usage", "--by", "provider")
    assert [(r["provider"], r["calls"]) for r in by_provider] == [("cloud", 1), ("local", 2)]
    by_day = run_json(
        capsys, config, "usage", "--by", "day", "--since", "2026-03-02", "--until", "2026-03-02"
    )
    assert [(r["day"], r["calls"], r["errors"]) for r in by_day] == [("2026-03-02", 1, 1)]

    code, out, _ = run(capsys, config, "usage", "--by", "day", "--csv")
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["day"] for r in parsed] == ["2026-03-01", "2026-03-02"]
    assert parsed[0]["calls"] == "2" and parsed[0]["cost_usd"] == "0.75"

    code, out, _ = run(capsys, config, "usage", "--by", "model")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["MODEL", "CALLS", "ERRORS"]
    code, _, err = run(capsys, config, "usage", "--since", "March")
    assert code == 2 and "'March' is not a date" in err
    code, _, err = run(capsys, config, "usage", "--json", "--csv")
    assert code == 2 and "not allowed with" in err
