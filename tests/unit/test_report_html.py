"""The report's HTML from small inputs: sections, escaping, empty sections, numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.build_silver_transactions import SilverResult
from lakehouse._report_html import render
from lakehouse.report import ModelInfo, ModelVersionInfo, ReportData
from lakehouse.runs import ReportsRun, RunMetrics

pytestmark = pytest.mark.unit

T0 = dt.datetime(2024, 5, 2, 2, 0, tzinfo=dt.UTC)


def run(job: str, status: str, *, minute: int, error: str | None = None) -> dict:
    return {
        "started_at": T0 + dt.timedelta(minutes=minute),
        "ended_at": T0 + dt.timedelta(minutes=minute, seconds=30),
        "seconds": 30.0,
        "job": job,
        "run_date": dt.date(2024, 5, 1),
        "status": status,
        "rows_in": 10,
        "rows_out": 9,
        "rows_quarantined": 1,
        "tables_written": {"silver.transactions": 4},
        "error": error,
    }


def empty(**changes) -> ReportData:
    base = ReportData("env test", [], [], [], {}, {})
    return ReportData(**{**base.__dict__, **changes})


def test_every_section_says_when_it_has_no_data():
    html = render(empty())
    for anchor in ("runs", "quality", "models", "scores"):
        assert f"<section id='{anchor}'>" in html
    assert html.count("class='empty'") == 4
    assert "<script" not in html
    assert "http" not in html.split("</style>")[1]


def test_runs_are_counted_by_status_and_values_are_escaped():
    runs = [
        run("ingest_csv", "succeeded", minute=0),
        run("build_silver_transactions", "failed", minute=1, error="<b>gate</b> stopped"),
        run("score", "skipped", minute=2),
    ]
    html = render(empty(runs=runs))
    assert "data-status='succeeded' data-count='1'" in html
    assert "data-status='failed' data-count='1'" in html
    assert "&lt;b&gt;gate&lt;/b&gt; stopped" in html
    assert "<b>gate</b>" not in html
    assert html.count("<rect") == 3  # one timeline bar per run


def test_models_show_versions_aliases_metrics_and_plots():
    versions = [
        ModelVersionInfo("2", ["champion"], {"test_auc": 0.91234}, "2024-05-02T03:00:00"),
        ModelVersionInfo("1", [], {"test_auc": 0.9}, "2024-04-25T03:00:00"),
    ]
    html = render(empty(models=[ModelInfo("churn", versions, {"roc.png": "iVBORw0KGgo="})]))
    assert "data-model='churn'" in html
    assert "0.9123" in html
    assert "champion" in html
    assert "src='data:image/png;base64,iVBORw0KGgo='" in html


def test_score_distributions_draw_one_bar_per_bin_and_segment():
    html = render(
        empty(
            churn_histograms={"2024-05-01": [5, 0, 3, 0, 0, 0, 0, 0, 0, 1]},
            segments={"2024-05-01": {"family": 7, "young": 2}},
        )
    )
    assert html.count("data-churn-count=") == 10
    assert "data-segments-count='7'" in html
    assert "data-segments-count='2'" in html


def test_job_results_report_their_rows_and_versions():
    result = SilverResult(
        run_date=dt.date(2024, 5, 1),
        rows_in=10,
        quarantined_rows=1,
        rows_merged=9,
        version=4,
        rules=[],
    )
    assert isinstance(result, ReportsRun)
    assert result.run_metrics() == RunMetrics(
        rows_in=10, rows_out=9, rows_quarantined=1, tables_written={"silver.transactions": 4}
    )
