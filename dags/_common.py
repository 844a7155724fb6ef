"""What the DAGs share: each task runs the `lakehouse` command engineers run, with the logical
date as --run-date. Cheap to import: no pyspark, no lakehouse, no database access at parse time.

Where the command is: the Airflow Variable ``lakehouse_bin`` (e.g. the project venv's
``/opt/lakehouse/.venv/bin/lakehouse``; AIRFLOW_VAR_LAKEHOUSE_BIN sets it from the environment),
else ``lakehouse`` on the worker's PATH. Tasks inherit the worker's environment (LAKEHOUSE_ENV,
LAKEHOUSE_HOME, LAKEHOUSE__* overrides and secrets): configuration stays in conf/<env>.yaml.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.bash import BashOperator

LAKEHOUSE = "{{ var.value.get('lakehouse_bin', 'lakehouse') }}"
# The jobs' exit code when the model they need has no registered version (lakehouse.jobs):
# the task is skipped, not failed (e.g. daily scoring before the first weekly training).
EXIT_NO_MODEL = 3

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


def lakehouse_task(
    task_id: str, command: str, *, timeout_minutes: int, skip_without_model: bool = False
) -> BashOperator:
    """A task running ``lakehouse <command>``; ``{{ ds }}`` in it is the logical date."""
    return BashOperator(
        task_id=task_id,
        bash_command=f"{LAKEHOUSE} {command}",
        append_env=True,
        execution_timeout=dt.timedelta(minutes=timeout_minutes),
        skip_on_exit_code=EXIT_NO_MODEL if skip_without_model else None,
    )
