"""Run by the Airflow virtual environment's Python (not the project's): loads the DAGs folder
and prints what the tests check, as one JSON document on the last line of stdout.

    python airflow_driver.py describe DAGS_DIR
    python airflow_driver.py test DAGS_DIR DAG_ID YYYY-MM-DD

AIRFLOW_HOME (with a migrated metadata database) comes from the environment.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path


def _bag(dags_dir: str):
    from airflow.dag_processing.dagbag import BundleDagBag

    started = time.perf_counter()
    # A bundle's folder goes on sys.path: the DAG files import their shared _common module.
    bag = BundleDagBag(dag_folder=dags_dir, bundle_path=Path(dags_dir))
    return bag, time.perf_counter() - started


def describe(dags_dir: str) -> dict:
    bag, seconds = _bag(dags_dir)
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "schedule": dag.schedule,
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tasks": {
                t.task_id: {
                    "downstream": sorted(t.downstream_task_ids),
                    "retries": t.retries,
                    "timeout_s": t.execution_timeout.total_seconds()
                    if t.execution_timeout
                    else None,
                    "command": getattr(t, "bash_command", None),
                }
                for t in dag.tasks
            },
        }
    return {"import_errors": dict(bag.import_errors), "parse_seconds": seconds, "dags": dags}


def test(dags_dir: str, dag_id: str, day: str) -> dict:
    bag, _ = _bag(dags_dir)
    if bag.import_errors:
        return {"import_errors": dict(bag.import_errors)}
    logical = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(0), tzinfo=dt.UTC)
    started = time.perf_counter()
    run = bag.get_dag(dag_id).test(logical_date=logical)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return {"state": str(run.state), "tasks": states, "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    result = describe(*rest) if command == "describe" else test(*rest)
    print(json.dumps(result, default=str))
