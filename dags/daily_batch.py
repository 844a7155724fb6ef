"""daily_batch: one logical date of the batch path, a task per stage, in dependency order.

    ingest   CSV drops (customers, transactions) and the MySQL pulls -> bronze
    silver   quality gates -> silver (failing rows quarantined; a gate over its limit fails
             the task and nothing of that table is written)
    gold     silver -> the gold aggregates
    features every feature view, offline (per date) and online (latest)
    score    the churn champion scores the date into gold.churn_scores, exported as Parquet and
             published to S3 and Redshift (skipped while no champion is registered)

Each stage is one `lakehouse` process (one Spark session) running the same jobs as `lakehouse
batch --run-date D` and `spark-submit jobs/...`; every job replaces or merges only its date,
so a retry or a cleared run leaves the tables as one run would. Runs go in date order
(max_active_runs=1): silver customers is a slowly changing dimension built day after day.
"""

from __future__ import annotations

import datetime as dt

from _common import DEFAULT_ARGS, lakehouse_task
from airflow.sdk import DAG

STAGE_TIMEOUT_MINUTES = {"ingest": 60, "silver": 90, "gold": 30, "features": 60}

with DAG(
    dag_id="daily_batch",
    description="CSV + MySQL -> bronze -> quality gates -> silver -> gold -> features -> scores",
    schedule="0 2 * * *",  # the drops of day D are complete by 02:00 UTC on D + 1
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=dt.timedelta(hours=6),
    tags=["lakehouse", "batch"],
    doc_md=__doc__,
) as dag:
    stages = [
        lakehouse_task(
            stage,
            f"batch --run-date {{{{ ds }}}} --stage {stage}",
            timeout_minutes=minutes,
        )
        for stage, minutes in STAGE_TIMEOUT_MINUTES.items()
    ]
    score = lakehouse_task(
        "score_churn",
        "score --model churn --run-date {{ ds }} --publish",
        timeout_minutes=60,
        skip_without_model=True,
    )
    for upstream, downstream in zip(stages, [*stages[1:], score], strict=True):
        upstream >> downstream
