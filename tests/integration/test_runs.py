"""Run history: a job run through its entry point leaves a row in ops.job_runs, succeeded or
failed (read with delta-rs), and `lakehouse runs` lists them; history that cannot be written
does not fail the job."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs import ingest_csv
from lakehouse import load_config
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.run import RunContext
from lakehouse.runs import record_run

pytestmark = pytest.mark.integration

SPEC = GeneratorSpec(customers=40, days=1, seed=8, defect_rate=0.05)


@pytest.fixture
def home_env(test_environ, tmp_path, monkeypatch):
    env = {**test_environ, "LAKEHOUSE_HOME": str(tmp_path)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env, load_config("local", environ=env)


def history(cfg) -> list[dict]:
    rows = DeltaTable(str(cfg.home / "warehouse" / "ops" / "job_runs")).to_pyarrow_table()
    return sorted(rows.to_pylist(), key=lambda r: r["started_at"])


def test_a_succeeded_and_a_failed_run_are_recorded_with_rows_and_error(spark, home_env):
    env, cfg = home_env
    generate(SPEC, landing=cfg.path("landing"), truth=cfg.path("truth"))
    day = SPEC.start_date
    assert ingest_csv.main(["--source", "transactions", "--run-date", day.isoformat()]) == 0
    missing = day + dt.timedelta(days=400)
    assert ingest_csv.main(["--source", "transactions", "--run-date", missing.isoformat()]) == 2

    done, failed = history(cfg)
    assert (done["job"], done["run_date"], done["status"]) == ("ingest_csv", day, "succeeded")
    assert done["rows_in"] == done["rows_out"] + done["rows_quarantined"] > 0
    assert done["spark_app_id"] == spark.sparkContext.applicationId
    assert done["ended_at"] >= done["started_at"]
    assert "IngestResult(source='transactions'" in done["summary"]
    assert (failed["status"], failed["run_date"]) == ("failed", missing)
    assert "was the drop delivered" in failed["error"]
    assert failed["rows_in"] is None

    shown = subprocess.run(
        [str(Path(sys.executable).with_name("lakehouse")), "runs", "--json", "--last", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    (newest,) = json.loads(shown.stdout)
    assert (newest["run_id"], newest["status"]) == (failed["run_id"], "failed")


def test_history_that_cannot_be_written_is_a_warning_not_a_failure(home_env, tmp_path, caplog):
    _, cfg = home_env
    (tmp_path / "warehouse").write_text("not a directory")  # the warehouse root is unusable
    context = RunContext.start("ingest_csv", dt.date(2024, 1, 1))
    record_run(cfg, context, ended_at=context.started_at, status="succeeded")  # no raise
    assert "not recorded in ops.job_runs" in caplog.text
