"""The report's HTML: plain strings with every value escaped, inline CSS and SVG, no scripts.

Sections carry ids (runs, quality, models, scores) and numbers carry data-* attributes so a
browser-rendered check can find them.
"""

from __future__ import annotations

from html import escape

from lakehouse.report import ModelInfo, ReportData

__all__ = ["render"]

STATUS_COLOUR = {"succeeded": "#2e7d32", "failed": "#c62828", "skipped": "#f9a825"}
CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:72rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#777;font-style:italic}.status{color:#fff;padding:0 .4rem;border-radius:.2rem}
img{max-width:30rem;margin:.3rem;border:1px solid #eee}
"""


def render(data: ReportData) -> str:
    sections = [
        _section("runs", "Run timeline", _runs(data.runs)),
        _section("quality", "Data quality", _quality(data.quality)),
        _section("models", "Models", _models(data.models)),
        _section("scores", "Score distributions", _scores(data)),
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>lakehouse report</title><style>{CSS}</style></head><body>"
        f"<h1>lakehouse report</h1><p>{escape(data.generated_for)}</p>"
        + "".join(sections)
        + "</body></html>"
    )


def _section(anchor: str, title: str, body: str) -> str:
    return f"<section id='{anchor}'><h2>{escape(title)}</h2>{body}</section>"


def _empty(what: str) -> str:
    return f"<p class='empty'>{escape(what)}</p>"


def _table(headers: list[str], rows: list[list[str]], *, numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='n'>{c}</td>" if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def _runs(runs: list[dict]) -> str:
    if not runs:
        return _empty("No runs recorded yet (ops.job_runs is written by every job run).")
    statuses = {s: sum(r["status"] == s for r in runs) for s in STATUS_COLOUR}
    summary = ", ".join(
        f"<span data-status='{s}' data-count='{n}'>{n} {s}</span>" for s, n in statuses.items()
    )
    rows = [
        [
            escape(f"{r['started_at']:%Y-%m-%d %H:%M:%S}"),
            escape(r["job"]),
            escape(str(r["run_date"])),
            f"<span class='status' style='background:{STATUS_COLOUR[r['status']]}' "
            f"data-run-status='{r['status']}'>{r['status']}</span>",
            f"{r['seconds']:.1f}",
            _count(r["rows_in"]),
            _count(r["rows_out"]),
            _count(r["rows_quarantined"]),
            escape(r["error"] or ", ".join(f"{t} v{v}" for t, v in r["tables_written"].items())),
        ]
        for r in runs
    ]
    headers = [
        "started (UTC)",
        "job",
        "run date",
        "status",
        "s",
        "in",
        "out",
        "quar.",
        "tables / error",
    ]
    return (
        f"<p>{len(runs)} runs: {summary}</p>"
        + _timeline_svg(runs)
        + _table(headers, rows, numeric={4, 5, 6, 7})
    )


def _timeline_svg(runs: list[dict]) -> str:
    """One bar per run from its start to its end, on a shared time axis, newest at the top."""
    start = min(r["started_at"] for r in runs)
    end = max(r["ended_at"] for r in runs)
    span = max((end - start).total_seconds(), 1.0)
    width, row, label = 900, 14, 230
    bars = []
    for i, r in enumerate(runs[:60]):
        x = label + (r["started_at"] - start).total_seconds() / span * (width - label)
        w = max(r["seconds"] / span * (width - label), 2.0)
        bars.append(
            f"<text x='0' y='{i * row + 11}' font-size='10'>{escape(r['job'])} "
            f"{escape(str(r['run_date']))}</text><rect x='{x:.1f}' y='{i * row + 2}' "
            f"width='{w:.1f}' height='{row - 4}' fill='{STATUS_COLOUR[r['status']]}'/>"
        )
    height = row * min(len(runs), 60) + 4
    return (
        f"<svg role='img' aria-label='run timeline' width='{width}' height='{height}'>"
        + "".join(bars)
        + "</svg>"
    )


def _quality(results: list[dict]) -> str:
    if not results:
        return _empty("No quality gate has run yet (ops.quality_results).")
    rows = [
        [
            escape(str(r["run_date"])),
            escape(r["table_name"]),
            escape(r["rule"]),
            escape(r["reason"]),
            f"<span data-failed='{r['failed_rows']}'>{r['failed_rows']:,}</span>",
            f"{r['checked_rows']:,}",
            "passed" if r["gate_passed"] else "<b>STOPPED</b>",
        ]
        for r in results
    ]
    headers = ["run date", "table", "rule", "reason", "failed", "checked", "gate"]
    return _table(headers, rows, numeric={4, 5})


def _models(models: list[ModelInfo]) -> str:
    if not models:
        return _empty("No model registered yet (lakehouse train --model M --run-date D).")
    parts = []
    for model in models:
        names = sorted({k for v in model.versions for k in v.metrics})[:12]
        rows = [
            [
                escape(v.version),
                escape(", ".join(v.aliases) or "-"),
                escape(v.created[:19]),
                *(f"{v.metrics[k]:.4g}" if k in v.metrics else "-" for k in names),
            ]
            for v in model.versions
        ]
        plots = "".join(
            f"<img alt='{escape(name)}' src='data:image/png;base64,{png}'>"
            for name, png in sorted(model.plots.items())
        )
        parts.append(
            f"<h3 data-model='{escape(model.name)}'>{escape(model.name)}</h3>"
            + _table(["version", "aliases", "registered", *names], rows)
            + (plots or _empty("No plots logged for the champion."))
        )
    return "".join(parts)


def _scores(data: ReportData) -> str:
    parts = []
    for day, counts in sorted(data.churn_histograms.items())[-3:]:
        labels = [f"{i / 10:.1f}" for i in range(len(counts))]
        parts.append(f"<h3>churn scores {escape(day)}</h3>" + _bars(labels, counts, "churn"))
    for day, counts in sorted(data.segments.items())[-3:]:
        parts.append(
            f"<h3>customer segments {escape(day)}</h3>"
            + _bars(list(counts), list(counts.values()), "segments")
        )
    return "".join(parts) or _empty("No scores yet (lakehouse score --model M --run-date D).")


def _bars(labels: list[str], counts: list[int], kind: str) -> str:
    top = max(max(counts), 1)
    width, bar = 600, 18
    rows = "".join(
        f"<text x='0' y='{i * bar + 13}' font-size='11'>{escape(label)}</text>"
        f"<rect x='120' y='{i * bar + 3}' width='{n / top * (width - 200):.1f}' "
        f"height='{bar - 5}' fill='#1565c0'/><text x='{125 + n / top * (width - 200):.1f}' "
        f"y='{i * bar + 13}' font-size='11' data-{kind}-count='{n}'>{n:,}</text>"
        for i, (label, n) in enumerate(zip(labels, counts, strict=True))
    )
    return f"<svg role='img' width='{width}' height='{bar * len(counts) + 4}'>{rows}</svg>"
