"""`python -m fuzz` (`make fuzz`): every target for `--seconds` each, seeded from the golden fixtures.

Corpora grow in fuzz/work/<target>/ (ignored by git; seeded afresh from
tests/fixtures and the contract's golden requests each run). A crash is written
to fuzz/crashes/<target>-crash-<sha1>; turn each into a regression test in
tests/unit/{bridge,providers}/test_fuzz_regressions.py. Prints runs, coverage and crashes per target.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from fuzz.targets import SPECS, Spec

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
GOLDEN = ROOT / "tests" / "contract" / "golden"
WORK = ROOT / "fuzz" / "work"
CRASHES = ROOT / "fuzz" / "crashes"


def seeds(spec: Spec) -> list[bytes]:
    found: list[bytes] = []
    for pattern in spec.seeds:
        if pattern.startswith("golden:"):
            prefix = pattern.removeprefix("golden:")
            for pair in sorted(GOLDEN.glob("*/*.json")):
                request = json.loads(pair.read_text()).get("request") or {}
                path = str(request.get("path", "")).split("?")[0]
                if (path == prefix or path.startswith(prefix + ":")) and isinstance(
                    request.get("json"), dict
                ):
                    found.append(json.dumps(request["json"]).encode())
        else:
            found += [path.read_bytes() for path in sorted(FIXTURES.glob(pattern))]
    return found


def run(spec: Spec, seconds: float) -> dict[str, object]:
    corpus = WORK / spec.name
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in seeds(spec):
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    CRASHES.mkdir(parents=True, exist_ok=True)
    before = set(CRASHES.glob(f"{spec.name}-*"))
    command = [
        sys.executable, "-m", "fuzz.harness", spec.name, f"-max_total_time={int(seconds)}",
        "-timeout=10", "-rss_limit_mb=3072", "-max_len=65536", f"-artifact_prefix={CRASHES}/{spec.name}-",
        "-print_final_stats=1", str(corpus),
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 300)
    log = done.stdout + done.stderr
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
    crashes = sorted(str(p.relative_to(ROOT)) for p in set(CRASHES.glob(f"{spec.name}-*")) - before)
    if done.returncode != 0 and not crashes:
        crashes = [f"exit {done.returncode}: {log[-1500:]}"]
    return {
        "target": spec.name,
        "seconds": round(time.monotonic() - started, 1),
        "seeds": len(seeds(spec)),
        "runs": int(runs[-1]) if runs else None,
        "coverage": int(cov[-1][0]) if cov else None,
        "features": int(cov[-1][1]) if cov else None,
        "corpus": len(list(corpus.iterdir())),
        "crashes": crashes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="per target (default 60)")
    parser.add_argument("--only", nargs="*", help="target names (default: all)")
    args = parser.parse_args(argv)
    specs = [s for s in SPECS if not args.only or s.name in args.only]
    results = []
    print("| target | seeds | seconds | runs | coverage | corpus | crashes |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for spec in specs:
        result = run(spec, args.seconds)
        results.append(result)
        crashes = ", ".join(str(c) for c in result["crashes"]) or "none"  # type: ignore[attr-defined]
        print(
            f"| {result['target']} | {result['seeds']} | {result['seconds']} | {result['runs']} | "
            f"{result['coverage']} | {result['corpus']} | {crashes} |",
            flush=True,
        )
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    return 1 if any(r["crashes"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
