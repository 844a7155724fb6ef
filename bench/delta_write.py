"""delta_write: Table.write (Spark stages Parquet, delta-rs commits) against a plain Parquet write.

Both sides write the same cached DataFrame, partitioned by ``txn_date``, to a fresh directory.
Only the write is timed: generating the data, creating the empty table and deleting the output
are not. Repetitions alternate the order (baseline first, then candidate first, ...) so neither
side always runs on a colder JVM or a busier disk; the median of each side is reported.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from bench._measure import bench_environ, settle, spark_session
from bench._record import BenchError, Outcome
from lakehouse import Config, Table, TableContract, Warehouse, build_spark, load_config

GOAL_RATIO = 1.3
START_TS = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
DAYS = 30
CUSTOMERS = 100_000
MERCHANTS = 5_000
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK")
CHANNELS = ("web", "app", "pos", "phone")
# The untimed warm-up writes this many rows per side. At 100,000 the first full-size writes of
# both sides still ran ~2x slower than the later ones (8.1 and 6.9 s, then 4.0-4.6 s at
# ce8f684), and three repetitions could not absorb it: the ratio of medians read 1.5 while the
# paired ratios were 0.85, 1.74 and 1.07.
WARM_UP_ROWS = 5_000_000
WHAT = {
    "baseline": "df.write.partitionBy('txn_date').parquet(<fresh dir>)",
    "candidate": "Table.write(df, mode='append') into a freshly created table",
}

TRANSACTIONS = TableContract(
    name="ops.bench_transactions",
    schema=T.StructType(
        [
            T.StructField("txn_id", T.LongType(), nullable=False),
            T.StructField("customer_id", T.LongType(), nullable=False),
            T.StructField("txn_ts", T.TimestampType(), nullable=False),
            T.StructField("txn_date", T.DateType(), nullable=False),
            T.StructField("amount", T.DecimalType(18, 2), nullable=False),
            T.StructField("currency", T.StringType()),
            T.StructField("merchant", T.StringType()),
            T.StructField("channel", T.StringType()),
        ]
    ),
    partition_by=("txn_date",),
    primary_key=("txn_id",),
    owner="platform",
    description="Synthetic transactions written by bench/delta_write.py; dropped after the run",
)


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    home = Path(tempfile.mkdtemp(prefix="bench-delta-write-"))
    try:
        cfg = load_config("local", environ=bench_environ(home))
        report(f"starting Spark ({cfg.spark.master}, driver memory {cfg.spark.driver_memory})")
        spark = build_spark("bench-delta-write", cfg)
        try:
            return _measure(spark, cfg, home, rows=rows, reps=reps, report=report)
        finally:
            spark.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def transactions(spark: SparkSession, rows: int) -> DataFrame:
    """``rows`` transactions; each column is a hash of ``txn_id``, so runs repeat exactly."""

    def pick(column: str, modulus: int) -> Column:
        # A salt per column keeps the columns independent of each other.
        return F.pmod(F.xxhash64(F.col("txn_id"), F.lit(column)), F.lit(modulus))

    def one_of(column: str, values: tuple[str, ...]) -> Column:
        choices = F.array(*(F.lit(v) for v in values))
        return F.element_at(choices, (pick(column, len(values)) + 1).cast("int"))

    txn_ts = F.timestamp_seconds(F.lit(int(START_TS.timestamp())) + pick("txn_ts", DAYS * 86_400))
    return (
        spark.range(rows)
        .select(F.col("id").alias("txn_id"))
        .select(
            "txn_id",
            (pick("customer_id", CUSTOMERS) + 1).alias("customer_id"),
            txn_ts.alias("txn_ts"),
            F.to_date(txn_ts).alias("txn_date"),
            (pick("amount", 1_000_000) / 100).cast(T.DecimalType(18, 2)).alias("amount"),
            one_of("currency", CURRENCIES).alias("currency"),
            F.format_string("merchant_%04d", pick("merchant", MERCHANTS)).alias("merchant"),
            one_of("channel", CHANNELS).alias("channel"),
        )
    )


def _measure(
    spark: SparkSession,
    cfg: Config,
    home: Path,
    *,
    rows: int,
    reps: int,
    report: Callable[[str], None],
) -> Outcome:
    report(f"generating {rows:,} rows")
    txns = transactions(spark, rows).cache()
    cached = txns.count()
    if cached != rows:
        raise BenchError(f"delta_write: generated {cached:,} rows, expected {rows:,}")

    def baseline(rep: int) -> tuple[float, int]:
        target = home / f"parquet-{rep}"
        settle()
        started = time.perf_counter()
        txns.write.mode("overwrite").partitionBy("txn_date").parquet(str(target))
        seconds = time.perf_counter() - started
        files = len(list(target.rglob("*.parquet")))
        shutil.rmtree(target)
        return seconds, files

    def candidate(rep: int) -> tuple[float, int]:
        root = home / f"warehouse-{rep}"
        table = Warehouse(
            str(root), max_records_per_file=cfg.warehouse.max_records_per_file
        ).create(TRANSACTIONS)
        settle()
        started = time.perf_counter()
        result = table.write(txns, mode="append")
        seconds = time.perf_counter() - started
        if rep == 0:
            _verify(table, rows)
        shutil.rmtree(root)
        return seconds, result.files_added

    sides = {"baseline": baseline, "candidate": candidate}
    report("warming up (an untimed write of each side)")
    _warm_up(spark, home, rows=min(rows, WARM_UP_ROWS))
    seconds: dict[str, list[float]] = {side: [] for side in sides}
    files: dict[str, int] = {}
    load_before = os.getloadavg()[0]
    for rep in range(reps):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for side in order:
            report(f"rep {rep + 1}/{reps}: {side} writing")
            took, files[side] = sides[side](rep)
            seconds[side].append(took)
            report(f"rep {rep + 1}/{reps}: {side} {took:.2f} s, {files[side]} files")
    txns.unpersist()
    # Other processes on the machine show up here; a load well above the core count means
    # the figures measured contention, not the code.
    load = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    return _outcome(spark, cfg, rows=rows, seconds=seconds, files=files, load=load)


def _warm_up(spark: SparkSession, home: Path, *, rows: int) -> None:
    # The first write of a JVM pays for class loading and code generation; without this the
    # side that happens to go first in the first repetition looks slower than it is.
    sample = transactions(spark, rows)
    sample.write.partitionBy("txn_date").parquet(str(home / "warm-up" / "parquet"))
    Warehouse(str(home / "warm-up" / "warehouse")).create(TRANSACTIONS).write(sample)
    shutil.rmtree(home / "warm-up")


def _verify(table: Table, rows: int) -> None:
    from_log = table.count()
    from_files = table.to_arrow_dataset().count_rows()
    if from_log != rows or from_files != rows:
        raise BenchError(
            f"delta_write: {table.name} holds {from_log:,} rows by the log's statistics and "
            f"{from_files:,} by reading the files, expected {rows:,}; Table.write lost or "
            "duplicated rows, the figures are void"
        )


def _outcome(
    spark: SparkSession,
    cfg: Config,
    *,
    rows: int,
    seconds: dict[str, list[float]],
    files: dict[str, int],
    load: dict[str, float],
) -> Outcome:
    medians = {side: statistics.median(took) for side, took in seconds.items()}
    sides = {
        side: {
            "what": WHAT[side],
            "seconds": [round(s, 3) for s in took],
            "median_s": round(medians[side], 3),
            "rows_per_s": round(rows / medians[side]),
            "files": files[side],
        }
        for side, took in seconds.items()
    }
    ratio = round(medians["candidate"] / medians["baseline"], 3)
    # The two writes of one repetition run back to back, under the same outside load.
    paired = [c / b for c, b in zip(seconds["candidate"], seconds["baseline"], strict=True)]
    details = {
        "rows": rows,
        "repetitions": len(seconds["baseline"]),
        **sides,
        "delta_write_ratio_vs_parquet": ratio,
        "paired_ratios": [round(r, 3) for r in paired],
        "paired_ratio_median": round(statistics.median(paired), 3),
        "goal_ratio": GOAL_RATIO,
        "meets_goal": ratio <= GOAL_RATIO,
        "load_average_1m": load,
        "spark": spark_session(spark, cfg, max_records_per_file=cfg.warehouse.max_records_per_file),
    }
    figures = {
        "delta_write_ratio_vs_parquet": ratio,
        "delta_write_rows_per_s": sides["candidate"]["rows_per_s"],
    }
    return Outcome(details=details, figures=figures)
