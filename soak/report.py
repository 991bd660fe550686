"""The soak's verdict and report: results.json, results.md and results.png (RSS and open fds over time)."""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soak.traffic import ANSWER, ERROR, LOST

if TYPE_CHECKING:
    from soak.__main__ import Samples, Tally


@dataclass(frozen=True)
class Bounds:
    """What "flat" means, stated before the run: after the warm-up, the peak of the last fifth of
    the run may exceed the level at the end of the warm-up by at most this much."""

    warmup_s: float
    fds_growth: int = 40  # connections come and go with 12 callers and three upstreams
    rss_growth_mb: float = 48.0


def _level(values: list[float], times: list[float], start: float, end: float) -> float | None:
    window = [v for v, t in zip(values, times, strict=True) if start <= t < end]
    return statistics.median(window) if window else None


def check_growth(times: list[float], values: list[float], warmup: float, allowed: float) -> dict[str, Any]:
    if not times:
        return {"ok": False, "why": "no samples"}
    end = times[-1]
    baseline = _level(values, times, warmup, warmup + 10)
    tail = [v for v, t in zip(values, times, strict=True) if t >= end - max(10.0, (end - warmup) / 5)]
    if baseline is None or not tail:
        return {"ok": False, "why": "the run was shorter than its warm-up"}
    growth = max(tail) - baseline
    return {
        "baseline": round(baseline, 1),
        "tail_peak": round(max(tail), 1),
        "overall_peak": round(max(values), 1),
        "growth": round(growth, 1),
        "allowed": allowed,
        "ok": growth <= allowed,
    }


def write_report(
    out: Path,
    *,
    duration: float,
    settings: dict[str, Any],
    tally: Tally,
    samples: Samples,
    ledger: dict[str, Any],
    events: list[str],
    bounds: Bounds,
    exit_code: int | None,
) -> bool:
    out.mkdir(parents=True, exist_ok=True)
    kinds = sorted({kind for kind, _ in tally.outcomes})
    table = {
        kind: {outcome: tally.outcomes[(kind, outcome)] for outcome in (ANSWER, ERROR, LOST)}
        for kind in kinds
    }
    totals = {outcome: sum(row[outcome] for row in table.values()) for outcome in (ANSWER, ERROR, LOST)}
    calls = sum(totals.values())
    fds = check_growth(samples.t, [float(v) for v in samples.fds], bounds.warmup_s, bounds.fds_growth)
    rss = check_growth(samples.t, samples.rss_mb, bounds.warmup_s, bounds.rss_growth_mb)
    every_surface_answered = all(row[ANSWER] > 0 for row in table.values())
    checks = {
        "no call lost or silently cut": totals[LOST] == 0,
        "every call answered or refused clearly": calls == len(tally.sent),
        "every surface and mode answered": every_surface_answered,
        "every call in the ledger once": ledger["missing_count"] == 0 and ledger["duplicate_count"] == 0,
        f"open fds within +{bounds.fds_growth} after the warm-up": bool(fds["ok"]),
        f"RSS within +{bounds.rss_growth_mb:g} MiB after the warm-up": bool(rss["ok"]),
        "the gateway stopped cleanly": exit_code == 0,
    }
    passed = all(checks.values())
    details = {f"{kind} {detail}": n for (kind, detail), n in sorted(tally.details.items())}
    result = {
        "passed": passed,
        "checks": checks,
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{platform.node()} {platform.machine()}, {platform.python_version()}",
        "duration_s": round(duration, 1),
        "settings": settings,
        "calls": calls,
        "calls_per_s": round(calls / duration, 1) if duration else 0,
        "totals": totals,
        "by_call": table,
        "details": details,
        "lost": tally.lost[:50],
        "ledger": ledger,
        "fds": fds,
        "rss_mb": rss,
        "bounds": asdict(bounds),
        "upstream_events": events,
        "samples": {"t": samples.t, "rss_mb": samples.rss_mb, "fds": samples.fds},
    }
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "results.md").write_text(_markdown(result))
    _plot(out / "results.png", samples, bounds)
    return passed


def _markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# Fault soak: {'PASSED' if r['passed'] else 'FAILED'}",
        "",
        f"{r['when']} on {r['machine']}: {r['duration_s']} s, {r['calls']} calls "
        f"({r['calls_per_s']}/s), {r['settings']['concurrency']} callers, chaos {r['settings']['chaos']} "
        f"on two upstreams, a third killed and restarted every ~{r['settings']['kill_every']:g} s "
        f"({len(r['upstream_events']) // 2} kills), seed {r['settings']['seed']}.",
        "",
        "| check | |",
        "|---|---|",
        *(f"| {name} | {'yes' if ok else '**NO**'} |" for name, ok in r["checks"].items()),
        "",
        "| call | answered | clear error | lost |",
        "|---|---:|---:|---:|",
        *(f"| {k} | {v['answer']} | {v['error']} | {v['lost']} |" for k, v in r["by_call"].items()),
        f"| **all** | **{r['totals']['answer']}** | **{r['totals']['error']}** | **{r['totals']['lost']}** |",
        "",
        f"Ledger: {r['ledger']['rows']} rows for {r['ledger']['calls_sent']} calls, "
        f"{r['ledger']['missing_count']} missing, {r['ledger']['duplicate_count']} twice.",
        "",
        "| resource | after warm-up | peak, last fifth | growth | allowed |",
        "|---|---:|---:|---:|---:|",
        f"| open fds | {r['fds'].get('baseline')} | {r['fds'].get('tail_peak')} | {r['fds'].get('growth')} | "
        f"{r['fds'].get('allowed')} |",
        f"| RSS (MiB) | {r['rss_mb'].get('baseline')} | {r['rss_mb'].get('tail_peak')} | "
        f"{r['rss_mb'].get('growth')} | {r['rss_mb'].get('allowed')} |",
        "",
        "![RSS and open fds over time](results.png)",
        "",
    ]
    if r["lost"]:
        lines += ["Lost calls (first 50):", "", *(f"- {x}" for x in r["lost"]), ""]
    return "\n".join(lines)


def _plot(path: Path, samples: Samples, bounds: Bounds) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(samples.t, samples.rss_mb, color="tab:blue")
    top.set_ylabel("RSS (MiB)")
    bottom.plot(samples.t, samples.fds, color="tab:orange")
    bottom.set_ylabel("open fds")
    bottom.set_xlabel("seconds")
    for axis in (top, bottom):
        axis.axvline(bounds.warmup_s, color="grey", linestyle=":", label="end of warm-up")
        axis.grid(alpha=0.3)
    top.legend(loc="lower right")
    top.set_title("model-gateway up under the fault soak (all its processes)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
