"""streaming_watchdog: every 5 minutes, each streaming app is checked and started if it is not
running (it resumes from its checkpoint: nothing lost, nothing written twice); the task fails,
and so alerts, when the app's lag over all partitions is above --max-lag events.
"""

from __future__ import annotations

import datetime as dt

from _common import lakehouse_task
from airflow.sdk import DAG

APPS = ("ingest_transactions", "score_transactions")
MAX_LAG_EVENTS = 1_000_000

with DAG(
    dag_id="streaming_watchdog",
    description="restart a dead streaming app; fail when one falls too far behind",
    schedule="*/5 * * * *",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 0},
    tags=["lakehouse", "streaming"],
    doc_md=__doc__,
) as dag:
    for app in APPS:
        lakehouse_task(
            f"ensure_{app}",
            f"stream ensure {app} --max-lag {MAX_LAG_EVENTS}",
            timeout_minutes=4,
        )
