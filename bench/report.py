"""A run as a Markdown table (stdout, results.md, optionally README), JSON and a PNG chart."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import budget
from bench.machine import one_line
from bench.measure import Run, Scenario

README_START = "<!-- BENCH:START -->"
README_END = "<!-- BENCH:END -->"


def _topologies(run: Run) -> list[str]:
    settings = run.settings
    names: Any = settings.get("topologies") or ["sidecar"]
    workers = settings.get("inprocess_workers", 1)
    shown = []
    for i, name in enumerate(names):
        what = (
            f"`up --topology inprocess --workers {workers}` ({workers} process(es) serving both ports)"
            if name == "inprocess"
            else "`up --topology sidecar` (one `serve` and one bridge process over a unix socket)"
        )
        shown.append(what + (" (the default)" if i == 0 else ""))
    return shown


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _processes(run: Run) -> list[str]:
    names: list[str] = []
    for scenario in run.scenarios:
        names += [name for name in scenario.cpu_ms_per_request if name not in names]
    return names


def _cpu(scenario: Scenario, names: list[str]) -> list[str]:
    return [_num(scenario.cpu_ms_per_request.get(name), 3) for name in names]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def _unary_table(run: Run, names: list[str]) -> list[str]:
    head = ["path", "conns", "req/s", "p50 ms", "p99 ms", "added p50 ms"]
    head += [f"CPU ms/req {name}" for name in names] + ["errors"]
    lines = [_row(head), _row(["---"] * len(head))]
    for s in (s for s in run.scenarios if s.mode == "unary"):
        r = s.result
        if r is None:
            lines.append(_row([s.label, str(s.connections), f"failed: {s.error}"] + [""] * (len(head) - 3)))
            continue
        cells = [s.label, str(s.connections), _num(r.rps, 0), _num(r.p50_ms), _num(r.p99_ms)]
        cells += [_num(s.added_p50_ms), *_cpu(s, names), str(r.errors)]
        lines.append(_row(cells))
    return lines


def _stream_table(run: Run, names: list[str]) -> list[str]:
    head = ["path", "conns", "req/s", "first chunk p50 ms", "first p99", "last chunk p50 ms", "last p99"]
    head += ["added first p50", "added last p50"] + [f"CPU ms/req {n}" for n in names] + ["errors"]
    lines = [_row(head), _row(["---"] * len(head))]
    for s in (s for s in run.scenarios if s.mode == "stream"):
        r = s.result
        if r is None:
            lines.append(_row([s.label, str(s.connections), f"failed: {s.error}"] + [""] * (len(head) - 3)))
            continue
        cells = [s.label, str(s.connections), _num(r.rps, 0), _num(r.ttfc_p50_ms), _num(r.ttfc_p99_ms)]
        cells += [_num(r.p50_ms), _num(r.p99_ms), _num(s.added_ttfc_p50_ms), _num(s.added_p50_ms)]
        cells += [*_cpu(s, names), str(r.errors)]
        lines.append(_row(cells))
    return lines


def _memory_table(run: Run) -> list[str]:
    growth = run.growth
    half = f"at {growth.half_requests:,} req" if growth else "half-way"
    full = f"at {growth.full_requests:,} req" if growth else "end"
    head = ["process", "RSS after scenarios MB", f"RSS {half} MB", f"RSS {full} MB", "growth %"]
    head[0] = "process (RSS per process)"
    lines = [_row(head), _row(["---"] * len(head))]
    for m in run.memory:
        lines.append(
            _row(
                [
                    m.process,
                    _num(m.after_scenarios_mb, 1),
                    _num(m.at_half_mb, 1),
                    _num(m.at_full_mb, 1),
                    _num(m.growth_pct, 1),
                ]
            )
        )
    return lines


def _budget_table(run: Run) -> list[str]:
    lines = [_row(["budget", "limit", "measured", "ok"]), _row(["---"] * 4)]
    for check in budget.checks(run):
        ok = "n/a" if check.ok is None else ("yes" if check.ok else "**no**")
        value = (
            "-"
            if check.value is None
            else f"{_num(check.value, 0 if check.unit == 'req/s' else 2)} {check.unit}"
        )
        lines.append(_row([check.name, check.limit, value, ok]))
    return lines


def markdown(run: Run) -> str:
    names = _processes(run)
    settings = run.settings
    growth = run.growth
    lines = [
        f"Measured {run.date[:16].replace('T', ' ')} UTC on {one_line(run.machine)}.",
        "",
        f"{settings['duration_s']} s per scenario after a {settings['warmup_s']} s warm-up per path; "
        "added = path minus the direct upstream, same run, same client. "
        "Unary: wrk (REST) and h2load (gRPC, one stream per connection); streams: an asyncio client "
        f"(aiohttp, grpc.aio), answers of {settings['stream_chunks']} text deltas. "
        f"Other processes used {_num(run.background_cpu_pct, 0)}% of the CPU meanwhile.",
        "",
        "Production features on: a key required (sent by every client), in-memory limits on the key "
        "and the gateway (far above reach), the in-memory response cache (the ordinary scenarios "
        "send non-deterministic requests: its bypass path), the SQLite usage ledger, metrics, "
        "the access log at INFO, and OTLP tracing sampled at 1 % (parentbased_traceidratio 0.01). "
        f"Topologies: {', '.join(_topologies(run))}; paths without a topology in their name are "
        f"the default's. CPU columns: each role's processes summed, per request.",
        "",
        "**Unary**",
        "",
        *_unary_table(run, names),
        "",
        "**Streaming** (first = time to the first chunk, last = time to the last)",
        "",
        *_stream_table(run, names),
        "",
        (
            f"**Memory** (growth run: {growth.target:,} requests through REST /v1/chat/completions at "
            f"{growth.connections} connections, {_num(growth.rps, 0)} req/s, {growth.errors} errors)"
            if growth
            else "**Memory**"
        ),
        "",
        *_memory_table(run),
        "",
        "**Budget** (2-core machine)",
        "",
        *_budget_table(run),
    ]
    if run.notes:
        lines += ["", *(f"- {note}" for note in run.notes)]
    return "\n".join(lines) + "\n"


def _clean(value: Any) -> Any:
    """JSON has no NaN: unmeasured figures become null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def to_json(run: Run) -> dict[str, Any]:
    scenarios = []
    for s in run.scenarios:
        row = asdict(s)
        result = row.pop("result")
        row.update(result or {})
        row["rps"] = s.result.rps if s.result else None
        scenarios.append(row)
    memory = [{**asdict(m), "growth_pct": m.growth_pct} for m in run.memory]
    cleaned: dict[str, Any] = _clean(
        {
            "date": run.date,
            "machine": run.machine,
            "settings": run.settings,
            "scenarios": scenarios,
            "memory": memory,
            "growth": asdict(run.growth) if run.growth else None,
            "budget": [asdict(check) for check in budget.checks(run)],
            "background_cpu_pct": run.background_cpu_pct,
            "notes": run.notes,
            "failures": run.failures,
        }
    )
    return cleaned


def chart(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    panels = [
        ("unary", "rps", "unary: requests/s (log scale)"),
        ("unary", "p50_ms", "unary: p50 latency (ms)"),
        ("stream", "rps", "stream: requests/s (log scale)"),
        ("stream", "ttfc_p50_ms", "stream: p50 time to first chunk (ms)"),
    ]
    connections = sorted({s.connections for s in run.scenarios})
    for axis, (mode, field, title) in zip(axes.flat, panels, strict=True):
        scenarios = [s for s in run.scenarios if s.mode == mode]
        labels = list(dict.fromkeys(s.label for s in scenarios))
        width = 0.8 / max(1, len(connections))
        for i, conns in enumerate(connections):
            values = []
            for label in labels:
                match = next((s for s in scenarios if s.label == label and s.connections == conns), None)
                value = getattr(match.result, field) if match and match.result else None
                values.append(0.0 if value is None or math.isnan(value) else value)
            positions = [j + (i - (len(connections) - 1) / 2) * width for j in range(len(labels))]
            bars = axis.bar(positions, values, width, label=f"{conns} conn")
            axis.bar_label(bars, fmt="%.0f" if field == "rps" else "%.2f", fontsize=7)
        if field == "rps":
            axis.set_yscale("log")  # the direct upstream is orders of magnitude faster
        axis.set_title(title)
        axis.set_xticks(range(len(labels)))
        axis.set_xticklabels([_short(label) for label in labels], rotation=15, fontsize=8)
        axis.grid(axis="y", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(
        f"Model Gateway benchmark, {run.date[:10]}: {run.machine['cpu']}, {run.machine['cores']} cores"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _short(label: str) -> str:
    return label.replace("REST ", "").replace(" (nginx)", "").replace("/v1/chat/completions", "/v1/chat")


def write(run: Run, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "results.json", "markdown": out / "results.md", "png": out / "results.png"}
    files["json"].write_text(json.dumps(to_json(run), indent=2) + "\n")
    files["markdown"].write_text(markdown(run))
    chart(run, files["png"])
    return files


def update_readme(readme: Path, table: str) -> bool:
    """Replaces the text between the BENCH markers; False when the README has none."""
    if not readme.exists():
        return False
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        return False
    block = f"{README_START}\n{table}{README_END}"
    readme.write_text(pattern.sub(lambda _match: block, text, count=1))
    return True
