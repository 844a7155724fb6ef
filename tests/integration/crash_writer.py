"""A writer process for the crash tests: writes one day into silver.events with an app
transaction, optionally killing itself with SIGKILL at a chosen point.

    python crash_writer.py WAREHOUSE DAY ROWS [--die-before-commit | --slow-task]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import time

from pyspark.sql import functions as F

from lakehouse import AppTransaction, Warehouse, build_spark, load_config
from lakehouse.delta import _log


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument("day", type=dt.date.fromisoformat)
    parser.add_argument("rows", type=int)
    parser.add_argument("--die-before-commit", action="store_true")
    parser.add_argument("--slow-task", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from integration.helpers import EVENTS

    cfg = load_config("local", environ=os.environ)
    spark = build_spark("crash-writer", cfg)
    table = Warehouse(args.warehouse).create(EVENTS)
    day = args.day.isoformat()
    rows = (
        spark.range(args.rows)
        .select(
            F.format_string(f"{day}-%08d", "id").alias("event_id"),
            F.lit(args.day).alias("event_date"),
            (F.col("id") % 1000).cast("decimal(18,2)").alias("amount"),
            F.lit("new").alias("status"),
        )
        .repartition(4)
    )
    if args.slow_task:
        rows = rows.mapInPandas(_slow_second_partition, rows.schema)
    if args.die_before_commit:
        _log.commit = _die  # the files are published, the log is not yet written
    result = table.write(
        rows,
        mode="replace_where",
        predicate=f"event_date = DATE'{day}'",
        txn=AppTransaction(f"crash-writer.{day}", 1),
    )
    print(f"RESULT skipped={result.skipped} rows={result.rows_written}", flush=True)
    return 0


def _slow_second_partition(batches):
    from pyspark import TaskContext

    if TaskContext.get().partitionId() == 1:
        print("SLOW TASK STARTED", flush=True)
        time.sleep(600)
    yield from batches


def _die(*args, **kwargs):
    print("DYING BEFORE COMMIT", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    raise SystemExit(main())
