"""Pull the rows of a MySQL table changed since the last pull into bronze.

    lakehouse ingest mysql --table orders --run-date 2024-01-05 [--full]
    spark-submit jobs/ingest_mysql.py --table orders --run-date 2024-01-05

The window is (low, high] on updated_at: high is the end of the run date, low the previous run
date's high (none on the first pull or with --full). Windows are kept per run date in
ops.watermarks (a Delta table). A date already pulled is not pulled again (the live source no
longer holds the rows it held then); --full reloads it on purpose. Spark JDBC splits the
window into parallel range queries on updated_at.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.delta import Warehouse
from lakehouse.errors import SourceUnavailableError
from lakehouse.io.mysql import jdbc_options
from lakehouse.run import RunContext
from lakehouse.runs import RunMetrics

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class PullResult:
    table: str
    run_date: dt.date
    low: dt.datetime | None
    high: dt.datetime
    rows: int
    skipped: bool = False

    def run_metrics(self) -> RunMetrics:
        return RunMetrics(rows_in=self.rows, rows_out=self.rows)


def pull_window(
    earlier: list[tuple[dt.date, dt.datetime | None, dt.datetime]],
    *,
    run_date: dt.date,
    full: bool,
) -> tuple[dt.datetime | None, dt.datetime]:
    """(low, high] for ``run_date`` from the windows already pulled (run date, low, high)."""
    high = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    if full:
        return None, high
    before = [h for day, _, h in earlier if day < run_date]
    return (max(before) if before else None), high


def read_window(
    spark: SparkSession,
    cfg: Config,
    contract: TableContract,
    *,
    low: dt.datetime | None,
    high: dt.datetime,
) -> DataFrame:
    """The source rows with updated_at in (low, high], typed by the contract, read in
    ``mysql.read_partitions`` parallel range queries."""
    table = contract.properties["lakehouse.sourceTable"]
    source = [f.name for f in contract.schema.fields if not f.name.startswith("_")]
    start = low or EPOCH
    # Identifiers come from the contract, values are timestamps we format: nothing from users.
    query = (
        f"(SELECT {', '.join(f'`{c}`' for c in source)} FROM `{table}` "
        f"WHERE updated_at > '{_sql_ts(start)}' AND updated_at <= '{_sql_ts(high)}') AS pulled"
    )
    typed = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}"
        for f in contract.schema.fields
        if f.name in source
    )
    reader = spark.read.format("jdbc").options(**jdbc_options(cfg))
    return (
        reader.option("dbtable", query)
        .option("customSchema", typed)
        .option("partitionColumn", "updated_at")
        .option("lowerBound", _sql_ts(start))
        .option("upperBound", _sql_ts(high))
        .option("numPartitions", cfg.mysql.read_partitions)
        .load()
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # Spark hands back session-time-zone (UTC) timestamps without tzinfo.
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _sql_ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def to_bronze(pulled: DataFrame, contract: TableContract, context: RunContext) -> DataFrame:
    return pulled.select(
        *(c for c in contract.column_names if not c.startswith("_")),
        F.lit(context.run_id).alias("_run_id"),
        F.lit(context.run_date).alias("_run_date"),
    )


def run(
    spark: SparkSession, cfg: Config, *, table: str, context: RunContext, full: bool = False
) -> PullResult:
    from schemas.shop import SHOP_TABLES, WATERMARKS

    if table not in SHOP_TABLES:
        raise SourceUnavailableError(f"unknown MySQL table {table!r}; known: {sorted(SHOP_TABLES)}")
    contract = SHOP_TABLES[table]
    warehouse = Warehouse.from_config(cfg)
    marks = warehouse.create(WATERMARKS)
    earlier = [
        (r["run_date"], _utc(r["low"]), _utc(r["high"]), r["rows"])
        for r in marks.to_spark(spark, filters=[("source_table", "=", table)]).collect()
    ]
    done = [(low, high, rows) for day, low, high, rows in earlier if day == context.run_date]
    if done and not full:
        # The source is live: pulling this window again now would see today's rows, not the
        # ones the first run saw, and replacing the partition would lose versions. Keep it.
        low, high, rows = done[0]
        return PullResult(table, context.run_date, low, high, rows, skipped=True)
    low, high = pull_window(
        [(day, low, high) for day, low, high, _ in earlier], run_date=context.run_date, full=full
    )
    pulled = to_bronze(read_window(spark, cfg, contract, low=low, high=high), contract, context)
    written = warehouse.create(contract).write(
        pulled, mode="replace_where", predicate=f"_run_date = DATE'{context.run_date.isoformat()}'"
    )
    record = spark.createDataFrame(
        [(table, context.run_date, low, high, written.rows_written, context.run_id)],
        WATERMARKS.schema,
    )
    marks.merge(record)  # last: a crash before it leaves the window to be pulled again
    return PullResult(table, context.run_date, low, high, written.rows_written)


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(prog="ingest_mysql", description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", required=True, help="orders, order_items, products or accounts")
    parser.add_argument("--full", action="store_true", help="pull every row, not just changes")
    return job_main(
        parser,
        argv,
        job="ingest_mysql",
        body=lambda spark, cfg, args, context: run(
            spark, cfg, table=args.table, context=context, full=args.full
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
