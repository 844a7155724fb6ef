"""`lakehouse report`: one static HTML file about the lakehouse's state, readable offline.

Sections: the run timeline (ops.job_runs), the quality gates' results (ops.quality_results),
each registered model's versions with their metrics and the champion's plots (MLflow), and the
distributions of the scores (gold.churn_scores, gold.customer_segments). Everything is read
without Spark (delta-rs, the MLflow client); plots are embedded as base64 PNG and charts drawn
as inline SVG, so the file needs no network. A section without data says so.
"""

from __future__ import annotations

import base64
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lakehouse.config import Config
from lakehouse.errors import TableNotFoundError

__all__ = ["ReportData", "gather", "write_report"]

RUNS_SHOWN = 200
SCORE_BINS = 10


@dataclass
class ModelVersionInfo:
    version: str
    aliases: list[str]
    metrics: dict[str, float]
    created: str


@dataclass
class ModelInfo:
    name: str
    versions: list[ModelVersionInfo]
    plots: dict[str, str] = field(default_factory=dict)  # file name -> base64 PNG (champion)


@dataclass
class ReportData:
    generated_for: str  # the environment and warehouse the report describes
    runs: list[dict]
    quality: list[dict]
    models: list[ModelInfo]
    churn_histograms: dict[str, list[int]]  # score date -> counts per score decile of [0, 1]
    segments: dict[str, dict[str, int]]  # score date -> segment -> customers


def write_report(cfg: Config, out: Path) -> Path:
    from lakehouse._report_html import render

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(gather(cfg)), encoding="utf-8")
    return out


def gather(cfg: Config) -> ReportData:
    from lakehouse.delta import Warehouse

    return ReportData(
        generated_for=f"env {cfg.env}, warehouse {Warehouse.from_config(cfg).root}",
        runs=_or_empty(lambda: _runs(cfg)),
        quality=_or_empty(lambda: _quality(cfg)),
        models=_models(cfg),
        churn_histograms=_or_empty(lambda: _churn_histograms(cfg), empty={}),
        segments=_or_empty(lambda: _segments(cfg), empty={}),
    )


def _or_empty(read, *, empty=None):
    try:
        return read()
    except TableNotFoundError:  # that part of the lakehouse has not run yet
        return [] if empty is None else empty


def _runs(cfg: Config) -> list[dict]:
    from lakehouse.runs import job_runs

    return job_runs(cfg, last=RUNS_SHOWN)


def _quality(cfg: Config) -> list[dict]:
    from lakehouse.reports import quality_results

    return quality_results(cfg, last=7)


def _table(cfg: Config, name: str, columns: list[str]):
    from lakehouse.delta import Warehouse

    return Warehouse.from_config(cfg).table(name).to_arrow(columns=columns)


def _churn_histograms(cfg: Config) -> dict[str, list[int]]:
    scores = _table(cfg, "gold.churn_scores", ["score_date", "score"]).to_pandas()
    edges = np.linspace(0.0, 1.0, SCORE_BINS + 1)
    return {
        str(day): np.histogram(group["score"].to_numpy(), bins=edges)[0].tolist()
        for day, group in sorted(scores.groupby("score_date"))
    }


def _segments(cfg: Config) -> dict[str, dict[str, int]]:
    rows = _table(cfg, "gold.customer_segments", ["score_date", "segment"]).to_pandas()
    counts = rows.groupby(["score_date", "segment"]).size()
    out: dict[str, dict[str, int]] = {}
    for (day, segment), n in sorted(counts.items()):
        out.setdefault(str(day), {})[segment] = int(n)
    return out


def _models(cfg: Config) -> list[ModelInfo]:
    from models.tracking import connect

    client = connect(cfg)
    models = []
    for registered in client.search_registered_models():
        aliases: dict[str, list[str]] = {}
        for alias, version in (registered.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        versions = sorted(
            client.search_model_versions(f"name = '{registered.name}'"),
            key=lambda v: int(v.version),
            reverse=True,
        )
        infos = [
            ModelVersionInfo(
                version=str(v.version),
                aliases=sorted(aliases.get(str(v.version), [])),
                metrics=dict(client.get_run(v.run_id).data.metrics) if v.run_id else {},
                created=f"{np.datetime64(int(v.creation_timestamp), 'ms')}",
            )
            for v in versions
        ]
        champion = next(
            (v for v in versions if "champion" in aliases.get(str(v.version), [])), None
        )
        plots = _plots(client, champion.run_id) if champion and champion.run_id else {}
        models.append(ModelInfo(registered.name, infos, plots))
    return sorted(models, key=lambda m: m.name)


def _plots(client, run_id: str) -> dict[str, str]:
    """The run's logged plots (models/tracking.py logs them under plots/), as base64 PNG."""
    names = [a.path for a in client.list_artifacts(run_id, "plots") if a.path.endswith(".png")]
    if not names:
        return {}
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(client.download_artifacts(run_id, "plots", scratch))
        return {
            Path(n).name: base64.b64encode((local / Path(n).name).read_bytes()).decode()
            for n in names
        }
