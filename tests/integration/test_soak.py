"""The fault soak's short variant (`make soak` runs it for 10 minutes): 30 s of every surface, unary
and streamed, while two upstreams fail at random and a third is killed and restarted; nothing lost,
every call in the ledger once, fds and RSS flat (soak/report.py states the bounds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_a_short_fault_soak_loses_nothing(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "soak", "--duration", "30", "--concurrency", "6"]
    command += ["--kill-every", "8", "--warmup", "10", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=200)
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["totals"]["lost"] == 0, result["lost"]
    assert result["ledger"]["missing_count"] == 0 and result["ledger"]["duplicate_count"] == 0
    assert all(row["answer"] > 0 for row in result["by_call"].values()), result["by_call"]
    assert len(result["by_call"]) == 12  # six surfaces (with gRPC), unary and streamed
    assert result["upstream_events"], "the restart upstream was never killed"
    assert result["passed"], (result["checks"], done.stdout[-3000:])
    assert done.returncode == 0
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
