"""Read-only views of the ops tables for the command line: quality gate results.

Read with delta-rs, not Spark: showing a few hundred rows should take a moment, not a JVM.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table as RichTable

from lakehouse.config import Config
from lakehouse.delta import Warehouse
from lakehouse.errors import TableNotFoundError

__all__ = ["print_quality_results", "quality_results"]


def quality_results(
    cfg: Config, *, table: str | None = None, run_date: dt.date | None = None, last: int = 7
) -> list[dict]:
    """ops.quality_results rows, newest run date first: for ``run_date`` if given, else for
    the ``last`` run dates that have results; optionally for one table."""
    filters = [("table_name", "=", table)] if table else []
    if run_date:
        filters.append(("run_date", "=", run_date))
    try:
        results = Warehouse.from_config(cfg).table("ops.quality_results").to_arrow(filters=filters)
    except TableNotFoundError:
        raise TableNotFoundError(
            "no quality results yet: ops.quality_results is written by the silver jobs' gates "
            "(e.g. `lakehouse silver transactions --run-date D`)"
        ) from None
    if not run_date and results.num_rows:
        dates = sorted(set(results.column("run_date").to_pylist()), reverse=True)[:last]
        results = results.filter(pc.is_in(results.column("run_date"), value_set=pa.array(dates)))
    rows = results.to_pylist()
    return sorted(rows, key=lambda r: (r["run_date"], r["table_name"], r["rule"]), reverse=True)


def print_quality_results(rows: list[dict], console: Console) -> None:
    view = RichTable(title="quality gate results (ops.quality_results)")
    for column in ("run date", "table", "rule", "reason", "failed", "checked", "gate"):
        view.add_column(column, justify="right" if column in ("failed", "checked") else "left")
    for r in rows:
        verdict = "[green]passed[/]" if r["gate_passed"] else "[bold red]STOPPED[/]"
        rate = r["run_failed_rows"] / r["checked_rows"] if r["checked_rows"] else 0.0
        view.add_row(
            r["run_date"].isoformat(),
            r["table_name"],
            r["rule"],
            r["reason"],
            f"[red]{r['failed_rows']:,}[/]" if r["failed_rows"] else "0",
            f"{r['checked_rows']:,}",
            f"{verdict} {rate:.1%} of rows failed (limit {r['max_failure_rate']:.1%})",
        )
    console.print(view)
    if not rows:
        console.print("no results for that selection")
