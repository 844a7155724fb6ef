"""The Airflow DAGs in dags/, loaded by Airflow itself from its own virtual environment
(.venv-airflow, `make airflow`) through airflow_driver.py: they import without errors, have the
structure the runbook describes, and `dag.test()` runs daily_batch end to end against the real
local services: each task a `lakehouse` process, as a worker runs it.

Order of the end-to-end runs: the first date, the first date again while the sources are as
they were that day (a retry or a cleared run: every table's row count unchanged), then the next
date. Tables are read with delta-rs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse import load_config
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.generate.command import load_into_mysql
from lakehouse.runs import RUN_HISTORY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = REPO / ".venv-airflow" / "bin"
DAGS = REPO / "dags"
DRIVER = Path(__file__).with_name("airflow_driver.py")
START = dt.date(2024, 3, 4)
SPEC = GeneratorSpec(customers=200, days=2, seed=17, start_date=START, defect_rate=0.03)
BATCH_STAGES = ["ingest", "silver", "gold", "features"]


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """A private AIRFLOW_HOME with a migrated sqlite metadata database."""
    if not (AIRFLOW_BIN / "python").exists():
        pytest.fail(f"no Airflow virtual environment at {AIRFLOW_BIN.parent}: run `make airflow`")
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    }
    migrated = subprocess.run(
        [str(AIRFLOW_BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return env


def airflow(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [str(AIRFLOW_BIN / "python"), str(DRIVER), args[0], str(DAGS), *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_dags_import_without_errors(airflow_env):
    found = airflow(airflow_env, "describe")
    assert found["import_errors"] == {}
    assert set(found["dags"]) == {"daily_batch", "weekly_training", "streaming_watchdog"}
    print(f"DagBag parse of dags/: {found['parse_seconds']:.3f} s")  # reported, not asserted


def test_the_dags_have_the_documented_structure(airflow_env):
    dags = airflow(airflow_env, "describe")["dags"]
    daily = dags["daily_batch"]
    assert (daily["schedule"], daily["catchup"], daily["max_active_runs"]) == (
        "0 2 * * *",
        False,
        1,
    )
    chain = [*BATCH_STAGES, "score_churn"]
    assert {t: v["downstream"] for t, v in daily["tasks"].items()} == {
        task: ([after] if after else [])
        for task, after in zip(chain, [*chain[1:], None], strict=True)
    }
    for stage in BATCH_STAGES:
        assert daily["tasks"][stage]["command"].endswith(
            f"batch --run-date {{{{ ds }}}} --stage {stage}"
        )
    weekly = dags["weekly_training"]
    assert weekly["schedule"] == "0 4 * * 0"
    assert weekly["tasks"]["train_churn"]["downstream"] == ["train_anomaly"]
    assert "--promote" not in weekly["tasks"]["train_churn"]["command"]  # churn has its gate
    watchdog = dags["streaming_watchdog"]
    assert watchdog["schedule"] == "*/5 * * * *"
    assert set(watchdog["tasks"]) == {"ensure_ingest_transactions", "ensure_score_transactions"}
    for dag in dags.values():
        for task in dag["tasks"].values():
            assert task["timeout_s"], task
            assert "{{ var.value.get('lakehouse_bin', 'lakehouse') }}" in task["command"]
    assert all(
        t["retries"] >= 1
        for d in ("daily_batch", "weekly_training")
        for t in dags[d]["tasks"].values()
    )


def row_counts(home: Path) -> dict[str, int]:
    """Every data table's row count (the run history, which grows with each run, aside)."""
    counts = {
        f"{log.parent.parent.name}.{log.parent.name}": DeltaTable(str(log.parent))
        .to_pyarrow_dataset()
        .count_rows()
        for log in sorted(home.glob("warehouse/*/*/_delta_log"))
    }
    counts.pop(RUN_HISTORY, None)
    return counts


@pytest.mark.timeout(2700)  # three runs, each bounded by its own 900 s
def test_daily_batch_runs_two_dates_and_a_rerun_changes_nothing(
    airflow_env, test_environ, empty_shop_db, tmp_path
):
    home = tmp_path / "home"
    data = generate(SPEC, landing=home / "landing", truth=home / "truth")
    lakehouse_env = {**test_environ, "LAKEHOUSE_HOME": str(home)}
    cfg = load_config("local", environ=lakehouse_env)
    env = {
        **airflow_env,
        **lakehouse_env,
        "AIRFLOW_VAR_LAKEHOUSE_BIN": str(Path(sys.executable).with_name("lakehouse")),
    }
    first, second = START, START + dt.timedelta(days=1)

    load_into_mysql(data, cfg, up_to=first)  # the shop's database as it stands that evening
    run = airflow(env, "test", "daily_batch", first.isoformat())
    assert run["state"] == "success", run
    assert {t: run["tasks"][t] for t in BATCH_STAGES} == dict.fromkeys(BATCH_STAGES, "success")
    assert run["tasks"]["score_churn"] == "skipped"  # no churn champion registered yet
    after_first = row_counts(home)
    assert after_first["silver.transactions"] > 0
    assert after_first["features.customer_spend_online"] > 0

    again = airflow(env, "test", "daily_batch", first.isoformat())
    assert again["state"] == "success", again
    assert row_counts(home) == after_first

    load_into_mysql(data, cfg, up_to=second)
    later = airflow(env, "test", "daily_batch", second.isoformat())
    assert later["state"] == "success", later
    after_second = row_counts(home)
    assert after_second["silver.transactions"] > after_first["silver.transactions"]
    assert after_second["bronze.transactions"] > after_first["bronze.transactions"]
    took = ", ".join(f"{r['seconds']:.0f} s" for r in (run, again, later))
    print(f"daily_batch dag.test: {took}")

    # Every job of the three runs is in the run history, as its process recorded it.
    runs = DeltaTable(str(home / "warehouse" / "ops" / "job_runs")).to_pandas()
    per_run = (
        2 + 4 + 1 + 1 + 4 + 1 + 1
    )  # CSV, MySQL pulls, silver (3 + 4 shop tables), gold, features
    assert len(runs) == 3 * (per_run + 1)
    assert (runs["status"] == "skipped").sum() == 3  # score, without a champion
    assert set(runs.loc[runs["status"] == "skipped", "job"]) == {"score"}
    assert (runs["status"] == "succeeded").sum() == 3 * per_run
    silver = runs[runs["job"] == "build_silver_transactions"]
    assert (silver["rows_in"] > 0).all()
    assert all(dict(t)["silver.transactions"] >= 0 for t in silver["tables_written"])
    check_report(env, tmp_path, succeeded=3 * per_run, skipped=3)


def check_report(env: dict[str, str], tmp_path: Path, *, succeeded: int, skipped: int) -> None:
    """`lakehouse report`, rendered by headless Chromium (Debian's), shows what the runs did."""
    import shutil

    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run scripts/install-system-packages.sh"
    out = tmp_path / "report.html"
    lakehouse = Path(sys.executable).with_name("lakehouse")
    made = subprocess.run(
        [str(lakehouse), "report", "--out", str(out)], env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr[-2000:]
    profile = tmp_path / "chromium-profile"
    rendered = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = rendered.stdout
    assert '<section id="runs">' in dom, rendered.stderr[-2000:]
    assert f'data-status="succeeded" data-count="{succeeded}"' in dom
    assert f'data-status="skipped" data-count="{skipped}"' in dom
    assert 'data-status="failed" data-count="0"' in dom
    assert "data-failed=" in dom  # the quality gates' results per rule
    assert "No model registered yet" in dom
    assert "No scores yet" in dom
