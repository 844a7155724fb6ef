"""Run history: every job run as a row of ops.job_runs, and `lakehouse runs` to read them.

A job's entry point (lakehouse.jobs.job_main) and the in-process daily batch (lakehouse.daily)
call ``record_run`` once per run, succeeded or not. Rows, quarantined rows and the Delta
versions come from the job's result when it has a ``run_metrics()`` method (``ReportsRun``);
a result without one still gets its status, times and summary line. The row is appended with
delta-rs (no Spark: a run that failed before its session started is recorded too), and a
history that cannot be written is a warning, never the job's failure.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import pyarrow as pa
from rich.console import Console
from rich.table import Table as RichTable

from lakehouse.config import Config
from lakehouse.errors import TableNotFoundError
from lakehouse.run import RunContext

__all__ = [
    "RUN_HISTORY",
    "ReportsRun",
    "RunMetrics",
    "RunStatus",
    "finish_run",
    "job_runs",
    "print_runs",
    "record_run",
]

log = logging.getLogger(__name__)

RunStatus = Literal["succeeded", "failed", "skipped"]
# The run history grows with every run, re-runs included: "a re-run changes no table" is about
# the data tables, all but this one.
RUN_HISTORY = "ops.job_runs"


@dataclass(frozen=True)
class RunMetrics:
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int | None = None
    tables_written: Mapping[str, int] = field(default_factory=dict)  # table -> Delta version


@runtime_checkable
class ReportsRun(Protocol):
    def run_metrics(self) -> RunMetrics: ...


def record_run(
    cfg: Config,
    context: RunContext,
    *,
    ended_at: dt.datetime,
    status: RunStatus,
    result: object | None = None,
    error: str | None = None,
    spark_app_id: str | None = None,
) -> None:
    """Append the run to ops.job_runs; a failure to do so is logged, not raised."""
    try:
        _append(cfg, _row(cfg, context, ended_at, status, result, error, spark_app_id))
    except Exception as err:  # the history must never fail the job it describes
        log.warning("run history: %s not recorded in ops.job_runs (%s)", context.run_id, err)


def finish_run(
    cfg: Config,
    context: RunContext,
    *,
    spark=None,
    status: RunStatus,
    result: object | None = None,
    error: str | None = None,
) -> None:
    """``record_run`` with the end time read now: called where a run ends (the entry point or
    the daily batch's step), as RunContext.start is called where it starts."""
    app_id = spark.sparkContext.applicationId if spark is not None else None
    ended_at = dt.datetime.now(dt.UTC)
    record_run(
        cfg,
        context,
        ended_at=ended_at,
        status=status,
        result=result,
        error=error,
        spark_app_id=app_id,
    )


def _row(cfg, context, ended_at, status, result, error, spark_app_id) -> dict:
    metrics = result.run_metrics() if isinstance(result, ReportsRun) else RunMetrics()
    return {
        "run_id": context.run_id,
        "job": context.job,
        "run_date": context.run_date,
        "env": cfg.env,
        "status": status,
        "started_at": context.started_at,
        "ended_at": ended_at,
        "seconds": (ended_at - context.started_at).total_seconds(),
        "rows_in": metrics.rows_in,
        "rows_out": metrics.rows_out,
        "rows_quarantined": metrics.rows_quarantined,
        "tables_written": list(metrics.tables_written.items()) or None,
        "summary": None if result is None else str(result)[:2000],
        "error": error,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "spark_app_id": spark_app_id,
    }


def _append(cfg: Config, row: dict) -> None:
    from deltalake import write_deltalake

    from lakehouse.delta import Warehouse
    from schemas.quarantine import JOB_RUNS

    table = Warehouse.from_config(cfg).create(JOB_RUNS)
    delta = table.delta()
    schema = pa.schema(delta.schema().to_arrow())
    write_deltalake(delta, pa.Table.from_pylist([row], schema=schema), mode="append")


def job_runs(
    cfg: Config, *, job: str | None = None, run_date: dt.date | None = None, last: int = 20
) -> list[dict]:
    """The newest ``last`` runs (of ``job``, of ``run_date``), newest first."""
    from lakehouse.delta import Warehouse

    filters = [("job", "=", job)] if job else []
    if run_date:
        filters.append(("run_date", "=", run_date))
    try:
        found = Warehouse.from_config(cfg).table("ops.job_runs").to_arrow(filters=filters)
    except TableNotFoundError:
        raise TableNotFoundError(
            "no runs recorded yet: every job run appends to ops.job_runs "
            "(e.g. `lakehouse batch --run-date D`)"
        ) from None
    rows = found.to_pylist()
    for row in rows:
        row["tables_written"] = dict(row["tables_written"] or [])
    return sorted(rows, key=lambda r: r["started_at"], reverse=True)[:last]


def print_runs(rows: list[dict], console: Console) -> None:
    view = RichTable(title="job runs (ops.job_runs), newest first")
    for column in ("started (UTC)", "job", "run date", "status", "s", "in", "out", "quar."):
        view.add_column(
            column, justify="right" if column in ("s", "in", "out", "quar.") else "left"
        )
    view.add_column("tables written / error")
    colour = {"succeeded": "green", "failed": "bold red", "skipped": "yellow"}
    for r in rows:
        written = ", ".join(f"{t} v{v}" for t, v in r["tables_written"].items())
        view.add_row(
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
            r["job"],
            str(r["run_date"]),
            f"[{colour[r['status']]}]{r['status']}[/]",
            f"{r['seconds']:.1f}",
            *(_count(r[k]) for k in ("rows_in", "rows_out", "rows_quarantined")),
            r["error"] or written or "-",
        )
    console.print(view)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
